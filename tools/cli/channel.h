// The one way the CLI opens a gRPC channel to the server: large messages allowed, and the bearer
// token from OPTIMUS_AUTH_BEARER_TOKEN (Optimus's variable) sent on every call.
#pragma once

#include <grpcpp/channel.h>

#include <memory>
#include <string>

namespace optimus::cli {

inline constexpr char kTokenVariable[] = "OPTIMUS_AUTH_BEARER_TOKEN";

// A channel to `host` (host:port); it connects lazily.
std::shared_ptr<grpc::Channel> Dial(const std::string& host);

}  // namespace optimus::cli
