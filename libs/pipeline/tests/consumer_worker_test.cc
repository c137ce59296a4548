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

// A record fails; restoring the state then fails twice (the database is away) and succeeds on the
// third call. No record, batch or idle call may run in between, and nothing is dead-lettered.
TEST(ConsumerWorker, NothingRunsOnStateThatCouldNotBeRestored) {
  testing::TempDir dir;
  auto bus = bus::OpenEmbeddedBus({.path = dir.File("bus.db"), .synchronous_full = false});
  ASSERT_TRUE(bus.ok()) << bus.status();
  auto db = store::OpenDatabase("sqlite:" + dir.File("state.db"), "worker");
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE(store::ApplyMigrations(**db, "worker", store::CoreMigrations()).ok());
  auto publisher = (*bus)->NewPublisher();
  ASSERT_TRUE(publisher.ok());
  for (const char* key : {"a", "b", "c"}) {
    ASSERT_TRUE((*publisher)->Publish({.topic = "t", .key = key, .payload = key}).ok());
  }

  std::mutex mu;
  bool state_ok = true;
  int restores = 0, ran_on_stale = 0, idle_on_stale = 0, failed_once = 0;
  std::vector<std::string> applied;
  ConsumerWorker worker(
      **bus, **db,
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
// are applied once, and a record the filter cannot judge is wanted (the effect reports it).
TEST(ConsumerWorker, RecordsTurnedDownAreNotWrittenDown) {
  testing::TempDir dir;
  auto bus = bus::OpenEmbeddedBus({.path = dir.File("bus.db"), .synchronous_full = false});
  ASSERT_TRUE(bus.ok()) << bus.status();
  auto db = store::OpenDatabase("sqlite:" + dir.File("state.db"), "worker");
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE(store::ApplyMigrations(**db, "worker", store::CoreMigrations()).ok());
  auto publisher = (*bus)->NewPublisher();
  ASSERT_TRUE(publisher.ok());
  for (int i = 0; i < 50; ++i) {
    const std::string payload = i % 10 == 0 ? "mine" : "theirs";
    ASSERT_TRUE(
        (*publisher)->Publish({.topic = "t", .key = std::to_string(i), .payload = payload}).ok());
  }
  std::mutex mu;
  std::vector<std::string> applied;
  std::atomic<int> judged{0};
  ConsumerWorker worker(**bus, **db,
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
  auto rows = (*db)->Execute("SELECT COUNT(*) FROM processed_messages");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->rows.front().Int(0), 5);
}

}  // namespace
}  // namespace optimus::pipeline
