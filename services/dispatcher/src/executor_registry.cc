// Registration tokens, executors and credential checks (see executor_registry.h).
#include "optimus/dispatcher/executor_registry.h"

#include <openssl/crypto.h>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "optimus/bus/cloudevents.h"
#include "optimus/dispatcher/execution_rules.h"
#include "optimus/rpc/auth.h"

namespace optimus::dispatcher {
namespace {

constexpr char kColumns[] =
    "id, name, labels, capacity, status, registered_ms, last_seen_ms, version, host";

ExecutorRecord FromRow(const store::Row& r) {
  ExecutorRecord e;
  e.id = r.Text(0);
  e.name = r.Text(1);
  auto labels = nlohmann::json::parse(r.Text(2), nullptr, false);
  if (labels.is_object()) {
    for (const auto& [k, v] : labels.items()) {
      if (v.is_string()) e.labels[k] = v.get<std::string>();
    }
  }
  e.capacity = static_cast<int32_t>(r.Int(3));
  e.status = r.Text(4);
  e.registered_ms = r.Int(5);
  e.last_seen_ms = r.Int(6);
  e.version = r.Text(7);
  e.host = r.Text(8);
  return e;
}

bool SameDigest(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

store::Migration ExecutorRegistry::Migration(int version) {
  return {version, "executors and registration tokens",
          "CREATE TABLE executors (id TEXT PRIMARY KEY, name TEXT NOT NULL, labels TEXT NOT NULL, "
          "capacity INTEGER NOT NULL, status TEXT NOT NULL, credential_sha256 TEXT NOT NULL, "
          "registered_ms BIGINT NOT NULL, last_seen_ms BIGINT NOT NULL, version TEXT NOT NULL, "
          "host TEXT NOT NULL, token_sha256 TEXT NOT NULL);"
          "CREATE TABLE registration_tokens (sha256 TEXT PRIMARY KEY, description TEXT NOT NULL, "
          "created_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL, revoked INTEGER NOT NULL)"};
}

absl::StatusOr<RegistrationToken> ExecutorRegistry::CreateRegistrationToken(
    int64_t valid_ms, const std::string& description, int64_t now_ms) {
  if (valid_ms <= 0)
    return absl::InvalidArgumentError("a registration token must be valid for a while");
  RegistrationToken out{.token = "optreg_" + rpc::NewToken().substr(4),
                        .expires_ms = now_ms + valid_ms};
  auto saved = db_.Execute(
      "INSERT INTO registration_tokens (sha256, description, created_ms, expires_ms, revoked) "
      "VALUES ($1, $2, $3, $4, 0)",
      {rpc::TokenSha256Hex(out.token), description, now_ms, out.expires_ms});
  if (!saved.ok()) return saved.status();
  return out;
}

absl::StatusOr<Registration> ExecutorRegistry::Register(const std::string& registration_token,
                                                        ExecutorRecord wanted, int64_t now_ms) {
  if (registration_token.empty()) {
    return absl::UnauthenticatedError(
        "registering an executor needs a registration token (an admin makes one with "
        "`optimus executor token`)");
  }
  if (absl::Status s = CheckName("executor name", wanted.name); !s.ok()) return s;
  if (wanted.capacity <= 0) wanted.capacity = 1;
  if (wanted.capacity > 1024) {
    return absl::InvalidArgumentError("an executor's capacity is 1 to 1024 executions at once");
  }
  for (const auto& [k, v] : wanted.labels) {
    if (absl::Status s = CheckName("label", k); !s.ok()) return s;
    if (v.size() > 256) return absl::InvalidArgumentError("label " + k + " is over 256 characters");
  }
  const std::string token_sha = rpc::TokenSha256Hex(registration_token);
  Registration out;
  absl::Status s = db_.InTransaction([&](store::Transaction& tx) -> absl::Status {
    auto token = tx.Execute("SELECT expires_ms, revoked FROM registration_tokens WHERE sha256 = $1",
                            {token_sha});
    if (!token.ok()) return token.status();
    if (token->rows.empty()) {
      return absl::PermissionDeniedError("the registration token is not one this server issued");
    }
    if (token->rows[0].Int(1) != 0) {
      return absl::PermissionDeniedError("the registration token was revoked");
    }
    if (token->rows[0].Int(0) <= now_ms) {
      return absl::PermissionDeniedError(
          "the registration token has expired; ask an admin for a new one (`optimus executor "
          "token`)");
    }
    out.executor = std::move(wanted);
    out.executor.id = "exe-" + bus::NewEventId();
    out.executor.status = "active";
    out.executor.registered_ms = now_ms;
    out.executor.last_seen_ms = now_ms;
    out.credential = out.executor.id + "." + rpc::NewToken().substr(4);
    nlohmann::json labels = nlohmann::json::object();
    for (const auto& [k, v] : out.executor.labels) labels[k] = v;
    auto saved = tx.Execute(
        "INSERT INTO executors (id, name, labels, capacity, status, credential_sha256, "
        "registered_ms, last_seen_ms, version, host, token_sha256) VALUES ($1, $2, $3, $4, "
        "'active', $5, $6, $6, $7, $8, $9)",
        {out.executor.id, out.executor.name, labels.dump(),
         static_cast<int64_t>(out.executor.capacity), rpc::TokenSha256Hex(out.credential), now_ms,
         out.executor.version, out.executor.host, token_sha});
    return saved.status();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<ExecutorRecord> ExecutorRegistry::Authenticate(std::string_view credential,
                                                              int64_t now_ms) {
  const size_t dot = credential.find('.');
  if (credential.empty() || dot == std::string_view::npos || dot == 0 ||
      dot + 1 == credential.size()) {
    return absl::UnauthenticatedError(
        "executor calls need the executor's credential as a bearer token (from `optimus-executor "
        "register`)");
  }
  const std::string id(credential.substr(0, dot));
  const std::string digest = rpc::TokenSha256Hex(credential);
  const auto expired = [&](const ExecutorRecord& r) {
    return credential_ttl_ms_ > 0 && r.registered_ms + credential_ttl_ms_ <= now_ms;
  };
  const auto refuse_expired = [&](const ExecutorRecord& r) {
    return absl::PermissionDeniedError(
        "the credential of executor " + r.id + " expired (it is good for " +
        std::to_string(credential_ttl_ms_ / 1000) +
        " s after registration, dispatcher.credential_ttl); register again with a new "
        "registration token");
  };
  {
    std::lock_guard lock(mu_);
    auto it = verified_.find(id);
    if (it != verified_.end() && it->second.until_ms > now_ms &&
        SameDigest(it->second.credential_sha256, digest)) {
      if (expired(it->second.record)) return refuse_expired(it->second.record);
      return it->second.record;
    }
  }
  auto rows = db_.Execute(
      absl::StrCat("SELECT ", kColumns, ", credential_sha256 FROM executors WHERE id = $1"), {id});
  if (!rows.ok()) return rows.status();
  if (rows->rows.empty() || !SameDigest(rows->rows[0].Text(9), digest)) {
    return absl::PermissionDeniedError("executor credential not accepted: unknown executor " + id +
                                       " or a wrong secret; register again");
  }
  ExecutorRecord record = FromRow(rows->rows[0]);
  if (record.status == "revoked") {
    return absl::PermissionDeniedError("executor " + id +
                                       " was revoked; register again with a new registration "
                                       "token");
  }
  if (expired(record)) return refuse_expired(record);
  std::lock_guard lock(mu_);
  if (verified_.size() > 10000) verified_.clear();
  verified_[id] = {.record = record, .credential_sha256 = digest, .until_ms = now_ms + 1000};
  return record;
}

absl::Status ExecutorRegistry::Touch(const std::string& id, int64_t now_ms) {
  return db_
      .Execute(
          "UPDATE executors SET status = 'active', last_seen_ms = $1 WHERE id = $2 AND status <> "
          "'revoked'",
          {now_ms, id})
      .status();
}

absl::StatusOr<int64_t> ExecutorRegistry::ExpireStale(int64_t ping_deadline_ms, int64_t now_ms) {
  auto rows = db_.Execute(
      "UPDATE executors SET status = 'expired' WHERE status = 'active' AND last_seen_ms < $1",
      {now_ms - ping_deadline_ms});
  if (!rows.ok()) return rows.status();
  return rows->affected_rows;
}

absl::StatusOr<std::vector<ExecutorRecord>> ExecutorRegistry::List() {
  auto rows = db_.Execute(absl::StrCat("SELECT ", kColumns, " FROM executors ORDER BY name, id"));
  if (!rows.ok()) return rows.status();
  std::vector<ExecutorRecord> out;
  for (const auto& row : rows->rows) out.push_back(FromRow(row));
  return out;
}

absl::StatusOr<ExecutorRecord> ExecutorRegistry::Load(const std::string& id) {
  auto rows = db_.Execute(absl::StrCat("SELECT ", kColumns, " FROM executors WHERE id = $1"), {id});
  if (!rows.ok()) return rows.status();
  if (rows->rows.empty()) return absl::NotFoundError("no executor " + id);
  return FromRow(rows->rows[0]);
}

absl::StatusOr<ExecutorRecord> ExecutorRegistry::Revoke(const std::string& id, int64_t now_ms) {
  (void)now_ms;
  auto rows = db_.Execute("UPDATE executors SET status = 'revoked' WHERE id = $1", {id});
  if (!rows.ok()) return rows.status();
  if (rows->affected_rows == 0) return absl::NotFoundError("no executor " + id);
  {
    std::lock_guard lock(mu_);
    verified_.erase(id);
  }
  return Load(id);
}

}  // namespace optimus::dispatcher
