// One relational interface for every service; adapters: SQLite (embedded) and PostgreSQL.
//
// Statements are written once, in the portable subset both engines run: `$1`-style
// parameters, `INSERT … ON CONFLICT … DO UPDATE/NOTHING`, `RETURNING`, no engine-specific
// functions. Migrations may use the tokens of ExpandDialect (auto ids, blobs).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace optimus::store {

// Bytes, kept apart from text so that adapters bind them as BLOB / BYTEA.
struct Blob {
  std::string bytes;
  bool operator==(const Blob&) const = default;
};

using Value = std::variant<std::nullptr_t, int64_t, double, std::string, Blob>;

class Row {
 public:
  explicit Row(std::vector<Value> values) : values_(std::move(values)) {}

  size_t size() const { return values_.size(); }
  const Value& at(size_t i) const { return values_.at(i); }
  bool IsNull(size_t i) const { return std::holds_alternative<std::nullptr_t>(values_.at(i)); }
  // Typed reads; a type mismatch is a programming error in the caller's SQL and aborts.
  int64_t Int(size_t i) const;
  double Double(size_t i) const;
  // Text or blob content as bytes.
  const std::string& Text(size_t i) const;

 private:
  std::vector<Value> values_;
};

struct Result {
  std::vector<std::string> columns;
  std::vector<Row> rows;
  int64_t affected_rows = 0;  // For INSERT/UPDATE/DELETE.
};

enum class Dialect { kSqlite, kPostgres };

class Transaction {
 public:
  virtual ~Transaction() = default;

  virtual absl::StatusOr<Result> Execute(std::string_view sql,
                                         const std::vector<Value>& params = {}) = 0;

  // Wakes Listen()ers of `channel` once this transaction commits (PostgreSQL: NOTIFY).
  virtual absl::Status Notify(std::string_view channel) = 0;

  virtual Dialect dialect() const = 0;
};

class Database {
 public:
  virtual ~Database() = default;

  virtual Dialect dialect() const = 0;

  // Runs `body` in one transaction: commits when it returns OK, rolls back otherwise and
  // returns its status. Writers are serialised as the engine requires.
  virtual absl::Status InTransaction(const std::function<absl::Status(Transaction&)>& body) = 0;

  // Like InTransaction for bodies that only read: they need not wait for, nor block, writers.
  virtual absl::Status InReadTransaction(const std::function<absl::Status(Transaction&)>& body) {
    return InTransaction(body);
  }

  // A single statement in its own transaction.
  absl::StatusOr<Result> Execute(std::string_view sql, const std::vector<Value>& params = {});

  // Blocks until a transaction that called Notify(channel) commits, or `timeout_ms` passes.
  // Returns true when woken by a notification. Spurious wake-ups are allowed.
  virtual bool WaitForNotification(std::string_view channel, int timeout_ms) = 0;

  // Checks the server can be reached (for readiness).
  virtual absl::Status Ping() = 0;

  // Rows that statements have stepped through in scans of a whole table, so far (SQLite; 0
  // where the engine does not say). A hot path that adds to it reads history that grows with
  // every run: the tests use it to hold such paths to their indexes.
  virtual int64_t RowsScannedInFull() const { return 0; }
};

// Many rows in few statements, for batches that would otherwise cost a round trip per row.
// Both run in chunks that keep under either engine's limit on parameters. SQLite, which has
// no round trips, runs ExecuteValues one row per statement: a statement it has prepared once
// costs less than preparing one with thousands of parameters (the same effect, row by row).
//
// `head` VALUES ($1, ...), (...) `tail` for `rows` (all of one width), e.g.
//   ExecuteValues(tx, "INSERT INTO t (a, b)", rows, "ON CONFLICT (a) DO UPDATE SET b = excluded.b")
absl::Status ExecuteValues(Transaction& tx, std::string_view head,
                           const std::vector<std::vector<Value>>& rows, std::string_view tail = "");
// Rows of `width` values per ExecuteValues statement on `tx`'s engine.
size_t RowsPerStatement(const Transaction& tx, size_t width);
// `statement` IN ($1, ...) `tail` for `keys`, the rows of every chunk together, e.g.
//   ExecuteIn(tx, "SELECT k, v FROM t WHERE k", keys)
//   ExecuteIn(tx, "UPDATE t SET done = 1 WHERE k", keys)
// `leading` fills $1.. of `statement` in every chunk (the keys' placeholders come after):
//   ExecuteIn(tx, "SELECT v FROM t WHERE p = $1 AND k", keys, "", {project})
absl::StatusOr<Result> ExecuteIn(Transaction& tx, std::string_view statement,
                                 const std::vector<Value>& keys, std::string_view tail = "",
                                 const std::vector<Value>& leading = {});

// Runs `statement`, a DELETE of at most $N rows where $N comes after `params`, each time in a
// transaction of its own, until it deletes fewer than `batch`; returns how many rows went. For
// housekeeping that must not hold the writer long, e.g.
//   DeleteInBatches(db, "DELETE FROM t WHERE k IN (SELECT k FROM t WHERE at < $1 LIMIT $2)",
//                   {cutoff}, 5000)
absl::StatusOr<int64_t> DeleteInBatches(Database& db, std::string_view statement,
                                        std::vector<Value> params, int64_t batch);

// Replaces the portable tokens of migration SQL with the dialect's spelling:
//   ${AUTO_ID}  an auto-incrementing 64-bit primary key column type
//   ${BLOB}     a byte-string column type
std::string ExpandDialect(std::string_view sql, Dialect dialect);

}  // namespace optimus::store

namespace optimus::store {

// Opens a database from a URI, the form configs use:
//   sqlite:/var/lib/optimus/spec-store.db    (or sqlite::memory:)
//   postgresql://user:pass@host:5432/db?sslmode=disable   (libpq URI; also postgres://)
// `schema` names the service's PostgreSQL schema; SQLite ignores it (one file per service).
absl::StatusOr<std::unique_ptr<Database>> OpenDatabase(const std::string& uri,
                                                       const std::string& schema);

}  // namespace optimus::store
