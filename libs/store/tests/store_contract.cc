// Contract cases shared by the SQLite and PostgreSQL adapters.
#include "store_contract.h"

#include <atomic>
#include <future>
#include <thread>
#include <utility>

#include "optimus/bus/bus.h"
#include "optimus/store/exactly_once.h"
#include "optimus/store/migrations.h"
#include "optimus/store/outbox.h"

namespace optimus::store {
namespace {

using ::testing::HasSubstr;

// A publisher that records what it was given, and can be told to fail.
class RecordingPublisher : public bus::Publisher {
 public:
  absl::Status PublishBatch(const std::vector<bus::OutgoingMessage>& messages) override {
    if (fail_) return absl::UnavailableError("broker down");
    for (const auto& m : messages) published_.push_back(m);
    return absl::OkStatus();
  }
  std::vector<bus::OutgoingMessage> published_;
  bool fail_ = false;
};

bus::OutgoingMessage Event(std::string key, std::string payload) {
  return {"optimus.test", std::move(key), std::move(payload), {{bus::kCeType, "test.v1"}}};
}

std::string Header(const bus::OutgoingMessage& m, std::string_view name) {
  for (const auto& [k, v] : m.headers) {
    if (k == name) return v;
  }
  return "";
}

void Migrate(Database& db) { ASSERT_TRUE(ApplyMigrations(db, "store", CoreMigrations()).ok()); }

TEST_P(StoreContractTest, RoundTripsEveryValueType) {
  ASSERT_TRUE(db_->Execute("CREATE TABLE t (i BIGINT, d DOUBLE PRECISION, s TEXT, b " +
                           std::string(db_->dialect() == Dialect::kSqlite ? "BLOB" : "BYTEA") +
                           ", n TEXT)")
                  .ok());
  const std::string binary("a\0b\xff\x01", 5);
  ASSERT_TRUE(db_->Execute("INSERT INTO t (i, d, s, b, n) VALUES ($1, $2, $3, $4, $5)",
                           {int64_t{-9007199254740993}, 2.5, std::string("zürich ✓ 'q'"),
                            Blob{binary}, nullptr})
                  .ok());
  auto result = db_->Execute("SELECT i, d, s, b, n FROM t");
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->rows.size(), 1u);
  const Row& row = result->rows[0];
  EXPECT_EQ(row.Int(0), -9007199254740993);
  EXPECT_DOUBLE_EQ(row.Double(1), 2.5);
  EXPECT_EQ(row.Text(2), "zürich ✓ 'q'");
  EXPECT_EQ(std::get<Blob>(row.at(3)).bytes, binary);
  EXPECT_TRUE(row.IsNull(4));
  EXPECT_EQ(result->columns, (std::vector<std::string>{"i", "d", "s", "b", "n"}));
}

TEST_P(StoreContractTest, ParametersInAnyOrderRepeatedAndNextToQuotedText) {
  ASSERT_TRUE(db_->Execute("CREATE TABLE p (a TEXT, b TEXT, c TEXT)").ok());
  // Out of order, repeated, and a literal '$1' that is text, not a parameter; each statement
  // runs twice so a prepared statement is reused with new values.
  for (const std::string suffix : {"1", "2"}) {
    ASSERT_TRUE(db_->Execute("INSERT INTO p (a, b, c) VALUES ($2, $1, '$1' || $2)",
                             {"first" + suffix, "second" + suffix})
                    .ok());
  }
  auto rows = db_->Execute("SELECT a, b, c FROM p WHERE a = $1 OR b = $1 ORDER BY a",
                           {std::string("first2")});
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->rows.size(), 1u);
  EXPECT_EQ(rows->rows[0].Text(0), "second2");
  EXPECT_EQ(rows->rows[0].Text(1), "first2");
  EXPECT_EQ(rows->rows[0].Text(2), "$1second2");
  // Many parameters in order (a many-row insert) still bind each to its place.
  std::string sql = "INSERT INTO p (a, b, c) VALUES ";
  std::vector<Value> params;
  for (int i = 0; i < 2000; ++i) {
    sql += (i == 0 ? "" : ", ") + std::string("($") + std::to_string(3 * i + 1) + ", $" +
           std::to_string(3 * i + 2) + ", $" + std::to_string(3 * i + 3) + ")";
    params.emplace_back("row" + std::to_string(i));
    params.emplace_back("b");
    params.emplace_back(std::to_string(i));
  }
  ASSERT_TRUE(db_->Execute(sql, params).ok());
  auto last = db_->Execute("SELECT c FROM p WHERE a = $1", {std::string("row1999")});
  ASSERT_TRUE(last.ok());
  ASSERT_EQ(last->rows.size(), 1u);
  EXPECT_EQ(last->rows[0].Text(0), "1999");
}

