// An HTTP/1.1 server for REST APIs with the operational endpoints built in: GET /metrics,
// /healthz, /readyz, /ping; request metrics, access logs with trace ids, bearer-token auth, JSON
// error bodies and graceful stop.
//
// Event-driven (Boost.Beast on Asio): connections are read and written by two I/O threads, and
// only a complete request takes a worker thread, for its handler. A client that connects and
// sends nothing, or sends its headers slowly, holds a socket and a buffer until its time is up,
// never a thread. The built-in endpoints have workers of their own, so probes answer while every
// handler is busy. Connections are limited per client address and in total: at a limit, the
// longest-waiting connection that has no request under way is closed to make room.
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
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "optimus/rpc/auth.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace optimus::telemetry {
class HealthRegistry;
}  // namespace optimus::telemetry

namespace optimus::rpc {
namespace internal {
class RequestMetrics;
struct RawRequest;
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
  HttpRequest(const internal::RawRequest& raw, const std::string& route,
              std::vector<std::pair<std::string, std::string>> params, std::string trace_id)
      : raw_(&raw), route_(&route), params_(std::move(params)), trace_id_(std::move(trace_id)) {}

  const internal::RawRequest* raw_;
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
  // Worker threads for handlers: how many requests run at once (connections take none).
  int threads = 8;
  size_t max_body_bytes = 16 << 20;    // larger bodies get 413
  size_t max_header_bytes = 64 << 10;  // larger request headers get 431
  int keep_alive_max_requests = 1000;
  // A connection's first request must bring its headers within header_timeout; a kept-alive
  // connection waits keep_alive_timeout for the next request's headers. Then it is closed.
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds keep_alive_timeout{5'000};
  std::chrono::milliseconds read_timeout{30'000};   // a request's body
  std::chrono::milliseconds write_timeout{30'000};  // a response
  // Open connections, in total and from one client address.
  int max_connections = 4096;
  int max_client_connections = 512;
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

  // Stops accepting connections, closes the ones with no request under way, and waits up to
  // `deadline` for in-flight requests to finish; their responses carry "Connection: close".
  // DeadlineExceeded when some are still running: they keep their threads until they return,
  // and the destructor waits for them, so a main should then exit the process.
  absl::Status Stop(std::chrono::milliseconds deadline);

 private:
  struct Route;
  struct Match;
  struct Impl;

  // Runs the matched route for `raw` (auth, handler, errors) and records the request.
  HttpResponse Serve(internal::RawRequest& raw, Match match);
  // Metrics and the access log of a request answered with `status`.
  void Record(const internal::RawRequest& raw, const Route* route, int status,
              size_t bytes_out) const;
  Match FindRoute(const std::string& method, const std::string& path) const;
  void AddBuiltinRoutes();

  HttpServerOptions options_;
  std::unique_ptr<Impl> impl_;
  std::vector<std::unique_ptr<Route>> routes_;
  std::unique_ptr<telemetry::HealthRegistry> own_health_;
  std::unique_ptr<internal::RequestMetrics> metrics_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
  int port_ = 0;
};

}  // namespace optimus::rpc
