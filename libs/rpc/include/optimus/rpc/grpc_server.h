// A gRPC server with the operational parts built in: the standard health service (per service
// serving status, NOT_SERVING while draining), reflection, request metrics and access logs with
// trace ids (interceptors), and graceful shutdown.
//
//   GrpcServer server({.address = "0.0.0.0:9100"});
//   server.AddService(&job_service, "optimus.core.v1beta1.JobSpecificationService");
//   if (absl::Status started = server.Start(); !started.ok()) ...
//   ...
//   server.Shutdown(std::chrono::seconds(10));
//
// Authentication: a sync-API interceptor in gRPC 1.51 cannot fail a call with a status of its
// choosing, and AuthMetadataProcessor needs secure credentials (on insecure ones gRPC aborts the
// process). Besides, only the handler knows the request's project. So handlers begin with
//   if (grpc::Status s = rpc::Authorize(context, authenticator, kMethod, req->project());
//       !s.ok()) return s;
#pragma once

#include <absl/status/status.h>
#include <grpcpp/server.h>
#include <grpcpp/server_context.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "optimus/rpc/auth.h"
#include "optimus/telemetry/trace.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace optimus::rpc {

struct GrpcServerOptions {
  std::string address = "0.0.0.0:0";  // port 0: any free port; read it back with port()
  // Where request metrics go; telemetry::Metrics() when null.
  prometheus::Registry* metrics = nullptr;
  // Server reflection (grpcurl, evans). It is process-wide in gRPC: once one server enables it,
  // every later server of the process has it.
  bool reflection = true;
  // One info line per call (health checks at debug).
  bool access_log = true;
  int max_message_bytes = 128 << 20;  // the Go Optimus server's limit
  // Upper bound on threads serving calls; 0 keeps gRPC's default.
  int max_threads = 0;
};

class GrpcServer {
 public:
  explicit GrpcServer(GrpcServerOptions options = {});
  // Shuts down immediately (cancelling running calls) if still running.
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // Registers a service before Start(); it must outlive the server. `name` is its fully
  // qualified name (e.g. "optimus.core.v1beta1.JobSpecificationService"): the health service
  // reports it under that name, and only methods of registered services (plus health and
  // reflection) become metric labels; calls to other names count as method="unknown".
  void AddService(grpc::Service* service, std::string name);

  // Before Start(): successful calls of `method` ("package.Service/Method"), one asked
  // thousands of times a second, are logged at debug instead of info.
  void LogSuccessAtDebug(std::string method);

  // Binds and starts serving. Unavailable when the address cannot be bound.
  absl::Status Start();

  // The bound port (after Start()).
  int port() const { return port_; }

  // Sets the health status of one registered service (by the name given to AddService).
  void SetServing(const std::string& name, bool serving);

  // Health reports NOT_SERVING for every service (and the server as a whole) from now on, so
  // clients and load balancers move away; calls are still served.
  void BeginDraining();

  // BeginDraining(), then stops accepting calls and waits up to `deadline` for running calls;
  // calls still running then are cancelled and DeadlineExceeded is returned.
  absl::Status Shutdown(std::chrono::milliseconds deadline);

  grpc::Server* server() { return server_.get(); }

 private:
  GrpcServerOptions options_;
  std::vector<std::pair<grpc::Service*, std::string>> services_;
  std::vector<std::string> quiet_methods_;
  std::unique_ptr<grpc::Server> server_;
  std::mutex health_mu_;
  bool draining_ = false;
  std::atomic<bool> shut_down_{false};
  int port_ = 0;
};

// The trace id of a call: from its `traceparent` metadata, else the one the server's
// interceptor made up for it (so handler logs and the access log agree), else a new one.
std::string CallTraceId(const grpc::ServerContextBase* context);

// Sets the calling thread's trace id to the call's for the handler's lifetime.
class ScopedCallTrace {
 public:
  explicit ScopedCallTrace(const grpc::ServerContextBase* context);
  ScopedCallTrace(const ScopedCallTrace&) = delete;
  ScopedCallTrace& operator=(const ScopedCallTrace&) = delete;

 private:
  telemetry::ScopedTraceId scope_;
};

// The call's "authorization" metadata ("" when it sent none).
std::string_view CallAuthorization(const grpc::ServerContextBase* context);

// The bearer-token decision for a call, from its "authorization" metadata: OK, UNAUTHENTICATED
// (missing or not a bearer token) or PERMISSION_DENIED (unknown token, or one not enough for
// `project` or `access`, see auth.h). `method` is "package.Service/Method". OK when no
// authenticator is configured, and for a null `context`: a REST route calling the service
// in-process, which the HTTP server has authorized already.
grpc::Status Authorize(const grpc::ServerContextBase* context, const Authenticator* authenticator,
                       std::string_view method, std::string_view project = {},
                       std::optional<Access> access = std::nullopt);

}  // namespace optimus::rpc