TEST_P(StoreContractTest, FailedBodyRollsBackEverything) {
  ASSERT_TRUE(db_->Execute("CREATE TABLE t (k TEXT PRIMARY KEY)").ok());
  absl::Status status = db_->InTransaction([](Transaction& tx) -> absl::Status {
    if (auto r = tx.Execute("INSERT INTO t (k) VALUES ($1)", {std::string("a")}); !r.ok()) {
      return r.status();
    }
    return absl::AbortedError("changed my mind");
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted);
  auto count = db_->Execute("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->rows[0].Int(0), 0);
}

TEST_P(StoreContractTest, DuplicateKeyIsAlreadyExists) {
  ASSERT_TRUE(db_->Execute("CREATE TABLE t (k TEXT PRIMARY KEY)").ok());
  ASSERT_TRUE(db_->Execute("INSERT INTO t (k) VALUES ($1)", {std::string("a")}).ok());
  auto again = db_->Execute("INSERT INTO t (k) VALUES ($1)", {std::string("a")});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists) << again.status();
}

TEST_P(StoreContractTest, UpsertAndReturningArePortable) {
  ASSERT_TRUE(db_->Execute("CREATE TABLE t (k TEXT PRIMARY KEY, v BIGINT NOT NULL)").ok());
  for (int64_t v : {1, 2}) {
    auto r = db_->Execute(
        "INSERT INTO t (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v"
        " RETURNING v",
        {std::string("a"), v});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->rows.at(0).Int(0), v);
  }
  auto count = db_->Execute("SELECT COUNT(*), MAX(v) FROM t");
  EXPECT_EQ(count->rows[0].Int(0), 1);
  EXPECT_EQ(count->rows[0].Int(1), 2);
}

TEST_P(StoreContractTest, ManyRowsGoInAndOutInChunks) {
  ASSERT_TRUE(db_->Execute("CREATE TABLE t (k TEXT PRIMARY KEY, v BIGINT NOT NULL, b "
                           "TEXT NOT NULL)")
                  .ok());
  // 2,500 rows of 3: four statements; then an upsert of them all.
  std::vector<std::vector<Value>> rows;
  std::vector<Value> keys;
  for (int64_t i = 0; i < 2500; ++i) {
    std::vector<Value>& row = rows.emplace_back();
    row.emplace_back(std::in_place_type<std::string>, "k" + std::to_string(i));
    row.emplace_back(std::in_place_type<int64_t>, i);
    row.emplace_back(std::in_place_type<std::string>, "it's $1");
    keys.push_back("k" + std::to_string(i));
  }
  absl::Status s = db_->InTransaction([&](Transaction& tx) {
    if (absl::Status in = ExecuteValues(tx, "INSERT INTO t (k, v, b)", rows); !in.ok()) return in;
    for (auto& r : rows) r[1].emplace<int64_t>(std::get<int64_t>(r[1]) * 2);
    return ExecuteValues(tx, "INSERT INTO t (k, v, b)", rows,
                         "ON CONFLICT (k) DO UPDATE SET v = excluded.v");
  });
  ASSERT_TRUE(s.ok()) << s;
  keys.push_back(std::string("absent"));
  absl::StatusOr<Result> found;
  ASSERT_TRUE(db_->InTransaction([&](Transaction& tx) {
                   found = ExecuteIn(tx, "SELECT k, v, b FROM t WHERE k", keys, "ORDER BY v");
                   return found.status();
                 })
                  .ok());
  ASSERT_EQ(found->rows.size(), 2500u);  // two chunks of keys, each ordered by v
  // Leading parameters come first in every chunk.
  absl::StatusOr<Result> odd;
  ASSERT_TRUE(db_->InTransaction([&](Transaction& tx) {
                   odd = ExecuteIn(tx, "SELECT k FROM t WHERE b = $1 AND MOD(v, 4) = $2 AND k",
                                   keys, "", {std::string("it's $1"), int64_t{2}});
                   return odd.status();
                 })
                  .ok());
  EXPECT_EQ(odd->rows.size(), 1250u);
  int64_t sum = 0;
  for (const auto& r : found->rows) sum += r.Int(1);
  EXPECT_EQ(sum, 2 * (2499 * 2500 / 2));
  EXPECT_EQ(found->rows[0].Text(2), "it's $1");
}

