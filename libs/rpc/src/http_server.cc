// HttpServer: routing with path templates, built-in operational endpoints, metrics, access logs
// and authentication (see http_server.h; connections are in http_transport.cc).
#include "optimus/rpc/http_server.h"

#include <prometheus/registry.h>

#include <cctype>
#include <cstdlib>

#include "http_internal.h"
#include "optimus/rpc/status.h"
#include "optimus/telemetry/health.h"
#include "optimus/telemetry/log.h"
#include "optimus/telemetry/metrics.h"
#include "optimus/telemetry/trace.h"
#include "request_metrics.h"

namespace optimus::rpc {

namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

namespace {

constexpr char kUnmatchedRoute[] = "unmatched";

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

}  // namespace

const std::string& HttpRequest::method() const { return raw_->method; }
const std::string& HttpRequest::path() const { return raw_->path; }
const std::string& HttpRequest::body() const { return raw_->message.body(); }
const std::string& HttpRequest::remote_addr() const { return raw_->remote_addr; }

const std::string& HttpRequest::PathParam(std::string_view name) const {
  static const std::string kEmpty;
  for (const auto& [key, value] : params_) {
    if (key == name) return value;
  }
  return kEmpty;
}

std::string HttpRequest::Header(const std::string& name) const {
  auto it = raw_->message.find(name);
  return it == raw_->message.end() ? std::string() : std::string(it->value());
}
bool HttpRequest::HasHeader(const std::string& name) const {
  return raw_->message.find(name) != raw_->message.end();
}
std::string HttpRequest::Query(const std::string& name) const {
  for (const auto& [key, value] : raw_->query) {
    if (key == name) return value;
  }
  return {};
}
bool HttpRequest::HasQuery(const std::string& name) const {
  for (const auto& [key, value] : raw_->query) {
    if (key == name) return true;
  }
  return false;
}
std::vector<std::string> HttpRequest::QueryAll(const std::string& name) const {
  std::vector<std::string> values;
  for (const auto& [key, value] : raw_->query) {
    if (key == name) values.push_back(value);
  }
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
  // HEAD is answered by the GET handler, without its body.
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

HttpResponse HttpServer::Serve(internal::RawRequest& raw, Match match) {
  telemetry::ScopedTraceId trace(raw.trace_id);
  const Route* route = match.route;
  HttpResponse response = [&] {
    if (route == nullptr) {
      if (!match.allowed.empty()) {
        HttpResponse r = HttpResponse::Error(
            absl::UnimplementedError("method " + raw.method + " is not allowed on " + raw.path +
                                     "; allowed: " + match.allowed));
        r.status = 405;
        r.headers.emplace_back("Allow", match.allowed);
        return r;
      }
      return HttpResponse::Error(
          absl::NotFoundError("no route for " + raw.method + " " + raw.path + "; check the URL"));
    }
    if (options_.authenticator != nullptr && !route->builtin) {
      // The project a call acts on: its {project_name} segment, else its project_name query.
      std::string project;
      for (const auto& [name, value] : match.params) {
        if (name == "project_name") project = value;
      }
      if (project.empty()) {
        for (const auto& [name, value] : raw.query) {
          if (name == "project_name") {
            project = value;
            break;
          }
        }
      }
      absl::Status allowed = options_.authenticator
                                 ->Authorize({.route = route->access_key, .project = project},
                                             std::string(raw.message[http::field::authorization]))
                                 .status();
      if (!allowed.ok()) {
        HttpResponse r = HttpResponse::Error(allowed);
        if (allowed.code() == absl::StatusCode::kUnauthenticated) {
          r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"optimus\"");
        }
        return r;
      }
    }
    HttpRequest request(raw, route->pattern, std::move(match.params), raw.trace_id);
    try {
      return route->handler(request);
    } catch (const std::exception& e) {
      // Handlers report failures as statuses; an exception is a bug, answered as 500 and logged.
      LOG_ERROR("HTTP handler threw", {{"route", route->pattern}, {"error", e.what()}});
      return HttpResponse::Error(absl::InternalError("internal error while handling " +
                                                     route->pattern + " (trace " + raw.trace_id +
                                                     " in the server log)"));
    }
  }();
  response.headers.emplace_back("X-Trace-Id", raw.trace_id);
  Record(raw, route, response.status, response.body.size());
  return response;
}

void HttpServer::Record(const internal::RawRequest& raw, const Route* route, int status,
                        size_t bytes_out) const {
  static const std::string kUnmatched = kUnmatchedRoute;
  const std::string& route_label = route != nullptr ? route->pattern : kUnmatched;
  const double seconds = std::chrono::duration<double>(Clock::now() - raw.start).count();
  const std::string_view method = MethodLabel(raw.method);
  metrics_->Record({method, route_label}, std::to_string(status), seconds);
  if (!options_.access_log) return;
  telemetry::ScopedTraceId trace(raw.trace_id);
  const telemetry::LogLevel level = route != nullptr && route->builtin && status < 400
                                        ? telemetry::LogLevel::kDebug
                                        : telemetry::LogLevel::kInfo;
  OPTIMUS_LOG(level, "http request",
              {{"method", method},
               {"path", raw.path},
               {"route", route_label},
               {"status", status},
               {"duration_seconds", seconds},
               {"bytes_in", raw.message.body().size()},
               {"bytes_out", bytes_out},
               {"remote", raw.remote_addr}});
}

}  // namespace optimus::rpc
