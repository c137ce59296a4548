// HttpServer: routing with path templates, built-in operational endpoints, metrics, access logs,
// authentication and graceful stop on top of cpp-httplib's thread-per-connection server.
#include "optimus/rpc/http_server.h"

#include <httplib.h>
#include <prometheus/registry.h>
#include <sys/socket.h>

#include <cctype>
#include <cstdlib>

#include "optimus/rpc/status.h"
#include "optimus/telemetry/health.h"
#include "optimus/telemetry/log.h"
#include "optimus/telemetry/metrics.h"
#include "optimus/telemetry/trace.h"
#include "request_metrics.h"

namespace optimus::rpc {

struct HttpServer::Route {
  std::string method;
  std::string pattern;
  std::string access_key;  // "METHOD pattern": what the authenticator's rules are keyed by
  // One entry per path segment: {literal, false} or {placeholder name, true}.
  std::vector<std::pair<std::string, bool>> segments;
  HttpHandler handler;
  // Built-in endpoints: no token needed, access log at debug.
  bool builtin = false;
};

struct HttpServer::Match {
  const Route* route = nullptr;
  std::vector<std::pair<std::string, std::string>> params;
  // Methods of routes matching the path when none matches the method (for 405).
  std::string allowed;
};

namespace {

constexpr char kUnmatchedRoute[] = "unmatched";

// What the pre-routing hook learns about the request a worker thread is serving, for the
// handler and for the final logger callback on the same thread.
struct RequestContext {
  bool active = false;
  std::chrono::steady_clock::time_point start;
  std::string trace_id;
};

thread_local RequestContext tl_request;
// The Route that matched the current request, set by Dispatch for Finish (void: Route is a
// private type of HttpServer).
thread_local const void* tl_route = nullptr;

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path.empty()) return segments;
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      segments.push_back(path.substr(start));
      return segments;
    }
    segments.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

bool IsParamName(std::string_view name) {
  if (name.empty() || !(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) {
    return false;
  }
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

[[noreturn]] void InvalidRoute(std::string_view route, std::string_view why) {
  LOG_ERROR("invalid HTTP route template; fix the route registration",
            {{"route", route}, {"reason", why}});
  std::abort();
}

// Methods become metric labels; arbitrary client strings must not create new series.
std::string_view MethodLabel(const std::string& method) {
  for (std::string_view known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    if (method == known) return known;
  }
  return "OTHER";
}

void ApplyResponse(const HttpResponse& response, httplib::Response& out) {
  out.status = response.status;
  for (const auto& [name, value] : response.headers) out.set_header(name, value);
  out.set_content(response.body, response.content_type);
}

}  // namespace

const std::string& HttpRequest::method() const { return raw_->method; }
const std::string& HttpRequest::path() const { return raw_->path; }
const std::string& HttpRequest::body() const { return raw_->body; }
const std::string& HttpRequest::remote_addr() const { return raw_->remote_addr; }

const std::string& HttpRequest::PathParam(std::string_view name) const {
  static const std::string kEmpty;
  for (const auto& [key, value] : params_) {
    if (key == name) return value;
  }
  return kEmpty;
}

std::string HttpRequest::Header(const std::string& name) const {
  return raw_->get_header_value(name);
}
bool HttpRequest::HasHeader(const std::string& name) const { return raw_->has_header(name); }
std::string HttpRequest::Query(const std::string& name) const {
  return raw_->get_param_value(name);
}
bool HttpRequest::HasQuery(const std::string& name) const { return raw_->has_param(name); }
std::vector<std::string> HttpRequest::QueryAll(const std::string& name) const {
  std::vector<std::string> values;
  auto range = raw_->params.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) values.push_back(it->second);
  return values;
}

HttpResponse HttpResponse::Json(std::string body, int status) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

HttpResponse HttpResponse::Text(std::string body, int status) {
  HttpResponse response;
  response.status = status;
  response.content_type = "text/plain; charset=utf-8";
  response.body = std::move(body);
  return response;
}

HttpResponse HttpResponse::Error(const absl::Status& status) {
  return Json(ErrorJson(status), HttpStatusFromStatus(status));
}

HttpServer::HttpServer(HttpServerOptions options)
    : options_(std::move(options)), server_(std::make_unique<httplib::Server>()) {
  if (options_.health == nullptr) {
    own_health_ = std::make_unique<telemetry::HealthRegistry>();
    options_.health = own_health_.get();
  }
  if (options_.metrics == nullptr) options_.metrics = &telemetry::Metrics();
  metrics_ =
      std::make_unique<internal::RequestMetrics>(*options_.metrics, "optimus_http", "HTTP requests",
                                                 std::vector<std::string>{"method", "route"});
  AddBuiltinRoutes();
}

