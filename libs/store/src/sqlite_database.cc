// SQLite adapter: one writing connection per Database, writers serialised with BEGIN IMMEDIATE,
// and (for a file) read-only connections that read while it writes.
#include "optimus/store/sqlite_database.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "absl/strings/str_cat.h"

namespace optimus::store {
namespace {

// In-process wake-ups for WaitForNotification, shared by every Database on the same file so a
// publisher in one component wakes a relay or consumer in another without polling.
class Notifier {
 public:
  static Notifier& ForFile(const std::string& path) {
    static std::mutex mu;
    static std::map<std::string, std::unique_ptr<Notifier>>* notifiers =
        new std::map<std::string, std::unique_ptr<Notifier>>();
    std::lock_guard lock(mu);
    auto& slot = (*notifiers)[path];
    if (!slot) slot = std::make_unique<Notifier>();
    return *slot;
  }

  void Notify(const std::string& channel) {
    {
      std::lock_guard lock(mu_);
      ++generations_[channel];
    }
    cv_.notify_all();
  }

  bool Wait(const std::string& channel, int timeout_ms) {
    std::unique_lock lock(mu_);
    const uint64_t seen = generations_[channel];
    return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                        [&] { return generations_[channel] != seen; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, uint64_t> generations_;
};

// Rewrites `$N` parameters to SQLite's, leaving quoted text alone. When they run $1, $2, ... in
// order (nearly always) they become anonymous `?`: SQLite looks each numbered `?N` up in a list,
// which makes a many-row INSERT with thousands of `?N` quadratic to prepare.
std::string ToSqliteParams(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  bool in_order = true;
  int expected = 1;
  char quote = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
      out.push_back(c);
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      out.push_back(c);
    } else if (c == '$' && i + 1 < sql.size() && sql[i + 1] >= '1' && sql[i + 1] <= '9') {
      int n = 0;
      size_t j = i + 1;
      for (; j < sql.size() && sql[j] >= '0' && sql[j] <= '9'; ++j) n = n * 10 + (sql[j] - '0');
      in_order = in_order && n == expected++;
      out.push_back('?');
      out.append(sql.substr(i + 1, j - i - 1));
      i = j - 1;
    } else {
      out.push_back(c);
    }
  }
  if (!in_order) return out;
  // Second pass: drop the numbers (quoted text was copied as is, so skip it the same way).
  std::string anonymous;
  anonymous.reserve(out.size());
  quote = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const char c = out[i];
    anonymous.push_back(c);
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '?') {
      while (i + 1 < out.size() && out[i + 1] >= '0' && out[i + 1] <= '9') ++i;
    }
  }
  return anonymous;
}

// Prepared statements of one connection, by their SQL text: the services run the same few
// statements thousands of times, and preparing costs more than running most of them.
class StatementCache {
 public:
  explicit StatementCache(sqlite3* db) : db_(db) {}
  ~StatementCache() { Clear(); }

  // A statement ready to bind (reset, no bindings), or an error. Long texts (many-row inserts)
  // are prepared each time and finalized by the caller (`*owned` is set).
  absl::StatusOr<sqlite3_stmt*> Get(std::string_view sql, bool* owned) {
    *owned = sql.size() > kMaxCachedText;
    if (!*owned) {
      if (auto it = statements_.find(sql); it != statements_.end()) return it->second;
    }
    const std::string text = ToSqliteParams(sql);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, text.c_str(), static_cast<int>(text.size()),
                           *owned ? 0 : SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
      return absl::InvalidArgumentError(
          absl::StrCat("sqlite: ", sqlite3_errmsg(db_), " in: ", text.substr(0, 200)));
    }
    if (*owned) return stmt;
    if (statements_.size() >= kMaxStatements) Clear();
    statements_.emplace(std::string(sql), stmt);
    return stmt;
  }

  void Clear() {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    statements_.clear();
  }

 private:
  static constexpr size_t kMaxCachedText = 2048;
  static constexpr size_t kMaxStatements = 256;
  sqlite3* db_;
  // Hashed, not ordered: statements share long prefixes ("INSERT INTO ..."), and an ordered
  // map's comparisons of them were most of a lookup, run once per statement executed.
  struct TextHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };
  std::unordered_map<std::string, sqlite3_stmt*, TextHash, std::equal_to<>> statements_;
};

