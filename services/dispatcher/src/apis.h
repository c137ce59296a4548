// The dispatcher's adapters: gRPC services and REST routes over Dispatcher.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "optimus/core/v1/job_run.pb.h"
#include "optimus/dispatcher/dispatcher.h"
#include "optimus/dispatcher/replays.h"
#include "optimus/rpc/auth.h"
#include "optimus/rpc/http_server.h"

namespace optimus::dispatcher {

// ExecutionService, CatalogService and ExecutorAdminService, each with its full name.
std::vector<std::pair<std::unique_ptr<grpc::Service>, std::string>> MakePeopleServices(
    Dispatcher& dispatcher, const rpc::Authenticator* authenticator);

// runtime-context's run input, called in process (see app::kLocalRunInput).
using LocalRunInput = std::function<absl::StatusOr<core::v1::JobRunInputResponse>(
    const core::v1::JobRunInputRequest&)>;

// ExecutorService. Run inputs come from `local` when it gives a function (runtime-context in
// this process; asked once, at the first run input), else from runtime-context over the
// channel `runtime` gives, with `internal_token`.
std::unique_ptr<grpc::Service> MakeExecutorService(
    Dispatcher& dispatcher, std::function<std::shared_ptr<grpc::Channel>()> runtime,
    std::string internal_token, std::function<LocalRunInput()> local = {});

// The REST routes (docs/execution.md).
void AddRestRoutes(rpc::HttpServer& http, Dispatcher& dispatcher);

// Optimus's ReplayService over gRPC (gotocompany.optimus.core.v1beta1.ReplayService) and REST
// (its grpc-gateway paths under /api/v1beta1/project/{project_name}/replay...).
std::unique_ptr<grpc::Service> MakeReplayService(Replays& replays,
                                                 const rpc::Authenticator* authenticator);
void AddReplayRoutes(rpc::HttpServer& http, Replays& replays);

// An executor as the API shows it, with how many executions it holds.
core::v1::Executor ExecutorProto(const ExecutorRecord& e, int64_t running);
absl::StatusOr<core::v1::ListExecutorsResponse> ExecutorsOf(Dispatcher& dispatcher);

// Who asked, for an execution's requested_by: "admin" or "project:<name>"; "local" without
// authentication.
std::string RequesterOf(const rpc::Principal& principal, bool authenticated);

}  // namespace optimus::dispatcher
