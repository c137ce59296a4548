// Schema migrations: a table of what was applied, checksums to catch edited history.
#include "optimus/store/migrations.h"

#include <openssl/sha.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace optimus::store {
namespace {

std::string Checksum(const std::string& sql) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(sql.data()), sql.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : digest) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

constexpr char kCreateTable[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " component TEXT NOT NULL, version BIGINT NOT NULL, name TEXT NOT NULL,"
    " checksum TEXT NOT NULL, PRIMARY KEY (component, version))";

}  // namespace

absl::Status ApplyMigrations(Database& db, const std::string& component,
                             const std::vector<Migration>& migrations) {
  for (size_t i = 1; i < migrations.size(); ++i) {
    if (migrations[i].version <= migrations[i - 1].version) {
      return absl::InvalidArgumentError(absl::StrCat("migrations of ", component,
                                                     " are not strictly increasing at version ",
                                                     migrations[i].version));
    }
  }
  if (absl::Status s = db.Execute(kCreateTable).status(); !s.ok()) return s;

  for (const Migration& m : migrations) {
    absl::Status status = db.InTransaction([&](Transaction& tx) -> absl::Status {
      if (tx.dialect() == Dialect::kPostgres) {
        // Replicas starting together apply each migration once: the lock serialises them.
        auto lock = tx.Execute("SELECT pg_advisory_xact_lock(hashtext($1))",
                               {std::string("optimus_migrations:") + component});
        if (!lock.ok()) return lock.status();
      }
      auto applied =
          tx.Execute("SELECT checksum FROM schema_migrations WHERE component = $1 AND version = $2",
                     {component, static_cast<int64_t>(m.version)});
      if (!applied.ok()) return applied.status();
      const std::string sql = ExpandDialect(m.sql, tx.dialect());
      const std::string checksum = Checksum(m.sql);
      if (!applied->rows.empty()) {
        if (applied->rows[0].Text(0) != checksum) {
          return absl::FailedPreconditionError(absl::StrCat(
              "migration ", component, "/", m.version, " (", m.name,
              ") was changed after it was applied; add a new migration instead of editing it"));
        }
        return absl::OkStatus();
      }
      for (absl::string_view statement : absl::StrSplit(sql, ';')) {
        statement = absl::StripAsciiWhitespace(statement);
        if (statement.empty()) continue;
        if (auto r = tx.Execute(std::string_view(statement.data(), statement.size())); !r.ok()) {
          return absl::Status(r.status().code(),
                              absl::StrCat("migration ", component, "/", m.version, " (", m.name,
                                           "): ", r.status().message()));
        }
      }
      return tx
          .Execute(
              "INSERT INTO schema_migrations (component, version, name, checksum)"
              " VALUES ($1, $2, $3, $4)",
              {component, static_cast<int64_t>(m.version), m.name, checksum})
          .status();
    });
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

const std::vector<Migration>& CoreMigrations() {
  static const auto* migrations = new std::vector<Migration>{
      {1, "outbox",
       "CREATE TABLE outbox ("
       " id ${AUTO_ID}, topic TEXT NOT NULL, msg_key TEXT NOT NULL, payload ${BLOB} NOT NULL,"
       " headers ${BLOB} NOT NULL, created_at_ms BIGINT NOT NULL, published_at_ms BIGINT);"
       "CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at_ms IS NULL"},
      {2, "processed messages",
       "CREATE TABLE processed_messages ("
       " consumer TEXT NOT NULL, message_id TEXT NOT NULL, processed_at_ms BIGINT NOT NULL,"
       " PRIMARY KEY (consumer, message_id))"},
      {3, "outbox tombstones", "ALTER TABLE outbox ADD COLUMN tombstone BIGINT NOT NULL DEFAULT 0"},
      {4, "processed messages by age",
       "CREATE INDEX processed_messages_age ON processed_messages (processed_at_ms)"},
  };
  return *migrations;
}

}  // namespace optimus::store
