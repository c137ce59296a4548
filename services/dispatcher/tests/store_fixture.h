// A dispatcher schema on a fresh SQLite file (or PostgreSQL schema), with the events its outbox
// holds, for the store and dispatcher tests.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "optimus/blob/blob_store.h"
#include "optimus/dispatcher/dispatcher.h"
#include "optimus/events/v1/runs.pb.h"
#include "optimus/store/migrations.h"
#include "optimus/telemetry/metrics.h"
#include "optimus/testing/testing.h"

namespace optimus::dispatcher {

inline std::unique_ptr<store::Database> OpenDispatcherDb(const std::string& uri,
                                                         const std::string& schema) {
  auto db = store::OpenDatabase(uri, schema);
  EXPECT_TRUE(db.ok()) << db.status();
  if (!db.ok()) return nullptr;
  EXPECT_TRUE(store::ApplyMigrations(**db, "store", store::CoreMigrations()).ok());
  absl::Status s = store::ApplyMigrations(**db, "dispatcher", Dispatcher::Migrations());
  EXPECT_TRUE(s.ok()) << s;
  return *std::move(db);
}

// The optimus.job.runs events enqueued after id `*after` (advanced past them).
inline std::vector<events::v1::JobRunEvent> RunEvents(store::Database& db, int64_t* after) {
  auto rows = db.Execute(
      "SELECT id, payload FROM outbox WHERE topic = 'optimus.job.runs' AND id > $1 ORDER BY id",
      {*after});
  EXPECT_TRUE(rows.ok()) << rows.status();
  std::vector<events::v1::JobRunEvent> out;
  if (!rows.ok()) return out;
  for (const auto& row : rows->rows) {
    *after = row.Int(0);
    out.emplace_back().ParseFromString(row.Text(1));
  }
  return out;
}

inline std::vector<std::string> Types(const std::vector<events::v1::JobRunEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.type());
  return out;
}

// `n` ended executions, and the native runs they were, of a job "old/history": what a server
// that has run for long holds, for the tests that hold hot paths to their indexes.
inline void AddHistory(store::Database& db, int64_t n) {
  auto executions = db.Execute(
      "WITH RECURSIVE n(i) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < "
      "$1) "
      "INSERT INTO executions (id, request_key, kind, project, namespace, name, scheduled_at_ms, "
      "state, attempt, max_attempts, epoch, lease_owner, lease_expires_ms, priority, pool, "
      "message, log_prefix, requested_by, created_ms, started_ms, ended_ms, cancel_requested, "
      "plan, args, timeout_ms, deadline_ms) SELECT 'old-' || i, 'old-' || i, 'job', 'old', 'ns', "
      "'history', i * 3600000, 'succeeded', 1, 1, 1, '', 0, 0, '', '', 'logs/old/', "
      "'scheduler', i, i, i, 0, $2, '', 0, 0 FROM n",
      {n, store::Blob{""}});
  ASSERT_TRUE(executions.ok()) << executions.status();
  auto runs = db.Execute(
      "WITH RECURSIVE n(i) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < "
      "$1) "
      "INSERT INTO sched_runs (job_key, scheduled_at, project, state, try_number, generation, "
      "execution_id, not_before_ms, waiting_since_ms, replay_id, sla_reported, message, "
      "updated_ms) SELECT 'old/history', i * 3600000, 'old', 'succeeded', 1, 0, 'old-' || i, 0, "
      "0, '', 0, '', i FROM n",
      {n});
  ASSERT_TRUE(runs.ok()) << runs.status();
}

// A shell task execution of project p.
inline NewExecution ShellTask(const std::string& name, const std::string& script,
                              int32_t priority = 0, const std::string& pool = "") {
  NewExecution e;
  e.kind = "task";
  e.project = "p";
  e.name = name;
  e.priority = priority;
  e.pool = pool;
  auto* step = e.plan.add_steps();
  step->set_kind(core::v1::ExecutionStep::KIND_TASK);
  step->set_name(name);
  step->set_script(script);
  return e;
}

// A dispatcher on a fresh SQLite file and file object store, with a clock the test moves, and
// executors registered on it.
class DispatcherFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = OpenDispatcherDb("sqlite:" + dir_.File("dispatcher.db"), "dispatcher");
    ASSERT_NE(db_, nullptr);
    auto blob = blob::OpenBlobStore("file://" + dir_.File("blobs"));
    ASSERT_TRUE(blob.ok()) << blob.status();
    blob_ = *std::move(blob);
    auto key = Dispatcher::LoadRunTokenKey(*db_);
    ASSERT_TRUE(key.ok());
    d_ = std::make_unique<Dispatcher>(
        *db_, outbox_, *blob_,
        DispatcherOptions{
            .lease_ms = 1000, .run_token_key = *key, .now_ms = [this] { return now_.load(); }},
        &metrics_.registry());
  }

  ExecutorRecord Registered(int capacity = 1, std::map<std::string, std::string> labels = {}) {
    auto token = d_->executors().CreateRegistrationToken(60000, "test", now_);
    EXPECT_TRUE(token.ok());
    core::v1::RegisterExecutorRequest r;
    r.set_registration_token(token->token);
    r.set_name("ex");
    r.set_capacity(capacity);
    r.mutable_labels()->insert(labels.begin(), labels.end());
    auto registered = d_->Register(r);
    EXPECT_TRUE(registered.ok()) << registered.status();
    auto executor = d_->executors().Authenticate(registered->credential(), now_);
    EXPECT_TRUE(executor.ok()) << executor.status();
    credential_ = registered->credential();
    return *executor;
  }

  core::v1::Execution QueueTask(const std::string& name) {
    auto q = d_->executions().Enqueue(ShellTask(name, "echo hi"), now_);
    EXPECT_TRUE(q.ok());
    return q->execution;
  }

  testing::TempDir dir_;
  telemetry::ScopedMetricsRegistry metrics_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<blob::BlobStore> blob_;
  store::Outbox outbox_{"optimus/dispatcher"};
  std::atomic<int64_t> now_{1'000'000};
  std::unique_ptr<Dispatcher> d_;
  std::string credential_;
};

}  // namespace optimus::dispatcher
