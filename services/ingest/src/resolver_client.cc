// ResolverClient and the lineage proxy (see resolver_client.h).
#include "optimus/ingest/resolver_client.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "optimus/rpc/grpc_server.h"

namespace optimus::ingest {
namespace {

void AddInternalToken(grpc::ClientContext& context, const std::string& token) {
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
}

class LineageProxy final : public core::v1::LineageService::Service {
 public:
  LineageProxy(const std::string& host, const rpc::Authenticator* authenticator,
               std::string internal_token)
      : stub_(core::v1::LineageService::NewStub(
            grpc::CreateChannel(host, grpc::InsecureChannelCredentials()))),
        authenticator_(authenticator),
        internal_token_(std::move(internal_token)) {}

  grpc::Status GetLineage(grpc::ServerContext* in, const core::v1::GetLineageRequest* req,
                          core::v1::GetLineageResponse* resp) override {
    return Forward(in, "GetLineage", req->project(),
                   [&](grpc::ClientContext* out) { return stub_->GetLineage(out, *req, resp); });
  }
  grpc::Status Impact(grpc::ServerContext* in, const core::v1::ImpactRequest* req,
                      core::v1::ImpactResponse* resp) override {
    return Forward(in, "Impact", req->project(),
                   [&](grpc::ClientContext* out) { return stub_->Impact(out, *req, resp); });
  }
  grpc::Status CheckDeletion(grpc::ServerContext* in, const core::v1::CheckDeletionRequest* req,
                             core::v1::CheckDeletionResponse* resp) override {
    return Forward(in, "CheckDeletion", req->project(),
                   [&](grpc::ClientContext* out) { return stub_->CheckDeletion(out, *req, resp); });
  }
  grpc::Status ListJobSpecs(grpc::ServerContext* in, const core::v1::ListJobSpecsRequest* req,
                            core::v1::ListJobSpecsResponse* resp) override {
    return Forward(in, "ListJobSpecs", req->project(),
                   [&](grpc::ClientContext* out) { return stub_->ListJobSpecs(out, *req, resp); });
  }

 private:
  // Checks the caller here, at the front door, then asks the resolver as ingest.
  template <typename Call>
  grpc::Status Forward(grpc::ServerContext* in, std::string_view method, const std::string& project,
                       Call call) {
    if (grpc::Status allowed = rpc::Authorize(
            in, authenticator_, "optimus.core.v1.LineageService/" + std::string(method), project);
        !allowed.ok()) {
      return allowed;
    }
    grpc::ClientContext out;
    out.set_deadline(
        std::min(in->deadline(), std::chrono::system_clock::now() + std::chrono::seconds(30)));
    AddInternalToken(out, internal_token_);
    return call(&out);
  }

  std::unique_ptr<core::v1::LineageService::Stub> stub_;
  const rpc::Authenticator* authenticator_;
  std::string internal_token_;
};

}  // namespace

core::v1::LineageService::Stub& ResolverClient::Lineage(std::string* host_out) {
  const std::string host = host_();
  std::lock_guard<std::mutex> lock(mu_);
  if (!lineage_ || lineage_host_ != host) {
    lineage_host_ = host;
    lineage_ = core::v1::LineageService::NewStub(
        grpc::CreateChannel(host, grpc::InsecureChannelCredentials()));
  }
  *host_out = host;
  return *lineage_;
}

template <typename Response, typename Call>
absl::StatusOr<Response> ResolverClient::Ask(const std::string& what, Call call) {
  std::string host;
  auto& lineage = Lineage(&host);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  context.set_wait_for_ready(true);
  AddInternalToken(context, internal_token_);
  Response response;
  grpc::Status s = call(lineage, &context, &response);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
    return absl::NotFoundError(s.error_message());
  }
  if (!s.ok()) {
    return absl::UnavailableError("cannot ask dependency-resolver (" + host + ") for " + what +
                                  ": " + s.error_message());
  }
  return response;
}

absl::StatusOr<core::v1::ListJobSpecsResponse> ResolverClient::ListJobSpecs(
    const core::v1::ListJobSpecsRequest& request) {
  core::v1::ListJobSpecsResponse all;
  core::v1::ListJobSpecsRequest page = request;
  for (;;) {
    auto answer = Ask<core::v1::ListJobSpecsResponse>(
        "the job specs", [&](auto& stub, grpc::ClientContext* context, auto* response) {
          return stub.ListJobSpecs(context, page, response);
        });
    if (!answer.ok()) return answer.status();
    for (auto& job : *answer->mutable_jobs()) *all.add_jobs() = std::move(job);
    if (answer->next_page_token().empty()) return all;
    page.set_page_token(answer->next_page_token());
  }
}

absl::StatusOr<core::v1::GetLineageResponse> ResolverClient::GetLineage(
    const core::v1::GetLineageRequest& request) {
  return Ask<core::v1::GetLineageResponse>(
      "the job's lineage", [&](auto& stub, grpc::ClientContext* context, auto* response) {
        return stub.GetLineage(context, request, response);
      });
}

absl::StatusOr<core::v1::CheckDeletionResponse> ResolverClient::CheckDeletion(
    const core::v1::CheckDeletionRequest& request) {
  std::string host;
  auto& lineage = Lineage(&host);
  // A resolver restarting (a rollout, a crash) is waited for, up to the deadline: a call
  // waits for it to be reachable, and one cut by a crash is asked again (it only reads).
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(20);
  core::v1::CheckDeletionResponse response;
  grpc::Status s;
  for (int attempt = 0;; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(deadline);
    context.set_wait_for_ready(true);
    AddInternalToken(context, internal_token_);
    response.Clear();
    s = lineage.CheckDeletion(&context, request, &response);
    if (s.error_code() != grpc::StatusCode::UNAVAILABLE ||
        std::chrono::system_clock::now() >= deadline) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100 << std::min(attempt, 4)));
  }
  if (!s.ok()) {
    return absl::UnavailableError("cannot ask dependency-resolver (" + host +
                                  ") which jobs read the ones to delete: " + s.error_message() +
                                  "; deploy with --force to delete anyway");
  }
  return response;
}

std::unique_ptr<grpc::Service> MakeLineageProxy(const std::string& host,
                                                const rpc::Authenticator* authenticator,
                                                std::string internal_token) {
  return std::make_unique<LineageProxy>(host, authenticator, std::move(internal_token));
}

}  // namespace optimus::ingest
