// ExecutorService over gRPC: every call but Register carries the executor's credential as its
// bearer token; run inputs are fetched from runtime-context for the executor, which needs no
// other access (its credential is good for nothing else).
#include <grpcpp/grpcpp.h>

#include <mutex>

#include "apis.h"
#include "optimus/core/v1/dispatch.grpc.pb.h"
#include "optimus/core/v1/job_run.grpc.pb.h"
#include "optimus/rpc/grpc_server.h"
#include "optimus/rpc/status.h"

namespace optimus::dispatcher {
namespace {

class ExecutorApi final : public core::v1::ExecutorService::Service {
 public:
  ExecutorApi(Dispatcher& d, std::function<std::shared_ptr<grpc::Channel>()> runtime,
              std::string internal_token)
      : d_(d), runtime_channel_(std::move(runtime)), internal_token_(std::move(internal_token)) {}

  grpc::Status Register(grpc::ServerContext*, const core::v1::RegisterExecutorRequest* req,
                        core::v1::RegisterExecutorResponse* resp) override {
    auto registered = d_.Register(*req);
    if (!registered.ok()) return rpc::ToGrpcStatus(registered.status());
    *resp = *std::move(registered);
    return grpc::Status::OK;
  }

  grpc::Status Heartbeat(grpc::ServerContext* c, const core::v1::HeartbeatRequest* req,
                         core::v1::HeartbeatResponse* resp) override {
    auto executor = Executor(c);
    if (!executor.ok()) return rpc::ToGrpcStatus(executor.status());
    auto beat = d_.Heartbeat(*executor, *req);
    if (!beat.ok()) return rpc::ToGrpcStatus(beat.status());
    *resp = *std::move(beat);
    return grpc::Status::OK;
  }

  grpc::Status Claim(grpc::ServerContext* c, const core::v1::ClaimRequest* req,
                     core::v1::ClaimResponse* resp) override {
    auto executor = Executor(c);
    if (!executor.ok()) return rpc::ToGrpcStatus(executor.status());
    auto claimed = d_.Claim(*executor, *req);
    if (!claimed.ok()) return rpc::ToGrpcStatus(claimed.status());
    *resp = *std::move(claimed);
    return grpc::Status::OK;
  }

  grpc::Status StartExecution(grpc::ServerContext* c, const core::v1::StartExecutionRequest* req,
                              core::v1::StartExecutionResponse*) override {
    auto executor = Executor(c);
    if (!executor.ok()) return rpc::ToGrpcStatus(executor.status());
    return rpc::ToGrpcStatus(d_.Start(*executor, *req));
  }

  grpc::Status FinishExecution(grpc::ServerContext* c, const core::v1::FinishExecutionRequest* req,
                               core::v1::FinishExecutionResponse*) override {
    auto executor = Executor(c);
    if (!executor.ok()) return rpc::ToGrpcStatus(executor.status());
    return rpc::ToGrpcStatus(d_.Finish(*executor, *req));
  }

  grpc::Status AppendLog(grpc::ServerContext* c, const core::v1::AppendLogRequest* req,
                         core::v1::AppendLogResponse*) override {
    auto executor = Executor(c);
    if (!executor.ok()) return rpc::ToGrpcStatus(executor.status());
    return rpc::ToGrpcStatus(d_.AppendLog(*executor, *req));
  }

  grpc::Status RunInput(grpc::ServerContext* c, const core::v1::ExecutorRunInputRequest* req,
                        core::v1::JobRunInputResponse* resp) override {
    auto executor = Executor(c);
    if (!executor.ok()) return rpc::ToGrpcStatus(executor.status());
    auto e = d_.AuthorizeRunInput(*executor, *req);
    if (!e.ok()) return rpc::ToGrpcStatus(e.status());
    return FetchInput(c, *e, req->instance_type(), req->instance_name(), resp);
  }