HttpServer::~HttpServer() {
  if (started_ && listen_thread_.joinable()) {
    server_->stop();
    listen_thread_.join();
  }
}

void HttpServer::AddBuiltinRoutes() {
  auto add = [this](std::string_view route, HttpHandler handler) {
    Handle("GET", route, std::move(handler));
    routes_.back()->builtin = true;
  };
  add("/metrics", [this](const HttpRequest&) {
    HttpResponse response = HttpResponse::Text(telemetry::RenderMetrics(*options_.metrics));
    response.content_type = telemetry::kMetricsContentType;
    return response;
  });
  add("/healthz", [this](const HttpRequest&) {
    telemetry::HealthReport report = options_.health->CheckLiveness();
    return HttpResponse::Json(report.ToJson(), report.ok ? 200 : 503);
  });
  add("/readyz", [this](const HttpRequest&) {
    telemetry::HealthReport report = options_.health->CheckReadiness();
    return HttpResponse::Json(report.ToJson(), report.ok ? 200 : 503);
  });
  // The Go Optimus server answers this; deployment scripts written for it keep working.
  add("/ping", [](const HttpRequest&) { return HttpResponse::Text("pong"); });
}

void HttpServer::Handle(std::string_view method, std::string_view route_template,
                        HttpHandler handler) {
  if (started_) InvalidRoute(route_template, "routes must be registered before Start()");
  if (route_template.empty() || route_template.front() != '/') {
    InvalidRoute(route_template, "a route must start with '/'");
  }
  auto route = std::make_unique<Route>();
  route->method = std::string(method);
  route->pattern = std::string(route_template);
  route->access_key = route->method + " " + route->pattern;
  route->handler = std::move(handler);
  for (std::string_view segment : SplitPath(route_template)) {
    bool opens = segment.find('{') != std::string_view::npos;
    bool closes = segment.find('}') != std::string_view::npos;
    if (!opens && !closes) {
      route->segments.emplace_back(std::string(segment), false);
      continue;
    }
    if (segment.size() < 3 || segment.front() != '{' || segment.back() != '}' ||
        !IsParamName(segment.substr(1, segment.size() - 2))) {
      InvalidRoute(route_template,
                   "a placeholder must be a whole segment {name} with name [A-Za-z_][A-Za-z0-9_]*");
    }
    std::string name(segment.substr(1, segment.size() - 2));
    for (const auto& [existing, is_param] : route->segments) {
      if (is_param && existing == name) InvalidRoute(route_template, "placeholder used twice");
    }
    route->segments.emplace_back(std::move(name), true);
  }
  for (const auto& existing : routes_) {
    if (existing->method != route->method || existing->segments.size() != route->segments.size()) {
      continue;
    }
    bool same_shape = true;
    for (size_t i = 0; i < route->segments.size(); ++i) {
      const auto& a = existing->segments[i];
      const auto& b = route->segments[i];
      if (a.second != b.second || (!a.second && a.first != b.first)) same_shape = false;
    }
    if (same_shape) InvalidRoute(route_template, "another route already matches the same paths");
  }
  routes_.push_back(std::move(route));
}

bool HttpServer::Has(std::string_view method, std::string_view route_template) const {
  for (const auto& r : routes_) {
    if (r->method == method && r->pattern == route_template) return true;
  }
  return false;
}

HttpServer::Match HttpServer::FindRoute(const std::string& method, const std::string& path) const {
  // HEAD is answered by the GET handler; httplib drops the body.
  std::string_view wanted = method == "HEAD" ? std::string_view("GET") : std::string_view(method);
  std::vector<std::string_view> segments = SplitPath(path);
  Match best;
  auto more_specific = [](const Route& a, const Route& b) {
    // The first segment where one is literal and the other a placeholder decides.
    for (size_t i = 0; i < a.segments.size(); ++i) {
      if (a.segments[i].second != b.segments[i].second) return !a.segments[i].second;
    }
    return false;
  };
  for (const auto& route : routes_) {
    if (route->segments.size() != segments.size()) continue;
    bool matches = true;
    for (size_t i = 0; i < segments.size() && matches; ++i) {
      const auto& [text, is_param] = route->segments[i];
      matches = is_param ? !segments[i].empty() : segments[i] == text;
    }
    if (!matches) continue;
    if (route->method != wanted) {
      if (best.allowed.find(route->method) == std::string::npos) {
        if (!best.allowed.empty()) best.allowed.append(", ");
        best.allowed.append(route->method);
      }
      continue;
    }
    if (best.route != nullptr && !more_specific(*route, *best.route)) continue;
    best.route = route.get();
  }
  if (best.route != nullptr) {
    for (size_t i = 0; i < segments.size(); ++i) {
      const auto& [name, is_param] = best.route->segments[i];
      if (is_param) best.params.emplace_back(name, std::string(segments[i]));
    }
  }
  return best;
}

