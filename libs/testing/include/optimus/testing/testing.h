// Shared helpers for the project's tests: temp dirs and access to the real servers of a tier.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace optimus::testing {

// A directory removed with everything in it when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string File(std::string_view name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The value of an environment variable that tools/dev exports for a real server
// (OPTIMUS_TEST_PG_DSN, OPTIMUS_TEST_KAFKA_BROKERS, OPTIMUS_TEST_S3_ENDPOINT, ...), or "".
std::string InfraEnv(const char* name);

// True when tools/test runs the suite: then a missing server is a failure, never a skip.
bool InfraRequired();

// A short random suffix for names that must not collide between runs (topics, buckets, schemas).
std::string UniqueSuffix();

}  // namespace optimus::testing

// Skips the test when the server's variable is unset on a developer's machine; fails it under
// tools/test (OPTIMUS_REQUIRE_INFRA=1), so CI can never pass by skipping a tier.
#define OPTIMUS_REQUIRE_INFRA(var)                                                    \
  do {                                                                                \
    if (::optimus::testing::InfraEnv(var).empty()) {                                  \
      if (::optimus::testing::InfraRequired()) {                                      \
        FAIL() << var << " is not set; start the servers with tools/dev/up";          \
      }                                                                               \
      GTEST_SKIP() << var << " is not set; run tools/dev/up and source its env file"; \
    }                                                                                 \
  } while (0)
