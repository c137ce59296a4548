// ExecutionService, CatalogService and ExecutorAdminService over gRPC: check the caller, then ask
// the Dispatcher.
#include <grpcpp/grpcpp.h>

#include "apis.h"
#include "google/protobuf/util/time_util.h"
#include "optimus/core/v1/dispatch.grpc.pb.h"
#include "optimus/dispatcher/scheduler.h"
#include "optimus/integration/v1beta1/replay.grpc.pb.h"
#include "optimus/rpc/grpc_server.h"
#include "optimus/rpc/status.h"

namespace optimus::dispatcher {
namespace {

using google::protobuf::util::TimeUtil;

// The caller's principal for `method` of `project` (access by the route's rule).
absl::StatusOr<rpc::Principal> Caller(grpc::ServerContext* context,
                                      const rpc::Authenticator* authenticator,
                                      const std::string& method, const std::string& project) {
  if (grpc::Status s = rpc::Authorize(context, authenticator, method, project); !s.ok()) {
    return rpc::FromGrpcStatus(s);
  }
  if (authenticator == nullptr || context == nullptr) return rpc::Principal{.admin = true};
  auto principal = authenticator->Authorize({.route = method, .project = project},
                                            rpc::CallAuthorization(context));
  return principal;
}

template <typename T>
grpc::Status Answer(absl::StatusOr<T> result, T* response) {
  if (!result.ok()) return rpc::ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

class ExecutionApi final : public core::v1::ExecutionService::Service {
 public:
  ExecutionApi(Dispatcher& d, const rpc::Authenticator* a) : d_(d), auth_(a) {}

  grpc::Status ListScheduledRuns(grpc::ServerContext* c,
                                 const core::v1::ListScheduledRunsRequest* req,
                                 core::v1::ListScheduledRunsResponse* resp) override {
    auto who =
        Caller(c, auth_, "optimus.core.v1.ExecutionService/ListScheduledRuns", req->project_name());
    if (!who.ok()) return rpc::ToGrpcStatus(who.status());
    return Answer(dispatcher::ListScheduledRuns(d_.db(), *req), resp);
  }
  grpc::Status ExecuteJob(grpc::ServerContext* c, const core::v1::ExecuteJobRequest* req,
                          core::v1::Execution* resp) override {
    auto who = Caller(c, auth_, "optimus.core.v1.ExecutionService/ExecuteJob", req->project_name());
    if (!who.ok()) return rpc::ToGrpcStatus(who.status());
    return Answer(d_.ExecuteJob(*req, RequesterOf(*who, auth_ != nullptr)), resp);
  }
  grpc::Status ExecuteTask(grpc::ServerContext* c, const core::v1::ExecuteTaskRequest* req,
                           core::v1::Execution* resp) override {
    auto who =
        Caller(c, auth_, "optimus.core.v1.ExecutionService/ExecuteTask", req->project_name());
    if (!who.ok()) return rpc::ToGrpcStatus(who.status());
    return Answer(d_.ExecuteTask(*req, RequesterOf(*who, auth_ != nullptr)), resp);
  }
  grpc::Status GetExecution(grpc::ServerContext* c, const core::v1::GetExecutionRequest* req,
                            core::v1::Execution* resp) override {
    auto who =
        Caller(c, auth_, "optimus.core.v1.ExecutionService/GetExecution", req->project_name());
    if (!who.ok()) return rpc::ToGrpcStatus(who.status());
    return Answer(d_.executions().Get(req->project_name(), req->id()), resp);
  }
  grpc::Status ListExecutions(grpc::ServerContext* c, const core::v1::ListExecutionsRequest* req,
                              core::v1::ListExecutionsResponse* resp) override {
    auto who =
        Caller(c, auth_, "optimus.core.v1.ExecutionService/ListExecutions", req->project_name());
    if (!who.ok()) return rpc::ToGrpcStatus(who.status());
    if (req->project_name().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "listing executions needs project_name");
    }
    auto list = d_.executions().List({.project = req->project_name(),
                                      .name = req->name(),
                                      .states = {req->states().begin(), req->states().end()},
                                      .limit = req->limit(),
                                      .before_id = req->before_id()});
    if (!list.ok()) return rpc::ToGrpcStatus(list.status());
    for (auto& e : *list) *resp->add_executions() = std::move(e);
    return grpc::Status::OK;
  }
  grpc::Status CancelExecution(grpc::ServerContext* c, const core::v1::CancelExecutionRequest* req,
                               core::v1::Execution* resp) override {
    auto who =
        Caller(c, auth_, "optimus.core.v1.ExecutionService/CancelExecution", req->project_name());
    if (!who.ok()) return rpc::ToGrpcStatus(who.status());
    return Answer(d_.executions().Cancel(req->project_name(), req->id(), d_.Now()), resp);
  }
  grpc::Status ReadLogs(grpc::ServerContext* c, const core::v1::ReadLogsRequest* req,
                        core::v1::ReadLogsResponse* resp) override {
    auto who = Caller(c, auth_, "optimus.core.v1.ExecutionService/ReadLogs", req->project_name());
    if (!who.ok()) return rpc::ToGrpcStatus(who.status());
    return Answer(d_.ReadLogs(*req), resp);
  }

 private:
  Dispatcher& d_;
  const rpc::Authenticator* auth_;
};

class CatalogApi final : public core::v1::CatalogService::Service {
 public:
  CatalogApi(Dispatcher& d, const rpc::Authenticator* a) : d_(d), auth_(a) {}