void HttpServer::Dispatch(const httplib::Request& raw, httplib::Response& out) {
  Match match = FindRoute(raw.method, raw.path);
  tl_route = match.route;
  if (!tl_request.active) {
    // Not seen by the pre-routing hook (should not happen); still serve with a fresh trace.
    tl_request.active = true;
    tl_request.start = std::chrono::steady_clock::now();
    tl_request.trace_id = telemetry::NewTraceId();
  }
  telemetry::ScopedTraceId trace(tl_request.trace_id);
  out.set_header("X-Trace-Id", tl_request.trace_id);
  if (match.route == nullptr) {
    if (!match.allowed.empty()) {
      ApplyResponse(HttpResponse::Error(absl::UnimplementedError("method " + raw.method +
                                                                 " is not allowed on " + raw.path +
                                                                 "; allowed: " + match.allowed)),
                    out);
      out.status = 405;
      out.set_header("Allow", match.allowed);
      return;
    }
    ApplyResponse(HttpResponse::Error(absl::NotFoundError("no route for " + raw.method + " " +
                                                          raw.path + "; check the URL")),
                  out);
    return;
  }
  const Route& route = *match.route;
  if (options_.authenticator != nullptr && !route.builtin) {
    // The project a call acts on: its {project_name} segment, else its project_name query.
    std::string project;
    for (const auto& [name, value] : match.params) {
      if (name == "project_name") project = value;
    }
    if (project.empty()) project = raw.get_param_value("project_name");
    absl::Status allowed = options_.authenticator
                               ->Authorize({.route = route.access_key, .project = project},
                                           raw.get_header_value("Authorization"))
                               .status();
    if (!allowed.ok()) {
      ApplyResponse(HttpResponse::Error(allowed), out);
      if (allowed.code() == absl::StatusCode::kUnauthenticated) {
        out.set_header("WWW-Authenticate", "Bearer realm=\"optimus\"");
      }
      return;
    }
  }
  HttpRequest request(raw, route.pattern, std::move(match.params), tl_request.trace_id);
  HttpResponse response;
  try {
    response = route.handler(request);
  } catch (const std::exception& e) {
    // Handlers report failures as statuses; an exception is a bug, answered as 500 and logged.
    LOG_ERROR("HTTP handler threw", {{"route", route.pattern}, {"error", e.what()}});
    response = HttpResponse::Error(
        absl::InternalError("internal error while handling " + route.pattern + " (trace " +
                            tl_request.trace_id + " in the server log)"));
  }
  ApplyResponse(response, out);
  if (stopped_) out.set_header("Connection", "close");
}

void HttpServer::Finish(const httplib::Request& raw, const httplib::Response& out) {
  auto now = std::chrono::steady_clock::now();
  if (!tl_request.active) {
    // httplib rejected the request before routing (malformed request line, ...).
    tl_request.start = now;
    tl_request.trace_id = telemetry::NewTraceId();
  }
  const Route* route = static_cast<const Route*>(tl_route);
  if (route == nullptr) {
    // The body may have been refused (413) before Dispatch ran; the path still names a route.
    route = FindRoute(raw.method, raw.path).route;
  }
  static const std::string kUnmatched = kUnmatchedRoute;
  const std::string& route_label = route != nullptr ? route->pattern : kUnmatched;
  double seconds = std::chrono::duration<double>(now - tl_request.start).count();
  std::string_view method = MethodLabel(raw.method);
  metrics_->Record({method, route_label}, std::to_string(out.status), seconds);
  if (options_.access_log) {
    telemetry::ScopedTraceId trace(tl_request.trace_id);
    telemetry::LogLevel level = route != nullptr && route->builtin && out.status < 400
                                    ? telemetry::LogLevel::kDebug
                                    : telemetry::LogLevel::kInfo;
    OPTIMUS_LOG(level, "http request",
                {{"method", method},
                 {"path", raw.path},
                 {"route", route_label},
                 {"status", out.status},
                 {"duration_seconds", seconds},
                 {"bytes_in", raw.body.size()},
                 {"bytes_out", out.body.size()},
                 {"remote", raw.remote_addr}});
  }
  tl_request.active = false;
  tl_route = nullptr;
}

