// PostgreSQL adapter on libpqxx 6.4: a small connection pool, one schema per service.
#include "optimus/store/postgres_database.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <set>

#include "absl/strings/str_cat.h"

namespace optimus::store {
namespace {

constexpr pqxx::oid kInt2Oid = 21, kInt4Oid = 23, kInt8Oid = 20, kFloat4Oid = 700, kFloat8Oid = 701,
                    kNumericOid = 1700, kByteaOid = 17, kBoolOid = 16;

std::string HexBytea(const std::string& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

// Maps a libpqxx exception to a status, keeping the server's message.
absl::Status FromException(const std::exception& e, const std::string& context) {
  std::string message = absl::StrCat("postgres: ", context, ": ", e.what());
  while (!message.empty() && message.back() == '\n') message.pop_back();
  if (dynamic_cast<const pqxx::unique_violation*>(&e) != nullptr) {
    return absl::AlreadyExistsError(message);
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
      dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return absl::UnavailableError(message);
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& state = sql->sqlstate();
    // The server going away or refusing for now: connection exceptions (08), insufficient
    // resources (53, e.g. too many connections) and operator intervention (57: shutdown,
    // crash shutdown, starting up).
    if (state.rfind("08", 0) == 0 || state.rfind("53", 0) == 0 || state.rfind("57", 0) == 0) {
      return absl::UnavailableError(message);
    }
    if (state == "40001" || state == "40P01") return absl::AbortedError(message);
    if (state.rfind("23", 0) == 0) return absl::FailedPreconditionError(message);
    if (state.rfind("42", 0) == 0 || state.rfind("22", 0) == 0) {
      return absl::InvalidArgumentError(message);
    }
  }
  return absl::InternalError(message);
}

}  // namespace

std::string RedactedDsn(const std::string& dsn) {
  std::string out = dsn;
  if (out.rfind("postgres://", 0) == 0 || out.rfind("postgresql://", 0) == 0) {
    // postgresql://user:secret@host → postgresql://user:***@host
    const size_t scheme = out.find("://") + 3;
    const size_t at = out.find('@', scheme);
    const size_t colon = out.find(':', scheme);
    if (at != std::string::npos && colon != std::string::npos && colon < at) {
      out.replace(colon + 1, at - colon - 1, "***");
    }
    const size_t password = out.find("password=");
    if (password != std::string::npos) {
      const size_t end = out.find('&', password);
      out.replace(password + 9, (end == std::string::npos ? out.size() : end) - password - 9,
                  "***");
    }
    return out;
  }
  // key=value form: password=secret or password='sec ret'
  size_t password = out.find("password=");
  while (password != std::string::npos) {
    size_t begin = password + 9, end = begin;
    if (end < out.size() && out[end] == '\'') {
      end = out.find('\'', end + 1);
      end = end == std::string::npos ? out.size() : end + 1;
    } else {
      while (end < out.size() && out[end] != ' ') ++end;
    }
    out.replace(begin, end - begin, "***");
    password = out.find("password=", begin + 3);
  }
  return out;
}

namespace {

class PostgresTransaction : public Transaction {
 public:
  explicit PostgresTransaction(pqxx::work& work) : work_(work) {}

