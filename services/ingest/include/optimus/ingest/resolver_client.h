// What ingest asks dependency-resolver (its LineageService), and the proxy through which the
// CLI asks it in a distributed deployment, where people and CI talk to ingest only.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "optimus/core/v1/lineage.grpc.pb.h"
#include "optimus/rpc/auth.h"

namespace optimus::ingest {

// Calls with ingest's internal token. `host` gives the resolver's address at each call
// (ingest.lineage_host; in `optimus serve`, this process's own server, whose port is known once
// it listens); the channel is made again when it changes.
class ResolverClient {
 public:
  ResolverClient(std::function<std::string()> host, std::string internal_token)
      : host_(std::move(host)), internal_token_(std::move(internal_token)) {}

  // Every page of the resolver's answer, together.
  absl::StatusOr<core::v1::ListJobSpecsResponse> ListJobSpecs(
      const core::v1::ListJobSpecsRequest& request);
  absl::StatusOr<core::v1::GetLineageResponse> GetLineage(
      const core::v1::GetLineageRequest& request);
  // Which of the jobs a replace-all or delete would remove are still read by jobs that stay
  // (those are kept unless the request forces it). A resolver restarting is waited for, up to
  // 20 s; then the error says to deploy with --force to delete anyway.
  absl::StatusOr<core::v1::CheckDeletionResponse> CheckDeletion(
      const core::v1::CheckDeletionRequest& request);

 private:
  core::v1::LineageService::Stub& Lineage(std::string* host_out);
  // One call, `call(stub, context, response)`: NotFound passes through, any other failure says
  // which resolver could not tell `what`.
  template <typename Response, typename Call>
  absl::StatusOr<Response> Ask(const std::string& what, Call call);

  const std::function<std::string()> host_;
  const std::string internal_token_;
  std::mutex mu_;
  std::string lineage_host_;                                 // guarded by mu_
  std::unique_ptr<core::v1::LineageService::Stub> lineage_;  // guarded by mu_
};

// In distributed mode the CLI talks to ingest only: lineage questions (job inspect) are passed
// on to dependency-resolver at `host`, each caller checked here first.
std::unique_ptr<grpc::Service> MakeLineageProxy(const std::string& host,
                                                const rpc::Authenticator* authenticator,
                                                std::string internal_token);

}  // namespace optimus::ingest
