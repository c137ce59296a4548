#include "optimus/spec/stored_spec.h"

#include <array>
#include <functional>
#include <mutex>
#include <unordered_map>

#include "optimus/spec/loaders.h"

namespace optimus::spec {
namespace {

// Sharded so that the compiler's and the resolver's worker threads seldom wait for each other;
// each shard keeps two generations: a hit in the older one moves the entry to the newer, and
// when the newer is full the older is dropped (an approximate LRU without per-entry links).
class StoredSpecCache {
 public:
  static constexpr size_t kShards = 16;
  static constexpr size_t kGenerationBytes = (64u << 20) / kShards / 2;

  std::shared_ptr<const JobSpec> Find(const std::string& key, size_t hash) {
    Shard& s = shards_[hash % kShards];
    std::lock_guard lock(s.mu);
    if (auto it = s.current.find(key); it != s.current.end()) return it->second;
    auto old = s.previous.find(key);
    if (old == s.previous.end()) return nullptr;
    std::shared_ptr<const JobSpec> spec = old->second;
    s.previous.erase(old);
    InsertLocked(s, key, spec);
    return spec;
  }

  void Insert(const std::string& key, size_t hash, std::shared_ptr<const JobSpec> spec) {
    Shard& s = shards_[hash % kShards];
    std::lock_guard lock(s.mu);
    if (s.current.count(key) == 0) InsertLocked(s, key, std::move(spec));
  }

  size_t size() {
    size_t n = 0;
    for (Shard& s : shards_) {
      std::lock_guard lock(s.mu);
      n += s.current.size() + s.previous.size();
    }
    return n;
  }

 private:
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, std::shared_ptr<const JobSpec>> current, previous;
    size_t current_bytes = 0;
  };

  static void InsertLocked(Shard& s, const std::string& key, std::shared_ptr<const JobSpec> spec) {
    if (s.current_bytes + key.size() > kGenerationBytes) {
      s.previous = std::move(s.current);
      s.current = {};
      s.current_bytes = 0;
    }
    s.current_bytes += key.size();
    s.current.emplace(key, std::move(spec));
  }

  std::array<Shard, kShards> shards_;
};

StoredSpecCache& Cache() {
  static auto* cache = new StoredSpecCache();  // never destroyed: used until the process ends
  return *cache;
}

}  // namespace

std::shared_ptr<const JobSpec> LoadStoredJobSpec(const std::string& path,
                                                 const std::string& content,
                                                 Diagnostics& diagnostics) {
  std::string key;
  key.reserve(path.size() + 1 + content.size());
  key.append(path).push_back('\0');
  key.append(content);
  const size_t hash = std::hash<std::string>{}(key);
  if (auto cached = Cache().Find(key, hash)) return cached;
  Diagnostics d;
  auto job = LoadJobSpec(path, content, d);
  for (const Diagnostic& item : d.items()) diagnostics.Add(item);
  if (!job || d.HasErrors()) return nullptr;
  // Where each field sits in YAML the CLI wrote is of no use to anyone, and the map of it was
  // more than half of a parsed spec (145 of 230 MB for 10,000 cached jobs); diagnostics of a
  // stored spec name the file and the field.
  job->locations = {};
  auto spec = std::make_shared<const JobSpec>(*std::move(job));
  Cache().Insert(key, hash, spec);
  return spec;
}

size_t StoredJobSpecsCached() { return Cache().size(); }

}  // namespace optimus::spec