  absl::StatusOr<Result> Execute(std::string_view sql, const std::vector<Value>& params) override {
    // Every parameter travels as text (bytea in hex form), which PostgreSQL converts to the
    // column type; this keeps one code path for any number of parameters.
    std::vector<std::string> texts(params.size());
    std::vector<const char*> pointers(params.size(), nullptr);
    for (size_t i = 0; i < params.size(); ++i) {
      const Value& v = params[i];
      if (std::holds_alternative<std::nullptr_t>(v)) continue;
      if (const auto* n = std::get_if<int64_t>(&v)) texts[i] = std::to_string(*n);
      if (const auto* d = std::get_if<double>(&v)) texts[i] = absl::StrCat(*d);
      if (const auto* s = std::get_if<std::string>(&v)) texts[i] = *s;
      if (const auto* b = std::get_if<Blob>(&v)) texts[i] = HexBytea(b->bytes);
      pointers[i] = texts[i].c_str();
    }
    pqxx::result r;
    try {
      r = work_.exec_params(std::string(sql), pqxx::prepare::make_dynamic_params(pointers));
    } catch (const std::exception& e) {
      return FromException(e, std::string(sql.substr(0, 200)));
    }
    Result result;
    result.affected_rows = static_cast<int64_t>(r.affected_rows());
    const auto columns = r.columns();
    std::vector<pqxx::oid> types(columns);
    for (pqxx::row::size_type c = 0; c < columns; ++c) {
      result.columns.emplace_back(r.column_name(c));
      types[c] = r.column_type(c);
    }
    result.rows.reserve(r.size());
    for (const auto& row : r) {
      std::vector<Value> values;
      values.reserve(columns);
      for (pqxx::row::size_type c = 0; c < columns; ++c) {
        const pqxx::field f = row[c];
        if (f.is_null()) {
          values.emplace_back(nullptr);
          continue;
        }
        switch (types[c]) {
          case kInt2Oid:
          case kInt4Oid:
          case kInt8Oid:
            values.emplace_back(f.as<int64_t>());
            break;
          case kBoolOid:
            values.emplace_back(static_cast<int64_t>(f.as<bool>() ? 1 : 0));
            break;
          case kFloat4Oid:
          case kFloat8Oid:
          case kNumericOid:
            values.emplace_back(f.as<double>());
            break;
          case kByteaOid:
            values.emplace_back(Blob{pqxx::binarystring(f).str()});
            break;
          default:
            values.emplace_back(std::string(f.c_str(), f.size()));
        }
      }
      result.rows.emplace_back(std::move(values));
    }
    return result;
  }

  absl::Status Notify(std::string_view channel) override {
    // PostgreSQL folds repeats within a transaction anyway; skipping them saves round trips
    // when one transaction enqueues many events.
    if (!notified_.insert(std::string(channel)).second) return absl::OkStatus();
    return Execute("SELECT pg_notify($1, '')", {std::string(channel)}).status();
  }

  Dialect dialect() const override { return Dialect::kPostgres; }

 private:
  pqxx::work& work_;
  std::set<std::string> notified_;
};

// Wakes WaitForNotification on any notification of the channel it listens to.
class Wakeup : public pqxx::notification_receiver {
 public:
  Wakeup(pqxx::connection_base& conn, const std::string& channel)
      : pqxx::notification_receiver(conn, channel) {}
  void operator()(const std::string&, int) override { fired_ = true; }
  bool fired_ = false;
};

class PostgresDatabase : public Database {
 public:
  PostgresDatabase(PostgresOptions options) : options_(std::move(options)) {}

  absl::Status Init() {
    auto conn = Connect();
    if (!conn.ok()) return conn.status();
    try {
      pqxx::work work(**conn);
      work.exec0("CREATE SCHEMA IF NOT EXISTS " + work.quote_name(options_.schema));
      work.commit();
    } catch (const std::exception& e) {
      return FromException(e, "create schema");
    }
    Release(*std::move(conn));
    return absl::OkStatus();
  }

  Dialect dialect() const override { return Dialect::kPostgres; }

  absl::Status InTransaction(const std::function<absl::Status(Transaction&)>& body) override {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    absl::Status status;
    try {
      pqxx::work work(**conn);
      PostgresTransaction tx(work);
      status = body(tx);
      if (status.ok()) {
        work.commit();
      } else {
        work.abort();
      }
    } catch (const std::exception& e) {
      status = FromException(e, "transaction");
    }
    Release(*std::move(conn));  // A broken connection is dropped there, not reused.
    return status;
  }

