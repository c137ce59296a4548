// The dispatcher's use cases on SQLite and a file object store: executor registration and
// credentials, capacity-bound claims that wake on new work, catalog arguments, logs, run tokens.
#include "optimus/dispatcher/dispatcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "optimus/telemetry/metrics.h"
#include "store_fixture.h"

namespace optimus::dispatcher {
namespace {

using ::testing::HasSubstr;

class DispatcherTest : public DispatcherFixture {};

TEST_F(DispatcherTest, RegistrationTokensAndCredentials) {
  core::v1::RegisterExecutorRequest r;
  r.set_name("ex");
  EXPECT_EQ(d_->Register(r).status().code(), absl::StatusCode::kUnauthenticated);
  r.set_registration_token("optreg_made-up");
  EXPECT_EQ(d_->Register(r).status().code(), absl::StatusCode::kPermissionDenied);
  auto token = d_->executors().CreateRegistrationToken(1000, "short", now_);
  ASSERT_TRUE(token.ok());
  r.set_registration_token(token->token);
  now_ += 2000;
  auto late = d_->Register(r);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(late.status().message(), HasSubstr("expired"));

  const ExecutorRecord executor = Registered();
  EXPECT_EQ(executor.status, "active");
  EXPECT_EQ(d_->executors().Authenticate("", now_).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(d_->executors().Authenticate(executor.id + ".wrong", now_).status().code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(d_->executors().Revoke(executor.id, now_).ok());
  auto revoked = d_->executors().Authenticate(credential_, now_);
  EXPECT_EQ(revoked.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(revoked.status().message(), HasSubstr("revoked"));
}

TEST_F(DispatcherTest, CredentialsPastTheirLifetimeAreRefused) {
  ExecutorRegistry short_lived(*db_, /*credential_ttl_ms=*/60'000);
  auto token = short_lived.CreateRegistrationToken(60000, "t", now_);
  ASSERT_TRUE(token.ok());
  ExecutorRecord wanted;
  wanted.name = "brief";
  auto registered = short_lived.Register(token->token, wanted, now_);
  ASSERT_TRUE(registered.ok()) << registered.status();
  EXPECT_TRUE(short_lived.Authenticate(registered->credential, now_ + 59'000).ok());
  auto late = short_lived.Authenticate(registered->credential, now_ + 61'000);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(late.status().message(), HasSubstr("expired"));
  EXPECT_THAT(late.status().message(), HasSubstr("register again"));
}

TEST_F(DispatcherTest, SilentExecutorsExpireAndComeBackWithAHeartbeat) {
  const ExecutorRecord executor = Registered();
  ASSERT_TRUE(d_->Reap().ok());  // the dispatcher's first pass starts its clock
  now_ += 31'000;
  ASSERT_TRUE(d_->Reap().ok());
  auto list = d_->executors().List();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->front().status, "expired");
  ASSERT_TRUE(d_->Heartbeat(executor, {}).ok());
  EXPECT_EQ(d_->executors().List()->front().status, "active");
}

TEST_F(DispatcherTest, ClaimsRespectCapacityAndWakeWhenWorkArrives) {
  const ExecutorRecord executor = Registered(/*capacity=*/1);
  core::v1::ClaimRequest ask;
  ask.set_max(4);
  ask.set_wait_ms(5000);
  std::thread producer([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    QueueTask("late");
  });
  auto claimed = d_->Claim(executor, ask);
  producer.join();
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_EQ(claimed->leases_size(), 1);
  EXPECT_EQ(claimed->leases(0).execution().name(), "late");
  EXPECT_FALSE(claimed->leases(0).run_token().empty());
  QueueTask("second");
  ask.set_wait_ms(0);
  auto full = d_->Claim(executor, ask);  // capacity 1, one held
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->leases_size(), 0);
}

TEST_F(DispatcherTest, HousekeepingReadsNoHistory) {
  // Reaping runs four times a second and the gauges every two: over every execution ever, each
  // pass would cost more the longer the server has run (and it holds the write lock).
  const ExecutorRecord executor = Registered(/*capacity=*/2);
  AddHistory(*db_, 3000);
  QueueTask("held");
  QueueTask("waiting");
  core::v1::ClaimRequest ask;
  ask.set_max(1);
  auto claimed = d_->Claim(executor, ask);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_EQ(claimed->leases_size(), 1);
  const int64_t before = db_->RowsScannedInFull();
  ASSERT_TRUE(d_->Reap().ok());
  now_ += 10'000;  // past the lease: requeued
  ASSERT_TRUE(d_->Reap().ok());
  auto open = d_->executions().CountOpen();
  ASSERT_TRUE(open.ok()) << open.status();
  EXPECT_EQ(open->at("queued"), 2);
  EXPECT_EQ(open->at("leased") + open->at("running"), 0);
  EXPECT_LT(db_->RowsScannedInFull() - before, 100);
}

TEST_F(DispatcherTest, CatalogTasksCheckTheirArguments) {
  core::v1::CatalogTask task;
  task.set_name("purge");
  task.set_script("echo purging $TABLE for $DAYS days");
  auto* table = task.add_arguments();
  table->set_name("table");
  table->set_required(true);
  auto* days = task.add_arguments();
  days->set_name("days");
  days->set_default_value("7");
  ASSERT_TRUE(d_->catalog().Create(task, false, now_).ok());
  EXPECT_EQ(d_->catalog().Create(task, false, now_).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(d_->catalog().Create(task, true, now_)->version(), 2);

  core::v1::ExecuteTaskRequest run;
  run.set_project_name("p");
  run.set_task_name("purge");
  (*run.mutable_args())["colour"] = "red";
  auto refused = d_->ExecuteTask(run, "test");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("missing required argument table"));
  EXPECT_THAT(refused.status().message(), HasSubstr("unknown argument colour"));
  run.mutable_args()->clear();
  (*run.mutable_args())["table"] = "t1";
  auto queued = d_->ExecuteTask(run, "test");
  ASSERT_TRUE(queued.ok()) << queued.status();
  const auto& env = queued->plan().steps(0).env();
  EXPECT_EQ(env.at("TABLE"), "t1");
  EXPECT_EQ(env.at("DAYS"), "7");
  run.set_task_name("nope");
  EXPECT_EQ(d_->ExecuteTask(run, "test").status().code(), absl::StatusCode::kNotFound);
  core::v1::CatalogTask empty;
  empty.set_name("empty");
  EXPECT_EQ(d_->catalog().Create(empty, false, now_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(DispatcherTest, LogsAreWrittenByTheLeaseHolderAndReadInChunks) {
  const ExecutorRecord executor = Registered();
  const auto e = QueueTask("talk");
  core::v1::ClaimRequest ask;
  auto claimed = d_->Claim(executor, ask);
  ASSERT_TRUE(claimed.ok() && claimed->leases_size() == 1);
  const int64_t epoch = claimed->leases(0).execution().epoch();
  core::v1::AppendLogRequest chunk;
  chunk.set_execution_id(e.id());
  chunk.set_epoch(epoch);
  chunk.set_chunk(1);
  chunk.set_data("one\n");
  ASSERT_TRUE(d_->AppendLog(executor, chunk).ok());
  chunk.set_chunk(2);
  chunk.set_data("two\n");
  ASSERT_TRUE(d_->AppendLog(executor, chunk).ok());
  chunk.set_epoch(epoch + 1);
  EXPECT_EQ(d_->AppendLog(executor, chunk).code(), absl::StatusCode::kFailedPrecondition);

  core::v1::ReadLogsRequest read;
  read.set_project_name("p");
  read.set_id(e.id());
  auto all = d_->ReadLogs(read);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->data(), "one\ntwo\n");
  EXPECT_EQ(all->last_chunk(), 2);
  EXPECT_EQ(all->state(), "leased");
  // One object per chunk, in the execution's folder.
  auto objects = blob_->List(e.log_prefix());
  ASSERT_TRUE(objects.ok());
  ASSERT_EQ(objects->size(), 2u);
  EXPECT_EQ((*objects)[0].key, e.log_prefix() + "1-0000000001");
  read.set_after_chunk(1);
  EXPECT_EQ(d_->ReadLogs(read)->data(), "two\n");
  read.set_project_name("q");
  EXPECT_EQ(d_->ReadLogs(read).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(DispatcherTest, LogsInTheEarlierLayoutAreStillRead) {
  const ExecutorRecord executor = Registered();
  const auto e = QueueTask("old");
  ASSERT_TRUE(d_->Claim(executor, {}).ok());
  // `<attempt>/<chunk>` objects, as earlier versions wrote them (now `<attempt>-<chunk>`).
  ASSERT_TRUE(blob_->Put(e.log_prefix() + "1/0000000001", "one\n").ok());
  ASSERT_TRUE(blob_->Put(e.log_prefix() + "1/0000000002", "two\n").ok());
  core::v1::ReadLogsRequest read;
  read.set_project_name("p");
  read.set_id(e.id());
  auto all = d_->ReadLogs(read);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->data(), "one\ntwo\n");
  EXPECT_EQ(all->last_chunk(), 2);
}

TEST_F(DispatcherTest, RunInputNeedsTheLeasesRunToken) {
  const ExecutorRecord executor = Registered();
  const auto e = QueueTask("t");
  auto claimed = d_->Claim(executor, {});
  ASSERT_TRUE(claimed.ok() && claimed->leases_size() == 1);
  core::v1::ExecutorRunInputRequest r;
  r.set_execution_id(e.id());
  r.set_epoch(claimed->leases(0).execution().epoch());
  r.set_run_token("optrun_forged");
  EXPECT_EQ(d_->AuthorizeRunInput(executor, r).status().code(),
            absl::StatusCode::kPermissionDenied);
  r.set_run_token(claimed->leases(0).run_token());
  // A catalog task has no run input to fetch; the token itself was accepted.
  EXPECT_EQ(d_->AuthorizeRunInput(executor, r).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(d_->RunToken(e.id(), 1), d_->RunToken(e.id(), 2));
}

TEST_F(DispatcherTest, RequestsFromTheTopicAreQueuedOnce) {
  core::v1::CatalogTask task;
  task.set_name("hello");
  task.set_script("echo hello");
  ASSERT_TRUE(d_->catalog().Create(task, false, now_).ok());
  events::v1::ExecutionRequest request;
  request.set_request_key("replay/p/hello/1");
  request.set_project("p");
  request.set_task("hello");
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(
        db_->InTransaction([&](store::Transaction& tx) { return d_->EnqueueRequest(tx, request); })
            .ok());
  }
  EXPECT_EQ(d_->executions().List({.project = "p"})->size(), 1u);
  request.set_job("also-a-job");
  EXPECT_EQ(
      db_->InTransaction([&](store::Transaction& tx) { return d_->EnqueueRequest(tx, request); })
          .code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace optimus::dispatcher
