// The executor against a dispatcher of its own making, over gRPC in process: with Report, a run
// is two reports (its start with its step's run input, its log with its finish); against a
// dispatcher without Report, the same run is reported one call at a time, in that order.
#include "optimus/executor/executor.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "absl/strings/str_join.h"
#include "optimus/testing/testing.h"

namespace optimus::executor {
namespace {

using core::v1::ExecutorService;

// One job execution to claim, then nothing; records what the executor reports.
class FakeDispatcher : public ExecutorService::Service {
 public:
  explicit FakeDispatcher(bool batched) : batched_(batched) {}

  grpc::Status Heartbeat(grpc::ServerContext*, const core::v1::HeartbeatRequest*,
                         core::v1::HeartbeatResponse*) override {
    return grpc::Status::OK;
  }
  grpc::Status Claim(grpc::ServerContext*, const core::v1::ClaimRequest*,
                     core::v1::ClaimResponse* resp) override {
    std::lock_guard lock(mu_);
    if (claimed_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      return grpc::Status::OK;
    }
    claimed_ = true;
    core::v1::Lease& lease = *resp->add_leases();
    lease.set_run_token("token");
    core::v1::Execution& e = *lease.mutable_execution();
    e.set_id("e1");
    e.set_epoch(1);
    e.set_attempt(1);
    e.set_kind("job");
    auto& step = *e.mutable_plan()->add_steps();
    step.set_kind(core::v1::ExecutionStep::KIND_TASK);
    step.set_name("bq2bq");
    step.set_instance_type("task");
    step.set_script("echo \"$GREETING from $(cat in/query.sql)\"");
    return grpc::Status::OK;
  }
  grpc::Status Report(grpc::ServerContext* c, const core::v1::ReportRequest* req,
                      core::v1::ReportResponse* resp) override {
    if (!batched_) return ExecutorService::Service::Report(c, req, resp);  // UNIMPLEMENTED
    std::vector<std::string> call;
    for (const auto& item : req->items()) {
      core::v1::ReportResult& r = *resp->add_results();
      if (item.has_run_input()) Input(r.mutable_run_input());
      call.push_back(Name(item));
      if (item.has_log()) Log(item.log());
      if (item.has_finish()) Finished(item.finish());
    }
    Record(absl::StrJoin(call, "+"));
    return grpc::Status::OK;
  }
  grpc::Status StartExecution(grpc::ServerContext*, const core::v1::StartExecutionRequest*,
                              core::v1::StartExecutionResponse*) override {
    Record("start");
    return grpc::Status::OK;
  }
  grpc::Status RunInput(grpc::ServerContext*, const core::v1::ExecutorRunInputRequest*,
                        core::v1::JobRunInputResponse* resp) override {
    Input(resp);
    Record("run_input");
    return grpc::Status::OK;
  }
  grpc::Status AppendLog(grpc::ServerContext*, const core::v1::AppendLogRequest* req,
                         core::v1::AppendLogResponse*) override {
    Log(*req);
    Record("log");
    return grpc::Status::OK;
  }
  grpc::Status FinishExecution(grpc::ServerContext*, const core::v1::FinishExecutionRequest* req,
                               core::v1::FinishExecutionResponse*) override {
    Finished(*req);
    Record("finish");
    return grpc::Status::OK;
  }

  // The calls, once the execution finished (each "a+b" is one Report).
  std::vector<std::string> WaitForFinish() {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(20), [&] {
      return !calls_.empty() && calls_.back().find("finish") != std::string::npos;
    });
    return calls_;
  }
  std::string log() {
    std::lock_guard lock(mu_);
    return log_;
  }
  std::string finished_state() {
    std::lock_guard lock(mu_);
    return finished_state_;
  }

 private:
  static std::string Name(const core::v1::ReportItem& item) {
    return item.has_start()       ? "start"
           : item.has_log()       ? "log"
           : item.has_run_input() ? "run_input"
                                  : "finish";
  }
  static void Input(core::v1::JobRunInputResponse* input) {
    (*input->mutable_envs())["GREETING"] = "hello";
    (*input->mutable_files())["query.sql"] = "select 1";
  }
  void Finished(const core::v1::FinishExecutionRequest& req) {
    std::lock_guard lock(mu_);
    finished_state_ = req.state();
  }
  void Log(const core::v1::AppendLogRequest& req) {
    std::lock_guard lock(mu_);
    log_ += req.data();
  }
  void Record(const std::string& call) {
    std::lock_guard lock(mu_);
    calls_.push_back(call);
    cv_.notify_all();
  }

  const bool batched_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool claimed_ = false;
  std::vector<std::string> calls_;
  std::string log_;
  std::string finished_state_;
};

std::vector<std::string> RunOne(FakeDispatcher& fake, const std::string& work) {
  grpc::ServerBuilder builder;
  builder.RegisterService(&fake);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  Executor executor(ExecutorOptions{.name = "test",
                                    .credential = "x.y",
                                    .capacity = 1,
                                    .work_root = work,
                                    .claim_wait = std::chrono::milliseconds(50)},
                    server->InProcessChannel(grpc::ChannelArguments()));
  std::stop_source stop;
  std::thread loop([&] { EXPECT_TRUE(executor.Run(stop.get_token()).ok()); });
  std::vector<std::string> calls = fake.WaitForFinish();
  stop.request_stop();
  loop.join();
  server->Shutdown();
  return calls;
}

TEST(Executor, ARunIsTwoReportsAStartWithItsInputsAndItsLogWithItsFinish) {
  testing::TempDir tmp;
  FakeDispatcher fake(/*batched=*/true);
  // Log chunks of a step slower than the shipper's 300 ms may go on their own in between.
  std::vector<std::string> calls = RunOne(fake, tmp.File("work"));
  ASSERT_GE(calls.size(), 2u);
  EXPECT_EQ(calls.front(), "start+run_input");
  EXPECT_EQ(calls.back(), "log+finish");
  for (size_t i = 1; i + 1 < calls.size(); ++i) EXPECT_EQ(calls[i], "log");
  EXPECT_EQ(fake.finished_state(), "succeeded");
  EXPECT_NE(fake.log().find("hello from select 1\n"), std::string::npos) << fake.log();
  // Its slot is under its own id ("x" of the credential "x.y"): executors may share a work dir.
  EXPECT_TRUE(std::filesystem::is_directory(tmp.File("work") + "/x/slot-0/0-bq2bq/in"));
}

TEST(Executor, ADispatcherWithoutReportIsToldOneCallAtATime) {
  testing::TempDir tmp;
  FakeDispatcher fake(/*batched=*/false);
  std::vector<std::string> calls = RunOne(fake, tmp.File("work"));
  ASSERT_GE(calls.size(), 4u);
  EXPECT_EQ(calls[0], "start");
  EXPECT_EQ(calls[1], "run_input");
  for (size_t i = 2; i + 1 < calls.size(); ++i) EXPECT_EQ(calls[i], "log");
  EXPECT_EQ(calls.back(), "finish");
  EXPECT_EQ(fake.finished_state(), "succeeded");
  EXPECT_NE(fake.log().find("hello from select 1\n"), std::string::npos) << fake.log();
}

}  // namespace
}  // namespace optimus::executor