TEST_P(StoreContractTest, BadSqlIsInvalidArgumentWithTheEngineMessage) {
  auto r = db_->Execute("SELEKT 1");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("SELEKT"));
}

TEST_P(StoreContractTest, MigrationsApplyOnceAndAreRecorded) {
  std::vector<Migration> migrations = {
      {1, "jobs", "CREATE TABLE jobs (id ${AUTO_ID}, name TEXT NOT NULL, spec ${BLOB})"},
      {2, "index", "CREATE INDEX jobs_name ON jobs (name); INSERT INTO jobs (name) VALUES ('x')"},
  };
  ASSERT_TRUE(ApplyMigrations(*db_, "svc", migrations).ok());
  ASSERT_TRUE(ApplyMigrations(*db_, "svc", migrations).ok());  // Idempotent.
  auto rows = db_->Execute("SELECT COUNT(*) FROM jobs");
  EXPECT_EQ(rows->rows[0].Int(0), 1);
  auto recorded = db_->Execute(
      "SELECT version, name FROM schema_migrations WHERE component = 'svc' ORDER BY 1");
  ASSERT_EQ(recorded->rows.size(), 2u);
  EXPECT_EQ(recorded->rows[1].Text(1), "index");

  // Auto ids count up.
  ASSERT_TRUE(db_->Execute("INSERT INTO jobs (name) VALUES ('y')").ok());
  auto ids = db_->Execute("SELECT id FROM jobs ORDER BY id");
  EXPECT_LT(ids->rows[0].Int(0), ids->rows[1].Int(0));
}

