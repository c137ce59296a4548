// Executors and their credentials: admins issue registration tokens; an executor registers with
// one and gets an id and a credential ("<id>.<secret>"); the server keeps SHA-256 digests only.
// Heartbeats keep an executor active; one that misses its ping deadline is marked expired.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "optimus/store/database.h"
#include "optimus/store/migrations.h"

namespace optimus::dispatcher {

struct ExecutorRecord {
  std::string id;
  std::string name;
  std::map<std::string, std::string> labels;
  int32_t capacity = 1;
  std::string status;  // active, expired, revoked
  int64_t registered_ms = 0;
  int64_t last_seen_ms = 0;
  std::string version;
  std::string host;
};

struct RegistrationToken {
  std::string token;  // shown once
  int64_t expires_ms = 0;
};

struct Registration {
  ExecutorRecord executor;
  std::string credential;  // shown once
};

class ExecutorRegistry {
 public:
  // `credential_ttl_ms`: how long a credential is good for after registration (0: until it is
  // revoked).
  explicit ExecutorRegistry(store::Database& db, int64_t credential_ttl_ms = 0)
      : db_(db), credential_ttl_ms_(credential_ttl_ms) {}

  static store::Migration Migration(int version);

  absl::StatusOr<RegistrationToken> CreateRegistrationToken(int64_t valid_ms,
                                                            const std::string& description,
                                                            int64_t now_ms);
  // PermissionDenied for an unknown, expired or revoked registration token; InvalidArgument for
  // a bad name, labels or capacity.
  absl::StatusOr<Registration> Register(const std::string& registration_token,
                                        ExecutorRecord wanted, int64_t now_ms);
  // The executor a credential speaks for: Unauthenticated when it is missing or malformed,
  // PermissionDenied when unknown, wrong, revoked or past its lifetime. Verified credentials are
  // remembered for a second, so a revocation reaches every replica within that.
  absl::StatusOr<ExecutorRecord> Authenticate(std::string_view credential, int64_t now_ms);
  // A heartbeat: active again, seen now.
  absl::Status Touch(const std::string& id, int64_t now_ms);
  // Marks active executors not seen for `ping_deadline_ms` expired; returns how many.
  absl::StatusOr<int64_t> ExpireStale(int64_t ping_deadline_ms, int64_t now_ms);
  absl::StatusOr<std::vector<ExecutorRecord>> List();
  absl::StatusOr<ExecutorRecord> Revoke(const std::string& id, int64_t now_ms);

 private:
  absl::StatusOr<ExecutorRecord> Load(const std::string& id);

  store::Database& db_;
  int64_t credential_ttl_ms_;
  std::mutex mu_;
  struct Verified {
    ExecutorRecord record;
    std::string credential_sha256;
    int64_t until_ms = 0;
  };
  std::unordered_map<std::string, Verified> verified_;  // by executor id
};

}  // namespace optimus::dispatcher
