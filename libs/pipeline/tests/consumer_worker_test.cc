// ConsumerWorker on the embedded bus and SQLite: after a rollback, the state a service keeps next
// to its database is restored before anything runs on it again.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "optimus/bus/embedded_bus.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/store/database.h"
#include "optimus/store/migrations.h"
#include "optimus/testing/testing.h"

namespace optimus::pipeline {
namespace {

bool WaitUntil(const std::function<bool()>& done) {
  for (int i = 0; i < 1000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// An embedded bus and a SQLite database with the store's tables, in a folder of the test's.
struct WorkerPlace {
  void Open() {
    auto opened_bus = bus::OpenEmbeddedBus({.path = dir.File("bus.db"), .synchronous_full = false});
    ASSERT_TRUE(opened_bus.ok()) << opened_bus.status();
    bus = *std::move(opened_bus);
    auto opened_db = store::OpenDatabase("sqlite:" + dir.File("state.db"), "worker");
    ASSERT_TRUE(opened_db.ok()) << opened_db.status();
    db = *std::move(opened_db);
    ASSERT_TRUE(store::ApplyMigrations(*db, "worker", store::CoreMigrations()).ok());
    auto opened_publisher = bus->NewPublisher();
    ASSERT_TRUE(opened_publisher.ok());
    publisher = *std::move(opened_publisher);
  }
  testing::TempDir dir;
  std::unique_ptr<bus::Bus> bus;
  std::unique_ptr<store::Database> db;
  std::unique_ptr<bus::Publisher> publisher;
};

// A record fails; restoring the state then fails twice (the database is away) and succeeds on the
// third call. No record, batch or idle call may run in between, and nothing is dead-lettered.
TEST(ConsumerWorker, NothingRunsOnStateThatCouldNotBeRestored) {
  WorkerPlace t;
  ASSERT_NO_FATAL_FAILURE(t.Open());
  for (const char* key : {"a", "b", "c"}) {
    ASSERT_TRUE(t.publisher->Publish({.topic = "t", .key = key, .payload = key}).ok());
  }

  std::mutex mu;
  bool state_ok = true;
  int restores = 0, ran_on_stale = 0, idle_on_stale = 0, failed_once = 0;
  std::vector<std::string> applied;
  ConsumerWorker worker(
      *t.bus, *t.db,
      ConsumerWorker::Options{.group = "g",
                              .topics = {"t"},
                              .after_failure = [&]() -> absl::Status {
                                std::lock_guard lock(mu);
                                if (++restores < 3)
                                  return absl::UnavailableError("database restarting");
                                state_ok = true;
                                return absl::OkStatus();
                              },
                              .on_idle =
                                  [&] {
                                    std::lock_guard lock(mu);
                                    if (!state_ok) ++idle_on_stale;
                                  }},
      [&](store::Transaction&, const bus::Message& m) -> absl::Status {
        std::lock_guard lock(mu);
        if (!state_ok) ++ran_on_stale;
        if (m.key == "b" && failed_once++ == 0) {
          state_ok = false;  // the rollback leaves the in-memory state behind the database
          return absl::UnavailableError("connection lost mid-transaction");
        }
        applied.push_back(m.key);
        return absl::OkStatus();
      });
  ASSERT_TRUE(worker.Start().ok());
  EXPECT_TRUE(WaitUntil([&] {
    std::lock_guard lock(mu);
    for (const char* key : {"a", "b", "c"}) {
      if (std::find(applied.begin(), applied.end(), key) == applied.end()) return false;
    }
    return true;
  }));
  worker.Stop();
  std::lock_guard lock(mu);
  EXPECT_EQ(restores, 3);
  EXPECT_EQ(ran_on_stale, 0);
  EXPECT_EQ(idle_on_stale, 0);
  EXPECT_EQ(worker.dead_lettered(), 0u);
  // "a" may come twice: the first batch of all three rolled back as a whole.
  EXPECT_THAT(applied, ::testing::IsSupersetOf({"a", "b", "c"}));
}

// Records the effect does not act on cost no transaction and leave no bookkeeping; the others
// are applied once.
TEST(ConsumerWorker, RecordsTurnedDownAreNotWrittenDown) {
  WorkerPlace t;
  ASSERT_NO_FATAL_FAILURE(t.Open());
  for (int i = 0; i < 50; ++i) {
    const std::string payload = i % 10 == 0 ? "mine" : "theirs";
    ASSERT_TRUE(
        t.publisher->Publish({.topic = "t", .key = std::to_string(i), .payload = payload}).ok());
  }
  std::mutex mu;
  std::vector<std::string> applied;
  std::atomic<int> judged{0};
  ConsumerWorker worker(*t.bus, *t.db,
                        ConsumerWorker::Options{.group = "g",
                                                .topics = {"t"},
                                                .wanted =
                                                    [&](const bus::Message& m) {
                                                      ++judged;
                                                      return m.payload == "mine";
                                                    }},
                        [&](store::Transaction&, const bus::Message& m) -> absl::Status {
                          std::lock_guard lock(mu);
                          applied.push_back(m.key);
                          return absl::OkStatus();
                        });
  ASSERT_TRUE(worker.Start().ok());
  EXPECT_TRUE(WaitUntil([&] { return worker.processed() >= 50; }));
  worker.Stop();
  std::lock_guard lock(mu);
  EXPECT_THAT(applied, ::testing::UnorderedElementsAre("0", "10", "20", "30", "40"));
  EXPECT_GE(judged.load(), 50);
  auto rows = t.db->Execute("SELECT COUNT(*) FROM processed_messages");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->rows.front().Int(0), 5);
}

}  // namespace
}  // namespace optimus::pipeline
