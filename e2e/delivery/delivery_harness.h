// Drives delivery_worker processes through an outbox → relay → bus → consumer run with
// SIGKILLs in the middle, then checks that every event's effect happened exactly once.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "optimus/store/database.h"
#include "optimus/testing/testing.h"

extern char** environ;

namespace optimus::e2e {

struct DeliverySetup {
  std::string producer_db;  // Holds the outbox.
  std::string consumer_db;  // Holds the effects and the processed-message log.
  std::string bus;
  std::string topic;
  std::string group;
  std::string schema_prefix;  // PostgreSQL: producer and consumer schemas.
};

class Worker {
 public:
  explicit Worker(std::vector<std::string> args) {
    std::vector<char*> argv;
    args.insert(args.begin(), DELIVERY_WORKER_PATH);
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0) pid_ = -1;
  }
  ~Worker() { Kill(); }

  void Kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
  }

  // The exit code, or -signal.
  int Wait() {
    if (pid_ <= 0) return exit_;
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    exit_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    return exit_;
  }

  bool Exited() {
    if (pid_ <= 0) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      exit_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      return true;
    }
    return false;
  }

  bool started() const { return pid_ > 0 || exit_ != -1000; }

 private:
  pid_t pid_ = -1;
  int exit_ = -1000;
};

inline int64_t Count(store::Database& db, const std::string& sql) {
  auto r = db.Execute(sql);
  if (!r.ok() || r->rows.empty()) return -1;  // Table not there yet.
  return r->rows[0].Int(0);
}

// Waits until `sql` counts at least `target`, or the deadline passes; returns the last count.
inline int64_t WaitForCount(store::Database& db, const std::string& sql, int64_t target,
                            std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int64_t n = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    n = Count(db, sql);
    if (n >= target) return n;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return n;
}

inline void RunKillAndRestart(const DeliverySetup& s, int64_t events) {
  const std::string producer_schema = s.schema_prefix + "_producer";
  const std::string consumer_schema = s.schema_prefix + "_consumer";
  Worker produce({"produce", "--db", s.producer_db, "--schema", producer_schema, "--topic", s.topic,
                  "--count", std::to_string(events)});
  ASSERT_EQ(produce.Wait(), 0);

  auto producer_db = store::OpenDatabase(s.producer_db, producer_schema);
  ASSERT_TRUE(producer_db.ok()) << producer_db.status();
  const std::vector<std::string> relay_args = {"relay",    "--db",          s.producer_db,
                                               "--schema", producer_schema, "--bus",
                                               s.bus,      "--topic",       s.topic};
  const std::vector<std::string> consume_args = {"consume",
                                                 "--db",
                                                 s.consumer_db,
                                                 "--schema",
                                                 consumer_schema,
                                                 "--bus",
                                                 s.bus,
                                                 "--topic",
                                                 s.topic,
                                                 "--group",
                                                 s.group,
                                                 "--expect",
                                                 std::to_string(events)};

  auto relay = std::make_unique<Worker>(relay_args);
  auto consumer = std::make_unique<Worker>(consume_args);

  // Kill the relay once part of the outbox is out: a batch published but not yet marked
  // is published again after the restart, so the bus carries duplicates.
  const std::string published = "SELECT COUNT(*) FROM outbox WHERE published_at_ms IS NOT NULL";
  EXPECT_GE(WaitForCount(**producer_db, published, events / 4, std::chrono::seconds(120)),
            events / 4);
  relay->Kill();
  relay = std::make_unique<Worker>(relay_args);

  // Kill the consumer in the middle of the stream.
  auto consumer_db = [&] {
    for (int i = 0; i < 500; ++i) {
      auto db = store::OpenDatabase(s.consumer_db, consumer_schema);
      if (db.ok()) return *std::move(db);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::unique_ptr<store::Database>();
  }();
  ASSERT_NE(consumer_db, nullptr);
  const int64_t at_kill = WaitForCount(*consumer_db, "SELECT COUNT(*) FROM effects", events / 3,
                                       std::chrono::seconds(120));
  ASSERT_GE(at_kill, events / 3);
  consumer->Kill();
  const int64_t after_kill = Count(*consumer_db, "SELECT COUNT(*) FROM effects");
  EXPECT_LT(after_kill, events) << "the consumer finished before it could be killed";

  consumer = std::make_unique<Worker>(consume_args);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
  while (!consumer->Exited() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(consumer->Wait(), 0) << "the restarted consumer did not finish";
  // Let the relay drain whatever duplicates it still had, then stop it.
  WaitForCount(**producer_db, published, events, std::chrono::seconds(60));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  relay->Kill();

  EXPECT_EQ(Count(**producer_db, published), events);
  EXPECT_EQ(Count(*consumer_db, "SELECT COUNT(*) FROM effects"), events);
  EXPECT_EQ(Count(*consumer_db, "SELECT COUNT(DISTINCT event_id) FROM effects"), events);
  EXPECT_EQ(Count(*consumer_db, "SELECT COUNT(DISTINCT seq) FROM effects"), events);
  EXPECT_EQ(Count(*consumer_db, "SELECT MIN(seq) FROM effects"), 0);
  EXPECT_EQ(Count(*consumer_db, "SELECT MAX(seq) FROM effects"), events - 1);
  std::printf(
      "delivery: %lld events, consumer killed at %lld effects, exactly once after restart\n",
      static_cast<long long>(events), static_cast<long long>(after_kill));
}

}  // namespace optimus::e2e