  grpc::Status CreateTask(grpc::ServerContext* c, const core::v1::CreateTaskRequest* req,
                          core::v1::CatalogTask* resp) override {
    if (grpc::Status s = rpc::Authorize(c, auth_, "optimus.core.v1.CatalogService/CreateTask");
        !s.ok()) {
      return s;
    }
    return Answer(d_.catalog().Create(req->task(), req->replace(), d_.Now()), resp);
  }
  grpc::Status GetTask(grpc::ServerContext* c, const core::v1::GetTaskRequest* req,
                       core::v1::CatalogTask* resp) override {
    if (grpc::Status s = rpc::Authorize(c, auth_, "optimus.core.v1.CatalogService/GetTask");
        !s.ok()) {
      return s;
    }
    return Answer(d_.catalog().Get(req->name()), resp);
  }
  grpc::Status ListTasks(grpc::ServerContext* c, const core::v1::ListTasksRequest*,
                         core::v1::ListTasksResponse* resp) override {
    if (grpc::Status s = rpc::Authorize(c, auth_, "optimus.core.v1.CatalogService/ListTasks");
        !s.ok()) {
      return s;
    }
    auto tasks = d_.catalog().List();
    if (!tasks.ok()) return rpc::ToGrpcStatus(tasks.status());
    for (auto& t : *tasks) *resp->add_tasks() = std::move(t);
    return grpc::Status::OK;
  }

 private:
  Dispatcher& d_;
  const rpc::Authenticator* auth_;
};

class ExecutorAdminApi final : public core::v1::ExecutorAdminService::Service {
 public:
  ExecutorAdminApi(Dispatcher& d, const rpc::Authenticator* a) : d_(d), auth_(a) {}

  grpc::Status CreateRegistrationToken(grpc::ServerContext* c,
                                       const core::v1::CreateRegistrationTokenRequest* req,
                                       core::v1::CreateRegistrationTokenResponse* resp) override {
    if (grpc::Status s = rpc::Authorize(
            c, auth_, "optimus.core.v1.ExecutorAdminService/CreateRegistrationToken");
        !s.ok()) {
      return s;
    }
    if (req->valid_seconds() < 0) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "valid_seconds is negative");
    }
    const int64_t valid_ms =
        req->valid_seconds() > 0 ? req->valid_seconds() * 1000 : d_.options().registration_token_ms;
    auto token = d_.executors().CreateRegistrationToken(valid_ms, req->description(), d_.Now());
    if (!token.ok()) return rpc::ToGrpcStatus(token.status());
    resp->set_token(token->token);
    *resp->mutable_expires_at() = TimeUtil::MillisecondsToTimestamp(token->expires_ms);
    return grpc::Status::OK;
  }
  grpc::Status ListExecutors(grpc::ServerContext* c, const core::v1::ListExecutorsRequest*,
                             core::v1::ListExecutorsResponse* resp) override {
    if (grpc::Status s =
            rpc::Authorize(c, auth_, "optimus.core.v1.ExecutorAdminService/ListExecutors");
        !s.ok()) {
      return s;
    }
    auto list = ExecutorsOf(d_);
    if (!list.ok()) return rpc::ToGrpcStatus(list.status());
    *resp = *std::move(list);
    return grpc::Status::OK;
  }
  grpc::Status RevokeExecutor(grpc::ServerContext* c, const core::v1::RevokeExecutorRequest* req,
                              core::v1::RevokeExecutorResponse* resp) override {
    if (grpc::Status s =
            rpc::Authorize(c, auth_, "optimus.core.v1.ExecutorAdminService/RevokeExecutor");
        !s.ok()) {
      return s;
    }
    auto revoked = d_.executors().Revoke(req->id(), d_.Now());
    if (!revoked.ok()) return rpc::ToGrpcStatus(revoked.status());
    *resp->mutable_executor() = ExecutorProto(*revoked, 0);
    return grpc::Status::OK;
  }

 private:
  Dispatcher& d_;
  const rpc::Authenticator* auth_;
};

}  // namespace

core::v1::Executor ExecutorProto(const ExecutorRecord& e, int64_t running) {
  core::v1::Executor out;
  out.set_id(e.id);
  out.set_name(e.name);
  out.mutable_labels()->insert(e.labels.begin(), e.labels.end());
  out.set_capacity(e.capacity);
  out.set_status(e.status == "active" ? (running > 0 ? "running" : "idle") : e.status);
  out.set_running(static_cast<int32_t>(running));
  *out.mutable_registered_at() = TimeUtil::MillisecondsToTimestamp(e.registered_ms);
  *out.mutable_last_seen_at() = TimeUtil::MillisecondsToTimestamp(e.last_seen_ms);
  out.set_version(e.version);
  out.set_host(e.host);
  return out;
}

