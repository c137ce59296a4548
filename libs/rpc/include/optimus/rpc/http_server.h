// An HTTP/1.1 server for REST APIs (on cpp-httplib) with the operational endpoints built in:
// GET /metrics, /healthz, /readyz, /ping; request metrics, access logs with trace ids,
// bearer-token auth, JSON error bodies and graceful stop.
//
//   HttpServer server({.port = 8080});
//   server.Get("/api/v1beta1/project/{project}/job/{job}", [&](const HttpRequest& request) {
//     return HttpResponse::Json(Lookup(request.PathParam("project"), request.PathParam("job")));
//   });
//   if (absl::Status started = server.Start(); !started.ok()) ...
//   ...
//   server.Stop(std::chrono::seconds(10));
#pragma once

#include <absl/status/status.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "optimus/rpc/auth.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace optimus::telemetry {
class HealthRegistry;
}  // namespace optimus::telemetry

namespace optimus::rpc {
namespace internal {
class RequestMetrics;
}  // namespace internal

class HttpRequest {
 public:
  const std::string& method() const;
  // The decoded path, e.g. "/api/v1beta1/project/p1/job/j1".
  const std::string& path() const;
  // The template that matched, e.g. "/api/v1beta1/project/{project}/job/{job}".
  const std::string& route() const { return *route_; }
  const std::string& body() const;
  // The trace id of this request (from its traceparent header, or new).
  const std::string& trace_id() const { return trace_id_; }
  const std::string& remote_addr() const;

  // The value of a {name} segment of the route, or "" when the route has none.
  const std::string& PathParam(std::string_view name) const;
  // The first value of a header (names are case-insensitive), or "".
  std::string Header(const std::string& name) const;
  bool HasHeader(const std::string& name) const;
  // The first value of a query parameter, or "".
  std::string Query(const std::string& name) const;
  bool HasQuery(const std::string& name) const;
  std::vector<std::string> QueryAll(const std::string& name) const;

 private:
  friend class HttpServer;
  HttpRequest(const httplib::Request& raw, const std::string& route,
              std::vector<std::pair<std::string, std::string>> params, std::string trace_id)
      : raw_(&raw), route_(&route), params_(std::move(params)), trace_id_(std::move(trace_id)) {}

  const httplib::Request* raw_;
  const std::string* route_;
  std::vector<std::pair<std::string, std::string>> params_;
  std::string trace_id_;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse Json(std::string body, int status = 200);
  static HttpResponse Text(std::string body, int status = 200);
  // The mapped HTTP status with {"code":...,"message":...,"details":[]}.
  static HttpResponse Error(const absl::Status& status);
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::string host = "0.0.0.0";
  int port = 0;  // 0: any free port; read it back with HttpServer::port()
  // Worker threads. Each open connection holds one while it is kept alive, so keep this above the
  // number of concurrent clients.
  int threads = 8;
  size_t max_body_bytes = 16 << 20;  // larger bodies get 413
  int keep_alive_max_requests = 1000;
  std::chrono::seconds keep_alive_timeout{5};
  std::chrono::seconds read_timeout{30};
  std::chrono::seconds write_timeout{30};
  // Where request metrics go and what /metrics shows; telemetry::Metrics() when null.
  prometheus::Registry* metrics = nullptr;
  // What /healthz and /readyz run; an empty registry (always healthy) when null.
  telemetry::HealthRegistry* health = nullptr;
  // Decides which routes need a token; no authentication when null. /metrics, /healthz, /readyz
  // and /ping never need one (probes and scrapers carry no tokens).
  std::shared_ptr<const Authenticator> authenticator;
  // One info line per request (probes and scrapes at debug).
  bool access_log = true;
};

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options = {});
  // Stops (waiting for in-flight requests without a deadline) if still running.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Registers a route before Start(). A template is a path whose segments are literals or
  // {name} placeholders matching one whole non-empty segment; literal segments win over
  // placeholders. An invalid template or a duplicate is a programming error and aborts.
  void Handle(std::string_view method, std::string_view route_template, HttpHandler handler);
  void Get(std::string_view route, HttpHandler handler) {
    Handle("GET", route, std::move(handler));
  }
  void Post(std::string_view route, HttpHandler handler) {
    Handle("POST", route, std::move(handler));
  }
  void Put(std::string_view route, HttpHandler handler) {
    Handle("PUT", route, std::move(handler));
  }
  void Patch(std::string_view route, HttpHandler handler) {
    Handle("PATCH", route, std::move(handler));
  }
  void Delete(std::string_view route, HttpHandler handler) {
    Handle("DELETE", route, std::move(handler));
  }

  // Whether a route of exactly this method and template is registered (a component may leave a
  // path to another one of the same process that answers it already).
  bool Has(std::string_view method, std::string_view route_template) const;

  // Binds and starts serving on background threads. Unavailable when the address cannot be bound.
  absl::Status Start();

  // The bound port (after Start()).
  int port() const { return port_; }

  // Stops accepting connections and waits up to `deadline` for in-flight requests to finish;
  // their responses carry "Connection: close". httplib notices an idle keep-alive connection
  // only when its keep_alive_timeout ends, so Stop can take that long even with nothing running:
  // keep `deadline` above keep_alive_timeout.
  // DeadlineExceeded when some are still running: they keep their threads until they return,
  // and the destructor waits for them, so a main should then exit the process.
  absl::Status Stop(std::chrono::milliseconds deadline);

 private:
  struct Route;
  struct Match;

  void Dispatch(const httplib::Request& raw, httplib::Response& out);
  void Finish(const httplib::Request& raw, const httplib::Response& out);
  Match FindRoute(const std::string& method, const std::string& path) const;
  void AddBuiltinRoutes();

  HttpServerOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::vector<std::unique_ptr<Route>> routes_;
  std::unique_ptr<telemetry::HealthRegistry> own_health_;
  std::unique_ptr<internal::RequestMetrics> metrics_;
  std::thread listen_thread_;
  std::future<void> listen_done_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
  int port_ = 0;
};

}  // namespace optimus::rpc