TEST_P(StoreContractTest, EditedMigrationIsRefused) {
  ASSERT_TRUE(ApplyMigrations(*db_, "svc", {{1, "t", "CREATE TABLE t (a TEXT)"}}).ok());
  absl::Status s = ApplyMigrations(*db_, "svc", {{1, "t", "CREATE TABLE t (a TEXT, b TEXT)"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("svc/1"));
}

TEST_P(StoreContractTest, BrokenMigrationLeavesNoTrace) {
  absl::Status s = ApplyMigrations(
      *db_, "svc", {{1, "half", "CREATE TABLE half (a TEXT); CREATE TABLE oops (a NOTATYPE("}});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("migration svc/1 (half)"));
  auto recorded = db_->Execute("SELECT COUNT(*) FROM schema_migrations");
  EXPECT_EQ(recorded->rows[0].Int(0), 0);
  // The first statement rolled back with the second: applying a fixed version works.
  EXPECT_TRUE(ApplyMigrations(*db_, "svc", {{1, "half", "CREATE TABLE half (a TEXT)"}}).ok());
}

TEST_P(StoreContractTest, MigrationVersionsMustIncrease) {
  absl::Status s =
      ApplyMigrations(*db_, "svc", {{2, "b", "CREATE TABLE b (a TEXT)"}, {1, "a", "x"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(StoreContractTest, OutboxPublishesCommittedEventsInOrderOnce) {
  Migrate(*db_);
  Outbox outbox("optimus/test");
  ASSERT_TRUE(db_->InTransaction([&](Transaction& tx) -> absl::Status {
                   for (int i = 0; i < 3; ++i) {
                     if (absl::Status s = outbox.Enqueue(tx, Event("k", std::to_string(i)));
                         !s.ok()) {
                       return s;
                     }
                   }
                   return absl::OkStatus();
                 })
                  .ok());
  // A rolled-back transaction's event never leaves.
  EXPECT_FALSE(db_->InTransaction([&](Transaction& tx) -> absl::Status {
                    if (absl::Status s = outbox.Enqueue(tx, Event("k", "lost")); !s.ok()) return s;
                    return absl::CancelledError("rollback");
                  })
                   .ok());

  RecordingPublisher publisher;
  OutboxRelay relay(*db_, publisher, {.batch_size = 2});
  auto first = relay.PublishBatch();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 2);
  ASSERT_TRUE(relay.Drain().ok());
  ASSERT_EQ(publisher.published_.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const auto& m = publisher.published_[i];
    EXPECT_EQ(m.payload, std::to_string(i));
    EXPECT_EQ(m.topic, "optimus.test");
    EXPECT_EQ(Header(m, bus::kCeSource), "optimus/test");
    EXPECT_EQ(Header(m, bus::kCeType), "test.v1");
    EXPECT_EQ(Header(m, bus::kCeSpecVersion), "1.0");
    EXPECT_EQ(Header(m, bus::kCeId).size(), 36u);
  }
  EXPECT_NE(Header(publisher.published_[0], bus::kCeId),
            Header(publisher.published_[1], bus::kCeId));
  auto again = relay.PublishBatch();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(relay.published(), 3);
}

// A publisher that runs `during` inside its first call (the relay's transaction is open).
class HookedPublisher : public bus::Publisher {
 public:
  absl::Status PublishBatch(const std::vector<bus::OutgoingMessage>& messages) override {
    if (during) std::exchange(during, nullptr)();
    for (const auto& m : messages) published.push_back(m.payload);
    return absl::OkStatus();
  }
  std::function<void()> during;
  std::vector<std::string> published;
};

TEST_P(StoreContractTest, OutboxRowCommittedWhileTheRelayPublishesIsNotLost) {
  if (db_->dialect() == Dialect::kSqlite) GTEST_SKIP() << "SQLite runs one writer at a time";
  Migrate(*db_);
  Outbox outbox("optimus/test");
  // Ids 1, 2, 3: the first and the third are committed when the relay reads, the second
  // commits while it publishes.
  ASSERT_TRUE(
      db_->InTransaction([&](Transaction& tx) { return outbox.Enqueue(tx, Event("k", "first")); })
          .ok());
  std::promise<void> a_inserted, a_may_commit;
  std::thread a([&] {
    ASSERT_TRUE(db_->InTransaction([&](Transaction& tx) -> absl::Status {
                     if (absl::Status s = outbox.Enqueue(tx, Event("k", "late")); !s.ok()) return s;
                     a_inserted.set_value();
                     a_may_commit.get_future().wait();
                     return absl::OkStatus();
                   })
                    .ok());
  });
  a_inserted.get_future().wait();
  ASSERT_TRUE(
      db_->InTransaction([&](Transaction& tx) { return outbox.Enqueue(tx, Event("k", "early")); })
          .ok());
  HookedPublisher publisher;
  // A commits after the relay read the outbox and before it marks what it sent.
  publisher.during = [&] {
    a_may_commit.set_value();
    a.join();
  };
  OutboxRelay relay(*db_, publisher, {.batch_size = 10});
  auto first = relay.PublishBatch();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 2);
  ASSERT_TRUE(relay.Drain().ok());
  EXPECT_THAT(publisher.published, ::testing::ElementsAre("first", "early", "late"));
}

TEST_P(StoreContractTest, OutboxBacklogCountsWhatWaits) {
  Migrate(*db_);
  Outbox outbox("optimus/test");
  RecordingPublisher publisher;
  OutboxRelay relay(*db_, publisher, {.batch_size = 2});
  auto empty = relay.Backlog();
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->pending, 0);
  EXPECT_EQ(empty->oldest_age_ms, 0);
  ASSERT_TRUE(
      db_->InTransaction([&](Transaction& tx) {
           return outbox.EnqueueAll(tx, {Event("k", "1"), Event("k", "2"), Event("k", "3")});
         })
          .ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto waiting = relay.Backlog();
  EXPECT_EQ(waiting->pending, 3);
  EXPECT_GE(waiting->oldest_age_ms, 20);
  ASSERT_TRUE(relay.PublishBatch().ok());
  EXPECT_EQ(relay.Backlog()->pending, 1);
  ASSERT_TRUE(relay.Drain().ok());
  EXPECT_EQ(relay.Backlog()->pending, 0);
}

TEST_P(StoreContractTest, OutboxEnqueueAllKeepsOrderAcrossStatements) {
  Migrate(*db_);
  Outbox outbox("optimus/test");
  std::vector<bus::OutgoingMessage> messages;
  for (int i = 0; i < 2500; ++i)
    messages.push_back(Event("k" + std::to_string(i % 7), std::to_string(i)));
  ASSERT_TRUE(
      db_->InTransaction([&](Transaction& tx) { return outbox.EnqueueAll(tx, messages); }).ok());
  RecordingPublisher publisher;
  OutboxRelay relay(*db_, publisher, {.batch_size = 1000});
  ASSERT_TRUE(relay.Drain().ok());
  ASSERT_EQ(publisher.published_.size(), 2500u);
  for (int i = 0; i < 2500; ++i) ASSERT_EQ(publisher.published_[i].payload, std::to_string(i));
  // One bad message refuses the whole call; nothing of it is enqueued.
  messages = {Event("k", "fine"), bus::OutgoingMessage{"optimus.test", "k", "untyped", {}}};
  EXPECT_EQ(
      db_->InTransaction([&](Transaction& tx) { return outbox.EnqueueAll(tx, messages); }).code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(relay.PublishBatch().value_or(-1), 0);
}

TEST_P(StoreContractTest, OutboxKeepsRowsWhenThePublisherFails) {
  Migrate(*db_);
  Outbox outbox("optimus/test");
  ASSERT_TRUE(
      db_->InTransaction([&](Transaction& tx) { return outbox.Enqueue(tx, Event("k", "v")); })
          .ok());
  RecordingPublisher publisher;
  publisher.fail_ = true;
  OutboxRelay relay(*db_, publisher);
  EXPECT_EQ(relay.PublishBatch().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(relay.failures(), 1);
  publisher.fail_ = false;
  auto published = relay.PublishBatch();
  ASSERT_TRUE(published.ok());
  EXPECT_EQ(*published, 1);
  ASSERT_EQ(publisher.published_.size(), 1u);
  auto pruned = PruneOutbox(*db_, INT64_MAX);
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 1);
}

TEST_P(StoreContractTest, PruningTakesOnlyOldPublishedRowsInBatches) {
  Migrate(*db_);
  Outbox outbox("optimus/test");
  // 12,000 rows (more than two batches) published long ago, then one not yet published and
  // one published just now; the outbox's ids are in that order.
  std::vector<bus::OutgoingMessage> many(12000, Event("k", "old"));
  ASSERT_TRUE(
      db_->InTransaction([&](Transaction& tx) { return outbox.EnqueueAll(tx, many); }).ok());
  ASSERT_TRUE(db_->Execute("UPDATE outbox SET published_at_ms = 1000").ok());
  ASSERT_TRUE(
      db_->InTransaction([&](Transaction& tx) { return outbox.Enqueue(tx, Event("k", "pending")); })
          .ok());
  ASSERT_TRUE(
      db_->InTransaction([&](Transaction& tx) { return outbox.Enqueue(tx, Event("k", "recent")); })
          .ok());
  ASSERT_TRUE(db_->Execute("UPDATE outbox SET published_at_ms = 900000 WHERE payload = $1",
                           {Blob{"recent"}})
                  .ok());
  auto pruned = PruneOutbox(*db_, 500'000);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 12000);
  auto left = db_->Execute("SELECT payload FROM outbox ORDER BY id");
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->rows.size(), 2u);
  EXPECT_EQ(left->rows[0].Text(0), "pending");
  EXPECT_EQ(left->rows[1].Text(0), "recent");
  EXPECT_EQ(PruneOutbox(*db_, 500'000).value_or(-1), 0);

  // The exactly-once bookkeeping, by age.
  ASSERT_TRUE(db_->Execute("WITH RECURSIVE n(i) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT i + "
                           "1 FROM n WHERE i < 7000) INSERT INTO processed_messages (consumer, "
                           "message_id, processed_at_ms) SELECT 'c', 'm' || i, i FROM n")
                  .ok());
  auto forgotten = PruneProcessed(*db_, 6001);
  ASSERT_TRUE(forgotten.ok()) << forgotten.status();
  EXPECT_EQ(*forgotten, 6000);
  EXPECT_EQ(db_->Execute("SELECT COUNT(*) FROM processed_messages")->rows[0].Int(0), 1000);
}

TEST_P(StoreContractTest, OutboxRefusesEventsWithoutType) {
  Migrate(*db_);
  Outbox outbox("optimus/test");
  absl::Status s = db_->InTransaction([&](Transaction& tx) {
    return outbox.Enqueue(tx, bus::OutgoingMessage{"optimus.test", "k", "v", {}});
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("ce_type"));
}

TEST_P(StoreContractTest, ExactlyOnceSkipsRedeliveredMessages) {
  Migrate(*db_);
  ASSERT_TRUE(db_->Execute("CREATE TABLE effects (id TEXT NOT NULL)").ok());
  auto handler = ExactlyOnce(*db_, "counter", [](Transaction& tx, const bus::Message& m) {
    return tx.Execute("INSERT INTO effects (id) VALUES ($1)", {m.payload}).status();
  });
  bus::Message m;
  m.topic = "t";
  m.payload = "one";
  m.headers = {{bus::kCeId, "id-1"}};
  ASSERT_TRUE(handler(m).ok());
  ASSERT_TRUE(handler(m).ok());
  bus::Message other = m;
  other.headers = {{bus::kCeId, "id-2"}};
  other.payload = "two";
  ASSERT_TRUE(handler(other).ok());
  auto count = db_->Execute("SELECT COUNT(*) FROM effects");
  EXPECT_EQ(count->rows[0].Int(0), 2);

  // An effect that fails records nothing, so the retry applies it.
  bus::Message failing = m;
  failing.headers = {{bus::kCeId, "id-3"}};
  int calls = 0;
  auto flaky = ExactlyOnce(*db_, "counter", [&](Transaction& tx, const bus::Message& msg) {
    if (++calls == 1) return absl::UnavailableError("transient");
    return tx.Execute("INSERT INTO effects (id) VALUES ($1)", {msg.payload}).status();
  });
  EXPECT_FALSE(flaky(failing).ok());
  EXPECT_TRUE(flaky(failing).ok());
  EXPECT_EQ(db_->Execute("SELECT COUNT(*) FROM effects")->rows[0].Int(0), 3);
}

TEST_P(StoreContractTest, BatchAppliesEachNewMessageOnceInOneTransaction) {
  Migrate(*db_);
  ASSERT_TRUE(db_->Execute("CREATE TABLE effects (id TEXT NOT NULL)").ok());
  auto effect = [](Transaction& tx, const bus::Message& m) {
    if (m.payload == "poison") return absl::InvalidArgumentError("cannot apply");
    return tx.Execute("INSERT INTO effects (id) VALUES ($1)", {m.payload}).status();
  };
  auto message = [](std::string id, std::string payload, int64_t offset) {
    bus::Message m;
    m.topic = "t";
    m.offset = offset;
    m.payload = std::move(payload);
    m.headers = {{bus::kCeId, std::move(id)}};
    return m;
  };
  // "a" arrives twice in one batch (a re-published record) and again in the next batch.
  ASSERT_TRUE(ApplyBatchExactlyOnce(
                  *db_, "c",
                  {message("a", "a", 0), message("b", "b", 1), message("a", "a-again", 2)}, effect)
                  .ok());
  ASSERT_TRUE(
      ApplyBatchExactlyOnce(*db_, "c", {message("a", "a", 3), message("c", "c", 4)}, effect).ok());
  auto rows = db_->Execute("SELECT id FROM effects ORDER BY id");
  ASSERT_EQ(rows->rows.size(), 3u);
  EXPECT_EQ(rows->rows[0].Text(0), "a");
  EXPECT_EQ(rows->rows[1].Text(0), "b");
  EXPECT_EQ(rows->rows[2].Text(0), "c");

  // A failing effect rolls back the whole batch, bookkeeping included, and names the record.
  absl::Status s =
      ApplyBatchExactlyOnce(*db_, "c", {message("d", "d", 5), message("e", "poison", 6)}, effect);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("t/0/6: cannot apply"));
  ASSERT_TRUE(ApplyBatchExactlyOnce(*db_, "c", {message("d", "d", 5)}, effect).ok());
  EXPECT_EQ(db_->Execute("SELECT COUNT(*) FROM effects")->rows[0].Int(0), 4);
}

TEST_P(StoreContractTest, NotifyWakesAWaiterAfterCommit) {
  std::atomic<bool> woken{false};
  std::thread waiter([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!woken && std::chrono::steady_clock::now() < deadline) {
      if (db_->WaitForNotification("chan", 200)) woken = true;
    }
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!woken && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(db_->InTransaction([](Transaction& tx) { return tx.Notify("chan"); }).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  waiter.join();
  EXPECT_TRUE(woken);
}

}  // namespace
}  // namespace optimus::store