class SqliteTransaction : public Transaction {
 public:
  SqliteTransaction(sqlite3* db, StatementCache* cache,
                    std::vector<std::string>* pending_notifications,
                    std::atomic<int64_t>* scanned = nullptr)
      : db_(db), cache_(cache), pending_(pending_notifications), scanned_(scanned) {}

  absl::StatusOr<Result> Execute(std::string_view sql, const std::vector<Value>& params) override {
    return Run(db_, *cache_, sql, params, scanned_);
  }

  absl::Status Notify(std::string_view channel) override {
    pending_->emplace_back(channel);
    return absl::OkStatus();
  }

  Dialect dialect() const override { return Dialect::kSqlite; }

  static absl::StatusOr<Result> Run(sqlite3* db, StatementCache& cache, std::string_view sql,
                                    const std::vector<Value>& params,
                                    std::atomic<int64_t>* scanned = nullptr) {
    bool owned = false;
    auto prepared = cache.Get(sql, &owned);
    if (!prepared.ok()) return prepared.status();
    sqlite3_stmt* stmt = *prepared;
    // A cached statement goes back reset and unbound whatever happens; a one-off is finalized.
    auto release = [owned](sqlite3_stmt* s) {
      if (owned) {
        sqlite3_finalize(s);
      } else {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
      }
    };
    std::unique_ptr<sqlite3_stmt, decltype(release)> guard(stmt, release);
    for (size_t i = 0; i < params.size(); ++i) {
      const int index = static_cast<int>(i + 1);
      int rc = SQLITE_OK;
      const Value& v = params[i];
      if (std::holds_alternative<std::nullptr_t>(v)) {
        rc = sqlite3_bind_null(stmt, index);
      } else if (const auto* n = std::get_if<int64_t>(&v)) {
        rc = sqlite3_bind_int64(stmt, index, *n);
      } else if (const auto* d = std::get_if<double>(&v)) {
        rc = sqlite3_bind_double(stmt, index, *d);
      } else if (const auto* s = std::get_if<std::string>(&v)) {
        rc = sqlite3_bind_text64(stmt, index, s->data(), s->size(), SQLITE_STATIC, SQLITE_UTF8);
      } else if (const auto* b = std::get_if<Blob>(&v)) {
        rc = sqlite3_bind_blob64(stmt, index, b->bytes.data(), b->bytes.size(), SQLITE_STATIC);
      }
      if (rc != SQLITE_OK) {
        return absl::InvalidArgumentError(
            absl::StrCat("sqlite: cannot bind parameter $", index, ": ", sqlite3_errmsg(db)));
      }
    }
    Result result;
    const int columns = sqlite3_column_count(stmt);
    for (int c = 0; c < columns; ++c) result.columns.emplace_back(sqlite3_column_name(stmt, c));
    for (;;) {
      const int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        const int code = sqlite3_extended_errcode(db);
        std::string message = absl::StrCat("sqlite: ", sqlite3_errmsg(db));
        if ((code & 0xff) == SQLITE_CONSTRAINT) return absl::AlreadyExistsError(message);
        if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED) {
          return absl::UnavailableError(message);
        }
        return absl::InternalError(message);
      }
      std::vector<Value> values;
      values.reserve(columns);
      for (int c = 0; c < columns; ++c) {
        switch (sqlite3_column_type(stmt, c)) {
          case SQLITE_NULL:
            values.emplace_back(nullptr);
            break;
          case SQLITE_INTEGER:
            values.emplace_back(static_cast<int64_t>(sqlite3_column_int64(stmt, c)));
            break;
          case SQLITE_FLOAT:
            values.emplace_back(sqlite3_column_double(stmt, c));
            break;
          case SQLITE_BLOB: {
            const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt, c));
            values.emplace_back(
                Blob{std::string(data == nullptr ? "" : data, sqlite3_column_bytes(stmt, c))});
            break;
          }
          default: {
            const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
            values.emplace_back(std::string(data, sqlite3_column_bytes(stmt, c)));
          }
        }
      }
      result.rows.emplace_back(std::move(values));
    }
    result.affected_rows = sqlite3_changes64(db);
    if (scanned != nullptr) {
      *scanned += sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_FULLSCAN_STEP, /*reset=*/1);
    }
    return result;
  }

 private:
  sqlite3* db_;
  StatementCache* cache_;
  std::vector<std::string>* pending_;
  std::atomic<int64_t>* scanned_;
};

