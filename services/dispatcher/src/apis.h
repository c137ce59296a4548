// The dispatcher's adapters: gRPC services and REST routes over Dispatcher.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "optimus/dispatcher/dispatcher.h"
#include "optimus/dispatcher/replays.h"
#include "optimus/rpc/auth.h"
#include "optimus/rpc/http_server.h"

namespace optimus::dispatcher {

// ExecutionService, CatalogService and ExecutorAdminService, each with its full name.
std::vector<std::pair<std::unique_ptr<grpc::Service>, std::string>> MakePeopleServices(
    Dispatcher& dispatcher, const rpc::Authenticator* authenticator);

// ExecutorService. `runtime` gives a channel to runtime-context (called once, at the first run
// input), asked for run inputs with `internal_token`.
std::unique_ptr<grpc::Service> MakeExecutorService(
    Dispatcher& dispatcher, std::function<std::shared_ptr<grpc::Channel>()> runtime,
    std::string internal_token);

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
