// Helpers the blob store tests share, unit and real-server alike: listed keys, scoped environment
// variables, and concurrent writes with the clean-up of a test bucket.
#pragma once

#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "optimus/blob/blob_store.h"
#include "optimus/testing/testing.h"

namespace optimus::blob {

inline std::vector<std::string> Keys(const std::vector<ObjectInfo>& objects) {
  std::vector<std::string> out;
  for (const auto& o : objects) out.push_back(o.key);
  return out;
}

// Sets an environment variable for the life of the object, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value == nullptr) {
      unsetenv(name);
    } else {
      setenv(name, value, 1);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// "0000", "0001", ...: keys that list in the order of their numbers.
inline std::string NumberedKey(int i) {
  char key[32];
  std::snprintf(key, sizeof(key), "%04d", i);
  return key;
}

// Puts NumberedKey(i), with itself as content, for every i below `objects` from `threads`
// threads at once through the one store; returns how many puts failed.
inline int PutNumberedConcurrently(BlobStore& store, int objects, int threads) {
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = t; i < objects; i += threads) {
        std::string key = NumberedKey(i);
        if (!store.Put(key, key).ok()) ++failures;
      }
    });
  }
  for (auto& worker : workers) worker.join();
  return failures.load();
}

// From `threads` threads at once through the one store, each puts and reads back `per_thread`
// keys of its own ("t<thread>/<i>", content "<key>!"); returns how many calls failed or read
// something else.
inline int PutAndGetConcurrently(BlobStore& store, int threads, int per_thread) {
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        std::string key = "t" + std::to_string(t) + "/" + std::to_string(i);
        if (!store.Put(key, key + "!").ok()) ++failures;
        auto got = store.Get(key);
        if (!got.ok() || *got != key + "!") ++failures;
      }
    });
  }
  for (auto& worker : workers) worker.join();
  return failures.load();
}

// Deletes every object a real-server test left in its bucket.
inline void DeleteAllObjects(BlobStore& store) {
  auto left = store.List("");
  ASSERT_TRUE(left.ok()) << left.status();
  for (const auto& object : *left) EXPECT_TRUE(store.Delete(object.key).ok()) << object.key;
}

}  // namespace optimus::blob