// Group commit for synchronous=FULL. Instead of SQLite syncing the write-ahead log inside every
// commit (the writer's lock held across an fsync, so every writer of the file queues behind
// the disk), commits return only after an fdatasync of the WAL that began after them: one
// fsync makes every commit before it durable, and it runs outside the lock while the next
// transactions go on. What a caller was told committed is as durable as before; another
// connection may read a commit an fsync before it is (as with any group commit).
class WalSync {
 public:
  explicit WalSync(std::string path) : path_(std::move(path)) {}
  ~WalSync() {
    if (fd_ >= 0) ::close(fd_);
  }

  absl::Status Sync(uint64_t commit) {
    std::unique_lock lock(mu_);
    if (commit > committed_) committed_ = commit;
    while (synced_ < commit) {
      if (syncing_) {
        cv_.wait(lock);
        continue;
      }
      syncing_ = true;
      const uint64_t target = committed_;  // every commit so far is in the file already
      lock.unlock();
      absl::Status status = SyncFile();
      lock.lock();
      syncing_ = false;
      if (status.ok()) synced_ = std::max(synced_, target);
      cv_.notify_all();
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  }

 private:
  absl::Status SyncFile() {
    if (fd_ < 0) {
      fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd_ < 0 && errno == ENOENT) return absl::OkStatus();  // no log: nothing written to it
      if (fd_ < 0) {
        return absl::UnavailableError(
            absl::StrCat("cannot open ", path_, " to make commits durable: ", strerror(errno)));
      }
      // The log's own name must survive a power failure too.
      const std::string dir = path_.find('/') == std::string::npos
                                  ? std::string(".")
                                  : path_.substr(0, path_.rfind('/') + 1);
      if (int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); d >= 0) {
        ::fsync(d);
        ::close(d);
      }
    }
    if (::fdatasync(fd_) != 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot make commits durable: fdatasync of ", path_, ": ", strerror(errno)));
    }
    return absl::OkStatus();
  }

  const std::string path_;
  int fd_ = -1;  // used by the one thread that syncs
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t committed_ = 0, synced_ = 0;
  bool syncing_ = false;
};

// A read-only connection of a file database: WAL lets it read a snapshot while the writing
// connection writes.
struct Reader {
  explicit Reader(sqlite3* db) : db(db), statements(db) {}
  ~Reader() {
    statements.Clear();
    sqlite3_close_v2(db);
  }
  std::mutex mu;
  sqlite3* db;
  StatementCache statements;  // guarded by mu, like the connection
};

class SqliteDatabase : public Database {
 public:
  SqliteDatabase(sqlite3* db, std::string path)
      : db_(db), statements_(db), notifier_(Notifier::ForFile(path)) {}
  ~SqliteDatabase() override {
    readers_.clear();
    statements_.Clear();
    sqlite3_close_v2(db_);
  }

  void AddReader(sqlite3* db) { readers_.push_back(std::make_unique<Reader>(db)); }

  Dialect dialect() const override { return Dialect::kSqlite; }

  absl::Status InTransaction(const std::function<absl::Status(Transaction&)>& body) override {
    // BEGIN IMMEDIATE takes the write lock up front so two processes never deadlock on an
    // upgrade; busy_timeout makes the other writer wait instead of failing.
    return Run("BEGIN IMMEDIATE", body);
  }

  absl::Status InReadTransaction(const std::function<absl::Status(Transaction&)>& body) override {
    // WAL readers see a snapshot and never block the writer: on a reader connection (a free
    // one, else the next in turn) a read does not wait for the writes queued on this one.
    if (readers_.empty()) return Run("BEGIN", body);
    Reader* reader = nullptr;
    for (auto& r : readers_) {
      if (r->mu.try_lock()) {
        reader = r.get();
        break;
      }
    }
    if (reader == nullptr) {
      reader = readers_[next_reader_.fetch_add(1) % readers_.size()].get();
      reader->mu.lock();
    }
    std::lock_guard lock(reader->mu, std::adopt_lock);
    auto begin = SqliteTransaction::Run(reader->db, reader->statements, "BEGIN", {});
    if (!begin.ok()) return begin.status();
    std::vector<std::string> notifications;  // a read notifies nobody
    SqliteTransaction tx(reader->db, &reader->statements, &notifications, &scanned_);
    absl::Status status = body(tx);
    auto end = SqliteTransaction::Run(reader->db, reader->statements,
                                      status.ok() ? "COMMIT" : "ROLLBACK", {});
    if (!status.ok()) return status;
    return end.status();
  }