absl::StatusOr<core::v1::ListExecutorsResponse> ExecutorsOf(Dispatcher& d) {
  auto list = d.executors().List();
  if (!list.ok()) return list.status();
  auto held = d.executions().HeldByExecutor();
  if (!held.ok()) return held.status();
  core::v1::ListExecutorsResponse out;
  for (const auto& e : *list) {
    auto it = held->find(e.id);
    *out.add_executors() = ExecutorProto(e, it == held->end() ? 0 : it->second);
  }
  return out;
}

namespace {

// Optimus's ReplayService (its package, so Optimus's CLI works unchanged).
class ReplayApi final : public replay_api::ReplayService::Service {
 public:
  ReplayApi(Replays& r, const rpc::Authenticator* a) : r_(r), auth_(a) {}

  grpc::Status Replay(grpc::ServerContext* c, const replay_api::ReplayRequest* req,
                      replay_api::ReplayResponse* resp) override {
    auto who = Caller(c, auth_, Method("Replay"), req->project_name());
    if (!who.ok()) return rpc::ToGrpcStatus(who.status());
    auto id = r_.Create(*req, RequesterOf(*who, auth_ != nullptr));
    if (!id.ok()) return rpc::ToGrpcStatus(id.status());
    resp->set_id(*id);
    return grpc::Status::OK;
  }
  grpc::Status ReplayDryRun(grpc::ServerContext* c, const replay_api::ReplayRequest* req,
                            replay_api::ReplayDryRunResponse* resp) override {
    auto who = Caller(c, auth_, Method("ReplayDryRun"), req->project_name());
    if (!who.ok()) return rpc::ToGrpcStatus(who.status());
    return Answer(r_.DryRun(*req), resp);
  }
  grpc::Status ListReplay(grpc::ServerContext* c, const replay_api::ListReplayRequest* req,
                          replay_api::ListReplayResponse* resp) override {
    auto who = Caller(c, auth_, Method("ListReplay"), req->project_name());
    if (!who.ok()) return rpc::ToGrpcStatus(who.status());
    return Answer(r_.List(req->project_name()), resp);
  }
  grpc::Status GetReplay(grpc::ServerContext* c, const replay_api::GetReplayRequest* req,
                         replay_api::GetReplayResponse* resp) override {
    auto who = Caller(c, auth_, Method("GetReplay"), req->project_name());
    if (!who.ok()) return rpc::ToGrpcStatus(who.status());
    return Answer(r_.Get(req->project_name(), req->replay_id()), resp);
  }
  grpc::Status CancelReplay(grpc::ServerContext* c, const replay_api::CancelReplayRequest* req,
                            replay_api::CancelReplayResponse* resp) override {
    auto who = Caller(c, auth_, Method("CancelReplay"), req->project_name());
    if (!who.ok()) return rpc::ToGrpcStatus(who.status());
    return Answer(r_.Cancel(req->project_name(), req->replay_id()), resp);
  }
  grpc::Status GetReplayDetails(grpc::ServerContext* c,
                                const replay_api::GetReplayDetailsRequest* req,
                                replay_api::GetReplayDetailsResponse* resp) override {
    auto who = Caller(c, auth_, Method("GetReplayDetails"), req->project_name());
    if (!who.ok()) return rpc::ToGrpcStatus(who.status());
    return Answer(r_.Details(*req), resp);
  }

 private:
  static std::string Method(const char* name) {
    return std::string("gotocompany.optimus.core.v1beta1.ReplayService/") + name;
  }
  Replays& r_;
  const rpc::Authenticator* auth_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeReplayService(Replays& replays,
                                                 const rpc::Authenticator* authenticator) {
  return std::make_unique<ReplayApi>(replays, authenticator);
}

std::string RequesterOf(const rpc::Principal& principal, bool authenticated) {
  if (!authenticated) return "local";
  return principal.admin ? "admin" : "project:" + principal.project;
}

std::vector<std::pair<std::unique_ptr<grpc::Service>, std::string>> MakePeopleServices(
    Dispatcher& dispatcher, const rpc::Authenticator* authenticator) {
  std::vector<std::pair<std::unique_ptr<grpc::Service>, std::string>> out;
  out.emplace_back(std::make_unique<ExecutionApi>(dispatcher, authenticator),
                   "optimus.core.v1.ExecutionService");
  out.emplace_back(std::make_unique<CatalogApi>(dispatcher, authenticator),
                   "optimus.core.v1.CatalogService");
  out.emplace_back(std::make_unique<ExecutorAdminApi>(dispatcher, authenticator),
                   "optimus.core.v1.ExecutorAdminService");
  return out;
}

}  // namespace optimus::dispatcher
