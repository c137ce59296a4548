// One mapping from absl::Status to HTTP status codes, gRPC statuses and JSON error bodies.
#pragma once

#include <absl/status/status.h>
#include <grpcpp/support/status.h>

#include <string>

namespace optimus::rpc {

// The HTTP status for an error code, as grpc-gateway maps it (docs/observability.md has the
// table): InvalidArgument 400, NotFound 404, AlreadyExists 409, PermissionDenied 403,
// Unauthenticated 401, FailedPrecondition 400, Unavailable 503, ...
int HttpStatusFromCode(absl::StatusCode code);
inline int HttpStatusFromStatus(const absl::Status& status) {
  return HttpStatusFromCode(status.code());
}

// The code for an HTTP status the server produced itself (413, 405, ...), for its error body.
absl::StatusCode CodeFromHttpStatus(int http_status);

// {"code":<gRPC code number>,"message":"...","details":[]}: the body grpc-gateway writes, so
// clients of the Go Optimus parse our errors unchanged.
std::string ErrorJson(const absl::Status& status);

// absl and gRPC share the code numbering, so these are one-to-one.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// "OK", "NOT_FOUND", ... for metric labels and logs.
std::string StatusCodeName(absl::StatusCode code);

}  // namespace optimus::rpc
