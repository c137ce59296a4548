// ingest's REST API: Optimus's v1beta1 paths for projects, namespaces and job specifications
// (grpc-gateway JSON: lowerCamelCase out, snake_case or lowerCamelCase in), answered by the
// same DeploymentService the CLI calls, plus GET /api/v1beta1/deployment/{id} to follow a
// deployment. docs/rest.md lists every route and how it differs from Optimus.
#pragma once

#include <functional>

#include "absl/status/statusor.h"
#include "optimus/core/v1/deploy.grpc.pb.h"
#include "optimus/core/v1/lineage.pb.h"
#include "optimus/rpc/http_server.h"
#include "optimus/store/database.h"

namespace optimus::ingest {

// Asks dependency-resolver for stored job specs (the GET job routes).
using ListJobSpecsFn = std::function<absl::StatusOr<core::v1::ListJobSpecsResponse>(
    const core::v1::ListJobSpecsRequest&)>;

// Asks dependency-resolver for a stored job's lineage (job inspect); NotFound for a job it does
// not hold.
using GetLineageFn =
    std::function<absl::StatusOr<core::v1::GetLineageResponse>(const core::v1::GetLineageRequest&)>;

// Registers the routes on `http`. `service` must outlive the server; its handlers are called
// without a gRPC context (the HTTP server checked the caller's token for the path's project).
// Registering a project and reading a deployment check more in the route, with
// `authenticator` (null: authentication off).
void AddRestRoutes(rpc::HttpServer& http, core::v1::DeploymentService::Service& service,
                   store::Database& db, ListJobSpecsFn list_job_specs, GetLineageFn get_lineage,
                   const rpc::Authenticator* authenticator = nullptr);

}  // namespace optimus::ingest
