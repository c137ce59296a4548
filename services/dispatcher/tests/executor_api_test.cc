// ExecutorService over a real gRPC server: a batched Report does each item as its own call
// would (its starts and finishes in one transaction), answering each at its index; a run input for
// a job that runtime-context has not heard of yet, though the dispatcher has, is a retryable answer
// rather than a failed run.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "../src/apis.h"
#include "optimus/core/v1/dispatch.grpc.pb.h"
#include "optimus/core/v1/job_run.grpc.pb.h"
#include "optimus/pipeline/pipeline.h"
#include "store_fixture.h"

namespace optimus::dispatcher {
namespace {

using ::testing::HasSubstr;

// runtime-context as it answers before it has applied a deploy: no such job.
class LaggingRuntime final : public core::v1::JobRunService::Service {
  grpc::Status JobRunInput(grpc::ServerContext*, const core::v1::JobRunInputRequest* req,
                           core::v1::JobRunInputResponse* resp) override {
    if (req->job_name() == "known") {
      (*resp->mutable_envs())["JOB"] = req->job_name();
      return grpc::Status::OK;
    }
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        "no job " + req->job_name() + " in project " + req->project_name());
  }
};

class ExecutorApiTest : public DispatcherFixture {
 protected:
  void SetUp() override {
    DispatcherFixture::SetUp();
    api_ = MakeExecutorService(
        *d_, [this] { return server_->InProcessChannel(grpc::ChannelArguments()); }, "");
    grpc::ServerBuilder builder;
    builder.RegisterService(api_.get());
    builder.RegisterService(&runtime_);
    server_ = builder.BuildAndStart();
    stub_ = core::v1::ExecutorService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));

    Registered(8);  // its credential_ is the one the calls carry
  }

  void TearDown() override { server_->Shutdown(); }

  // A job execution of project p, claimed by the test's executor.
  core::v1::Lease Claimed(const std::string& job) {
    NewExecution n;
    n.project = "p";
    n.name = job;
    n.plan.add_steps()->set_kind(core::v1::ExecutionStep::KIND_TASK);
    EXPECT_TRUE(d_->executions().Enqueue(n, d_->Now()).ok());
    core::v1::ClaimRequest ask;
    ask.set_max(1);
    core::v1::ClaimResponse claimed;
    grpc::ClientContext c;
    Authorize(c);
    EXPECT_TRUE(stub_->Claim(&c, ask, &claimed).ok());
    EXPECT_EQ(claimed.leases_size(), 1);
    return claimed.leases(0);
  }

  void Authorize(grpc::ClientContext& c) {
    c.AddMetadata("authorization", "Bearer " + credential_);
  }

  core::v1::ReportResponse Report(const core::v1::ReportRequest& request) {
    core::v1::ReportResponse response;
    grpc::ClientContext c;
    Authorize(c);
    grpc::Status s = stub_->Report(&c, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  static core::v1::ReportItem Input(const core::v1::Lease& lease) {
    core::v1::ReportItem item;
    auto& r = *item.mutable_run_input();
    r.set_execution_id(lease.execution().id());
    r.set_epoch(lease.execution().epoch());
    r.set_run_token(lease.run_token());
    r.set_instance_type("task");
    r.set_instance_name("bq2bq");
    return item;
  }

  std::unique_ptr<grpc::Service> api_;
  LaggingRuntime runtime_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<core::v1::ExecutorService::Stub> stub_;
};

TEST_F(ExecutorApiTest, AReportAnswersEachItemAtItsIndexAsItsOwnCallWould) {
  const core::v1::Lease a = Claimed("known");
  const core::v1::Lease b = Claimed("known");
  const core::v1::Lease c = Claimed("known");
  const auto start = [](core::v1::ReportRequest& r, const core::v1::Lease& lease, int64_t epoch) {
    auto* start = r.add_items()->mutable_start();
    start->set_execution_id(lease.execution().id());
    start->set_epoch(epoch);
  };
  core::v1::ReportRequest first;
  start(first, b, b.execution().epoch());
  start(first, c, c.execution().epoch());
  ASSERT_EQ(Report(first).results_size(), 2);

  // As an executor batches them: no two items of one execution that depend on each other.
  core::v1::ReportRequest request;
  start(request, a, a.execution().epoch());
  *request.add_items() = Input(b);
  auto* log = request.add_items()->mutable_log();
  log->set_execution_id(b.execution().id());
  log->set_epoch(b.execution().epoch());
  log->set_chunk(1);
  log->set_data("done\n");
  auto* finish = request.add_items()->mutable_finish();
  finish->set_execution_id(c.execution().id());
  finish->set_epoch(c.execution().epoch());
  finish->set_state("succeeded");
  start(request, b, b.execution().epoch() + 7);  // an epoch b's lease never had
  auto* bad = request.add_items()->mutable_finish();
  bad->set_execution_id(a.execution().id());
  bad->set_epoch(a.execution().epoch());
  bad->set_state("running");  // not an end
  request.add_items();        // empty

  const core::v1::ReportResponse response = Report(request);
  ASSERT_EQ(response.results_size(), 7);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(response.results(i).code(), 0) << i;
  EXPECT_EQ(response.results(1).run_input().envs().at("JOB"), "known");
  EXPECT_EQ(response.results(4).code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(response.results(5).code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(response.results(5).message(), HasSubstr("not \"running\""));
  EXPECT_EQ(response.results(6).code(), grpc::StatusCode::INVALID_ARGUMENT);
  const auto state = [&](const core::v1::Lease& l) {
    auto e = d_->executions().Get("p", l.execution().id());
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? e->state() : "";
  };
  EXPECT_EQ(state(a), "running");
  EXPECT_EQ(state(b), "running");
  EXPECT_EQ(state(c), "succeeded");
}

TEST_F(ExecutorApiTest, AReportNeedsTheExecutorsCredential) {
  core::v1::ReportRequest request;
  request.add_items();
  core::v1::ReportResponse response;
  grpc::ClientContext c;
  EXPECT_EQ(stub_->Report(&c, request, &response).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(ExecutorApiTest, ARunInputAheadOfRuntimeContextIsRetryableNotAFailure) {
  // The dispatcher has the job's plan (its scheduler queued the run from it); runtime-context
  // has not applied that deploy yet.
  ASSERT_TRUE(db_->Execute("INSERT INTO plan_jobs (job_key, namespace, spec_version, spec_yaml, "
                           "priority, error) VALUES ($1, 'ns', 1, '', 0, '')",
                           {pipeline::JobKey("p", "deploying")})
                  .ok());
  const core::v1::Lease deploying = Claimed("deploying");
  const core::v1::Lease deleted = Claimed("deleted");
  core::v1::ReportRequest request;
  *request.add_items() = Input(deploying);
  *request.add_items() = Input(deleted);
  const core::v1::ReportResponse response = Report(request);
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(response.results(0).message(),
              HasSubstr("runtime-context has not applied the deploy of job deploying yet"));
  // A job the dispatcher does not know either is not coming: its run fails at once.
  EXPECT_EQ(response.results(1).code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(response.results(1).message(), "no job deleted in project p");
}

}  // namespace
}  // namespace optimus::dispatcher