  absl::Status Run(const char* begin_sql, const std::function<absl::Status(Transaction&)>& body) {
    std::vector<std::string> notifications;
    uint64_t commit = 0;
    {
      std::lock_guard lock(mu_);
      absl::Status begin = Simple(begin_sql);
      for (int attempt = 0; !begin.ok() && absl::IsUnavailable(begin) && attempt < 50; ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        begin = Simple(begin_sql);
      }
      if (!begin.ok()) return begin;
      SqliteTransaction tx(db_, &statements_, &notifications, &scanned_);
      absl::Status status = body(tx);
      if (!status.ok()) {
        Simple("ROLLBACK").IgnoreError();  // The body's error is the one worth reporting.
        return status;
      }
      absl::Status committed = Simple("COMMIT");
      if (!committed.ok()) {
        Simple("ROLLBACK").IgnoreError();
        return committed;
      }
      commit = ++commits_;
    }
    // Durable before the caller hears of it, and before anyone is woken up for it.
    if (wal_sync_ != nullptr) {
      if (absl::Status s = wal_sync_->Sync(commit); !s.ok()) return s;
    }
    for (const std::string& channel : notifications) notifier_.Notify(channel);
    return absl::OkStatus();
  }

  void SyncCommitsTogether(std::string wal_path) {
    wal_sync_ = std::make_unique<WalSync>(std::move(wal_path));
  }

  bool WaitForNotification(std::string_view channel, int timeout_ms) override {
    return notifier_.Wait(std::string(channel), timeout_ms);
  }

  absl::Status Ping() override {
    std::lock_guard lock(mu_);
    return Simple("SELECT 1");
  }

  int64_t RowsScannedInFull() const override { return scanned_.load(); }

  absl::Status Simple(const char* sql) {
    auto result = SqliteTransaction::Run(db_, statements_, sql, {});
    return result.status();
  }

 private:
  std::mutex mu_;
  sqlite3* db_;
  StatementCache statements_;  // guarded by mu_, like the connection
  uint64_t commits_ = 0;       // guarded by mu_: commits so far, numbering each
  std::unique_ptr<WalSync> wal_sync_;
  Notifier& notifier_;
  std::vector<std::unique_ptr<Reader>> readers_;  // fixed once opened
  std::atomic<size_t> next_reader_{0};
  std::atomic<int64_t> scanned_{0};
};

}  // namespace

absl::StatusOr<std::unique_ptr<Database>> OpenSqlite(const SqliteOptions& options) {
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(options.path.c_str(), &raw, flags, nullptr) != SQLITE_OK) {
    std::string message = raw != nullptr ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close_v2(raw);
    return absl::UnavailableError(
        absl::StrCat("cannot open SQLite database ", options.path, ": ", message));
  }
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  auto db = std::make_unique<SqliteDatabase>(raw, options.path);
  for (const char* pragma :
       {"PRAGMA journal_mode=WAL", "PRAGMA foreign_keys=ON", "PRAGMA temp_store=MEMORY"}) {
    if (absl::Status s = db->Simple(pragma); !s.ok()) {
      return absl::UnavailableError(
          absl::StrCat("cannot open SQLite database ", options.path, ": ", s.message()));
    }
  }
  // Read-only connections for a file (an in-memory database is one connection's own).
  const bool in_memory = options.path.empty() || options.path == ":memory:" ||
                         options.path.find("mode=memory") != std::string::npos ||
                         options.path.rfind("file:", 0) == 0;
  // A file's full durability is SQLite's NORMAL plus our own sync of the log after each commit
  // (see WalSync); NORMAL alone is durable against a crash of the process, not of the machine.
  if (absl::Status s =
          db->Simple(options.synchronous_full && in_memory ? "PRAGMA synchronous=FULL"
                                                           : "PRAGMA synchronous=NORMAL");
      !s.ok()) {
    return s;
  }
  if (options.synchronous_full && !in_memory) db->SyncCommitsTogether(options.path + "-wal");
  for (int i = 0; !in_memory && i < options.readers; ++i) {
    sqlite3* reader = nullptr;
    if (sqlite3_open_v2(options.path.c_str(), &reader, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      sqlite3_close_v2(reader);
      break;  // reads then share the writing connection, as they can
    }
    sqlite3_busy_timeout(reader, options.busy_timeout_ms);
    sqlite3_exec(reader, "PRAGMA temp_store=MEMORY", nullptr, nullptr, nullptr);
    db->AddReader(reader);
  }
  return std::unique_ptr<Database>(std::move(db));
}

}  // namespace optimus::store