  // Each channel listens on a connection of its own: waiters of different channels (the outbox
  // relay's, the dispatcher's queue) never queue on one lock. They did share one, and a waiter
  // that re-locked at once after each wait could keep the relay out of it indefinitely.
  bool WaitForNotification(std::string_view channel, int timeout_ms) override {
    Listener* listener = nullptr;
    {
      std::lock_guard lock(listeners_mu_);
      auto& slot = listeners_[std::string(channel)];
      if (!slot) slot = std::make_unique<Listener>();
      listener = slot.get();
    }
    std::lock_guard lock(listener->mu);
    try {
      if (!listener->conn || !listener->conn->is_open()) {
        listener->waker.reset();
        listener->conn.reset();
        auto conn = Connect();
        if (!conn.ok()) return false;
        listener->conn = *std::move(conn);
        listener->waker = std::make_unique<Wakeup>(*listener->conn, std::string(channel));
      }
      listener->conn->get_notifs();
      if (!listener->waker->fired_) {
        listener->conn->await_notification(timeout_ms / 1000, (timeout_ms % 1000) * 1000);
      }
      const bool fired = listener->waker->fired_;
      listener->waker->fired_ = false;
      return fired;
    } catch (const std::exception&) {
      // A dropped listener connection only costs a wake-up: callers poll after the timeout.
      listener->waker.reset();
      listener->conn.reset();
      return false;
    }
  }

  absl::Status Ping() override { return Execute("SELECT 1").status(); }

 private:
  // The configured DSN plus a connect timeout and an application name, in the DSN's own form
  // (libpq takes either `key=value` words or a postgresql:// URI, never a mix).
  std::string ConnectionString() const {
    const bool uri =
        options_.dsn.rfind("postgres://", 0) == 0 || options_.dsn.rfind("postgresql://", 0) == 0;
    if (uri) {
      return absl::StrCat(options_.dsn, options_.dsn.find('?') == std::string::npos ? "?" : "&",
                          "connect_timeout=", options_.connect_timeout_s,
                          "&application_name=optimus-", options_.schema);
    }
    return absl::StrCat(options_.dsn, " connect_timeout=", options_.connect_timeout_s,
                        " application_name=optimus-", options_.schema);
  }

  absl::StatusOr<std::unique_ptr<pqxx::connection>> Connect() {
    try {
      auto conn = std::make_unique<pqxx::connection>(ConnectionString());
      conn->set_variable("search_path", conn->quote_name(options_.schema));
      return conn;
    } catch (const std::exception& e) {
      std::string message = e.what();
      while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
        message.pop_back();
      }
      std::string line;
      for (char c : message) {
        if (c == '\n' || c == '\t') c = ' ';
        if (c == ' ' && !line.empty() && line.back() == ' ') continue;
        line.push_back(c);
      }
      return absl::UnavailableError(
          absl::StrCat("cannot reach PostgreSQL at \"", RedactedDsn(options_.dsn), "\": ", line));
    }
  }

  absl::StatusOr<std::unique_ptr<pqxx::connection>> Acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || open_ < options_.pool_size; });
    if (!idle_.empty()) {
      auto conn = std::move(idle_.front());
      idle_.pop_front();
      return conn;
    }
    ++open_;
    lock.unlock();
    auto conn = Connect();
    if (!conn.ok()) {
      std::lock_guard relock(mu_);
      --open_;
      cv_.notify_one();
    }
    return conn;
  }

  void Release(std::unique_ptr<pqxx::connection> conn) {
    std::lock_guard lock(mu_);
    if (conn && conn->is_open()) {
      idle_.push_back(std::move(conn));
    } else {
      // One connection lost usually means the server restarted and the idle ones are dead
      // too: drop them, so the next transactions connect afresh instead of failing one by one.
      --open_;
      open_ -= static_cast<int>(idle_.size());
      idle_.clear();
    }
    cv_.notify_one();
  }

  PostgresOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<pqxx::connection>> idle_;
  int open_ = 0;

  struct Listener {
    std::mutex mu;
    std::unique_ptr<pqxx::connection> conn;
    std::unique_ptr<Wakeup> waker;  // declared after: destroyed first
  };
  std::mutex listeners_mu_;
  std::map<std::string, std::unique_ptr<Listener>> listeners_;  // by channel
};

}  // namespace

absl::StatusOr<std::unique_ptr<Database>> OpenPostgres(const PostgresOptions& options) {
  if (options.schema.empty()) return absl::InvalidArgumentError("postgres: schema is empty");
  if (options.pool_size < 1) return absl::InvalidArgumentError("postgres: pool_size must be >= 1");
  auto db = std::make_unique<PostgresDatabase>(options);
  if (absl::Status s = db->Init(); !s.ok()) return s;
  return std::unique_ptr<Database>(std::move(db));
}

}  // namespace optimus::store
