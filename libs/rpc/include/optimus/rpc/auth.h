// Bearer-token authentication shared by the HTTP and gRPC servers.
#pragma once

#include <absl/status/status.h>

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "optimus/telemetry/log.h"

namespace optimus::rpc {

// Decides per route whether a token is needed and whether a token is good. A route is an HTTP
// route template ("/api/v1beta1/project/{project}/job/{job}") or a gRPC method
// ("optimus.core.v1beta1.JobSpecificationService/GetJobSpecification").
class Authenticator {
 public:
  virtual ~Authenticator() = default;

  virtual bool RequiresToken(std::string_view route) const = 0;

  // OK when `token` may call `route`; PermissionDenied otherwise (the caller did present a
  // token, so this is "wrong", not "missing").
  virtual absl::Status Verify(std::string_view route, std::string_view token) const = 0;
};

// Accepts a fixed set of tokens on every route except the public ones.
class StaticTokenAuthenticator : public Authenticator {
 public:
  StaticTokenAuthenticator(std::vector<telemetry::Redacted<std::string>> tokens,
                           std::set<std::string, std::less<>> public_routes = {});

  bool RequiresToken(std::string_view route) const override;
  absl::Status Verify(std::string_view route, std::string_view token) const override;

 private:
  std::vector<telemetry::Redacted<std::string>> tokens_;
  std::set<std::string, std::less<>> public_routes_;
};

// The token of an "Authorization: Bearer <token>" value, or "" when the value is not that.
std::string_view BearerToken(std::string_view authorization);

// The whole decision for one call: OK; Unauthenticated when a needed token is missing or not a
// bearer token (HTTP 401); PermissionDenied when it is wrong (HTTP 403).
absl::Status Authorize(const Authenticator& authenticator, std::string_view route,
                       std::string_view authorization);

}  // namespace optimus::rpc
