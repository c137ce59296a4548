// Test helpers: temp dirs, infra environment, unique names.
#include "optimus/testing/testing.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <random>

namespace optimus::testing {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "optimus-test-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::abort();  // A test that cannot create a temp dir cannot say anything useful.
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string InfraEnv(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

bool InfraRequired() { return InfraEnv("OPTIMUS_REQUIRE_INFRA") == "1"; }

std::string UniqueSuffix() {
  static thread_local std::mt19937_64 rng(
      std::random_device{}() ^
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
      static_cast<uint64_t>(getpid()));
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  for (int i = 0; i < 10; ++i) out.push_back(kAlphabet[rng() % (sizeof(kAlphabet) - 1)]);
  return out;
}

}  // namespace optimus::testing