absl::Status HttpServer::Start() {
  if (started_) return absl::FailedPreconditionError("HttpServer::Start called twice");
  const size_t threads = static_cast<size_t>(std::max(1, options_.threads));
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_->set_payload_max_length(options_.max_body_bytes);
  server_->set_keep_alive_max_count(
      static_cast<size_t>(std::max(1, options_.keep_alive_max_requests)));
  server_->set_keep_alive_timeout(options_.keep_alive_timeout.count());
  server_->set_read_timeout(options_.read_timeout.count(), 0);
  // httplib writes a response's headers and body apart: with Nagle's algorithm the body waits
  // for the client's delayed ACK (40 ms on Linux) on every kept-alive connection.
  server_->set_tcp_nodelay(true);
  server_->set_write_timeout(options_.write_timeout.count(), 0);
  // Only SO_REUSEADDR: httplib's default also sets SO_REUSEPORT, which would let a second
  // process bind the same port silently instead of failing.
  server_->set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server_->set_pre_routing_handler([](const httplib::Request& raw, httplib::Response&) {
    tl_request.active = true;
    tl_request.start = std::chrono::steady_clock::now();
    auto context = telemetry::ParseTraceparent(raw.get_header_value("traceparent"));
    tl_request.trace_id = context ? std::move(context->trace_id) : telemetry::NewTraceId();
    tl_route = nullptr;
    return httplib::Server::HandlerResponse::Unhandled;
  });
  auto dispatch = [this](const httplib::Request& raw, httplib::Response& out) {
    Dispatch(raw, out);
  };
  server_->Get(".*", dispatch);
  server_->Post(".*", dispatch);
  server_->Put(".*", dispatch);
  server_->Patch(".*", dispatch);
  server_->Delete(".*", dispatch);
  server_->Options(".*", dispatch);
  // Errors httplib produces itself (413, 400, ...) get the same JSON body as ours.
  server_->set_error_handler(
      httplib::Server::HandlerWithResponse([this](const httplib::Request&, httplib::Response& out) {
        if (!out.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        std::string message;
        if (out.status == 413) {
          message = "the request body exceeds the limit of " +
                    std::to_string(options_.max_body_bytes) + " bytes; send a smaller body";
        } else {
          message = "the server rejected the request with HTTP " + std::to_string(out.status);
        }
        out.set_content(ErrorJson(absl::Status(CodeFromHttpStatus(out.status), message)),
                        "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }));
  server_->set_exception_handler(
      [](const httplib::Request& raw, httplib::Response& out, std::exception_ptr error) {
        std::string what = "unknown exception";
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
          // Non-standard exception types carry no message; the log line still records it.
        }
        LOG_ERROR("HTTP request failed with an exception", {{"path", raw.path}, {"error", what}});
        out.status = 500;
        out.set_content(ErrorJson(absl::InternalError("internal error")), "application/json");
      });
  server_->set_logger(
      [this](const httplib::Request& raw, const httplib::Response& out) { Finish(raw, out); });

  if (options_.port == 0) {
    port_ = server_->bind_to_any_port(options_.host);
    if (port_ <= 0) {
      return absl::UnavailableError("cannot bind the HTTP server to " + options_.host +
                                    " on any port; check the host address");
    }
  } else {
    if (!server_->bind_to_port(options_.host, options_.port)) {
      return absl::UnavailableError("cannot bind the HTTP server to " + options_.host + ":" +
                                    std::to_string(options_.port) +
                                    "; is another process using the port?");
    }
    port_ = options_.port;
  }
  std::promise<void> done;
  listen_done_ = done.get_future();
  listen_thread_ = std::thread([this, done = std::move(done)]() mutable {
    server_->listen_after_bind();
    done.set_value();
  });
  started_ = true;
  // Stop() is a no-op until httplib marks itself running, so do not return before that.
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server_->is_running()) {
    if (listen_done_.wait_for(std::chrono::milliseconds(1)) == std::future_status::ready ||
        std::chrono::steady_clock::now() > give_up) {
      return absl::InternalError("the HTTP server on port " + std::to_string(port_) +
                                 " did not start listening");
    }
  }
  LOG_INFO("HTTP server listening", {{"host", options_.host}, {"port", port_}});
  return absl::OkStatus();
}

absl::Status HttpServer::Stop(std::chrono::milliseconds deadline) {
  if (!started_ || stopped_.exchange(true)) return absl::OkStatus();
  server_->stop();
  if (listen_done_.wait_for(deadline) != std::future_status::ready) {
    LOG_ERROR("HTTP requests still running at the stop deadline",
              {{"port", port_}, {"deadline_ms", deadline.count()}});
    return absl::DeadlineExceededError("HTTP server on port " + std::to_string(port_) +
                                       ": requests still running after " +
                                       std::to_string(deadline.count()) + " ms");
  }
  listen_thread_.join();
  LOG_INFO("HTTP server stopped", {{"port", port_}});
  return absl::OkStatus();
}

}  // namespace optimus::rpc