  // Each item answered as its own call would have answered it, at its index, in three rounds:
  // log chunks; then starts and finishes, together in one transaction (one commit instead of
  // one each); then run inputs. So an executor may send an execution's last log chunks with its
  // finish, and its start with its steps' run inputs, in one call.
  grpc::Status Report(grpc::ServerContext* c, const core::v1::ReportRequest* req,
                      core::v1::ReportResponse* resp) override {
    auto executor = Executor(c);
    if (!executor.ok()) return rpc::ToGrpcStatus(executor.status());
    if (req->items_size() > kMaxReportItems) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "a report carries at most " + std::to_string(kMaxReportItems) +
                              " items, not " + std::to_string(req->items_size()));
    }
    for (int i = 0; i < req->items_size(); ++i) resp->add_results();
    const auto answer = [&](int i, const grpc::Status& s) {
      core::v1::ReportResult& result = *resp->mutable_results(i);
      result.set_code(static_cast<int32_t>(s.error_code()));
      result.set_message(s.error_message());
      if (!s.ok()) result.clear_run_input();
    };
    std::vector<const core::v1::ReportItem*> writes;
    std::vector<int> written_at;
    for (int i = 0; i < req->items_size(); ++i) {
      const core::v1::ReportItem& item = req->items(i);
      switch (item.item_case()) {
        case core::v1::ReportItem::kLog:
          answer(i, rpc::ToGrpcStatus(d_.AppendLog(*executor, item.log())));
          break;
        case core::v1::ReportItem::kStart:
        case core::v1::ReportItem::kFinish:
          writes.push_back(&item);
          written_at.push_back(i);
          break;
        case core::v1::ReportItem::kRunInput:
          break;
        default:
          answer(i, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "an empty report item"));
      }
    }
    const std::vector<absl::Status> written = d_.StartAndFinish(*executor, writes);
    for (size_t k = 0; k < written_at.size(); ++k) {
      answer(written_at[k], rpc::ToGrpcStatus(written[k]));
    }
    for (int i = 0; i < req->items_size(); ++i) {
      const core::v1::ReportItem& item = req->items(i);
      if (!item.has_run_input()) continue;
      auto e = d_.AuthorizeRunInput(*executor, item.run_input());
      answer(i, e.ok() ? FetchInput(c, *e, item.run_input().instance_type(),
                                    item.run_input().instance_name(),
                                    resp->mutable_results(i)->mutable_run_input())
                       : rpc::ToGrpcStatus(e.status()));
    }
    return grpc::Status::OK;
  }

 private:
  static constexpr int kMaxReportItems = 1024;

  // The run input of one step of `e`, from runtime-context.
  grpc::Status FetchInput(grpc::ServerContext* c, const core::v1::Execution& e,
                          const std::string& type, const std::string& name,
                          core::v1::JobRunInputResponse* resp) {
    core::v1::JobRunInputRequest ask;
    ask.set_project_name(e.project());
    ask.set_job_name(e.name());
    *ask.mutable_scheduled_at() = e.scheduled_at();
    ask.set_instance_name(name);
    ask.set_instance_type(type == "hook" ? core::v1::JobRunInputRequest::TYPE_HOOK
                                         : core::v1::JobRunInputRequest::TYPE_TASK);
    ask.set_jobrun_id(e.id());
    grpc::ClientContext out;
    out.set_deadline(
        std::min(c->deadline(), std::chrono::system_clock::now() + std::chrono::seconds(30)));
    if (!internal_token_.empty()) out.AddMetadata("authorization", "Bearer " + internal_token_);
    grpc::Status s = Runtime().JobRunInput(&out, ask, resp);
    if (!s.ok() && s.error_code() == grpc::StatusCode::UNAVAILABLE) {
      return grpc::Status(s.error_code(), "runtime-context did not answer: " + s.error_message());
    }
    if (s.error_code() == grpc::StatusCode::NOT_FOUND && StillDeployed(e)) {
      // runtime-context reads deploys from the bus on its own and may not have applied the
      // one the scheduler planned this run from: the executor asks again (a retryable code),
      // instead of failing the run over a lag of a few seconds.
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "runtime-context has not applied the deploy of job " + e.name() +
                              " yet (" + s.error_message() + "); ask again");
    }
    return s;
  }

  bool StillDeployed(const core::v1::Execution& e) {
    bool deployed = false;
    absl::Status s = d_.db().InReadTransaction([&](store::Transaction& tx) -> absl::Status {
      auto found = JobPlans::Deployed(tx, e.project(), e.name());
      if (!found.ok()) return found.status();
      deployed = *found;
      return absl::OkStatus();
    });
    return s.ok() && deployed;
  }

  absl::StatusOr<ExecutorRecord> Executor(grpc::ServerContext* c) {
    return d_.executors().Authenticate(rpc::BearerToken(rpc::CallAuthorization(c)), d_.Now());
  }

  // The channel is made once the servers listen (optimus serve: its own server, in process).
  core::v1::JobRunService::Stub& Runtime() {
    std::call_once(runtime_once_,
                   [this] { runtime_ = core::v1::JobRunService::NewStub(runtime_channel_()); });
    return *runtime_;
  }

  Dispatcher& d_;
  std::function<std::shared_ptr<grpc::Channel>()> runtime_channel_;
  std::once_flag runtime_once_;
  std::unique_ptr<core::v1::JobRunService::Stub> runtime_;
  std::string internal_token_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeExecutorService(
    Dispatcher& dispatcher, std::function<std::shared_ptr<grpc::Channel>()> runtime,
    std::string internal_token) {
  return std::make_unique<ExecutorApi>(dispatcher, std::move(runtime), std::move(internal_token));
}

}  // namespace optimus::dispatcher
