// GrpcServer: builder wrapper with health, reflection, the observing interceptor and shutdown.
#include "optimus/rpc/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/server_interceptor.h>

#include <set>
#include <unordered_map>

#include "optimus/rpc/status.h"
#include "optimus/telemetry/log.h"
#include "optimus/telemetry/metrics.h"
#include "request_metrics.h"

namespace optimus::rpc {
namespace {

// Trace ids the interceptor assigned to running calls, so handlers can log with the same id.
class CallTraces {
 public:
  void Add(const grpc::ServerContextBase* context, std::string trace_id) {
    std::lock_guard<std::mutex> lock(mu_);
    traces_[context] = std::move(trace_id);
  }
  void Remove(const grpc::ServerContextBase* context) {
    std::lock_guard<std::mutex> lock(mu_);
    traces_.erase(context);
  }
  std::string Find(const grpc::ServerContextBase* context) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = traces_.find(context);
    return it == traces_.end() ? std::string() : it->second;
  }

 private:
  std::mutex mu_;
  std::unordered_map<const grpc::ServerContextBase*, std::string> traces_;
};

CallTraces& Traces() {
  static CallTraces* traces = new CallTraces();  // never destroyed: calls may end during exit
  return *traces;
}

std::string_view FindMetadata(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
                              std::string_view key) {
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return {};
  return std::string_view(it->second.data(), it->second.size());
}

std::string TraceFromMetadata(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
  auto context = telemetry::ParseTraceparent(FindMetadata(metadata, "traceparent"));
  return context ? std::move(context->trace_id) : std::string();
}

// Services whose methods may appear as metric labels. Calls to anything else (a client probing
// random names) are counted under "unknown" so they cannot create unbounded series.
class KnownServices {
 public:
  KnownServices(std::vector<std::string> names, std::vector<std::string> quiet)
      : names_(names.begin(), names.end()), quiet_(quiet.begin(), quiet.end()) {
    names_.insert("grpc.health.v1.Health");
    names_.insert("grpc.reflection.v1alpha.ServerReflection");
    names_.insert("grpc.reflection.v1.ServerReflection");
  }

  std::string_view MetricLabel(std::string_view method) const {
    size_t slash = method.find('/');
    if (slash == std::string_view::npos) return "unknown";
    return names_.find(method.substr(0, slash)) != names_.end() ? method : "unknown";
  }

  // Health checks and reflection are probes and tools, and the methods marked with
  // LogSuccessAtDebug are called very often: their successful calls are logged at debug (the
  // request metrics still count every one).
  bool Quiet(std::string_view method) const {
    return method.rfind("grpc.health.", 0) == 0 || method.rfind("grpc.reflection.", 0) == 0 ||
           quiet_.find(method) != quiet_.end();
  }

 private:
  std::set<std::string, std::less<>> names_;
  std::set<std::string, std::less<>> quiet_;
};

// One per call: assigns the trace id, then records metrics and the access log line when the
// status is sent.
class ObservingInterceptor : public grpc::experimental::Interceptor {
 public:
  ObservingInterceptor(grpc::experimental::ServerRpcInfo* info, internal::RequestMetrics* metrics,
                       const KnownServices* known, bool access_log)
      : context_(info->server_context()),
        method_(info->method() != nullptr ? info->method() : ""),
        metrics_(metrics),
        known_(known),
        access_log_(access_log),
        start_(std::chrono::steady_clock::now()) {
    if (!method_.empty() && method_.front() == '/') method_.erase(0, 1);
  }

  ~ObservingInterceptor() override {
    // No status was sent: the call ended because the client went away or the server shut down.
    if (!recorded_) Record(grpc::StatusCode::CANCELLED, "call ended without a status");
    if (registered_) Traces().Remove(context_);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      trace_id_ = TraceFromMetadata(*methods->GetRecvInitialMetadata());
      if (trace_id_.empty()) trace_id_ = telemetry::NewTraceId();
      Traces().Add(context_, trace_id_);
      registered_ = true;
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      Record(status.error_code(), status.error_message());
    }
    methods->Proceed();
  }

 private:
  void Record(grpc::StatusCode code, const std::string& message) {
    recorded_ = true;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::string code_name = StatusCodeName(static_cast<absl::StatusCode>(code));
    metrics_->Record({known_->MetricLabel(method_)}, code_name, seconds);
    if (!access_log_) return;
    if (trace_id_.empty()) trace_id_ = telemetry::NewTraceId();
    telemetry::ScopedTraceId trace(trace_id_);
    telemetry::LogLevel level = known_->Quiet(method_) && code == grpc::StatusCode::OK
                                    ? telemetry::LogLevel::kDebug
                                    : telemetry::LogLevel::kInfo;
    if (code == grpc::StatusCode::OK) {
      OPTIMUS_LOG(level, "grpc request",
                  {{"method", method_}, {"code", code_name}, {"duration_seconds", seconds}});
    } else {
      OPTIMUS_LOG(level, "grpc request",
                  {{"method", method_},
                   {"code", code_name},
                   {"duration_seconds", seconds},
                   {"error", message}});
    }
  }

  grpc::ServerContextBase* context_;
  std::string method_;
  internal::RequestMetrics* metrics_;
  const KnownServices* known_;
  bool access_log_;
  std::chrono::steady_clock::time_point start_;
  std::string trace_id_;
  bool recorded_ = false;
  bool registered_ = false;
};

class ObservingInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  ObservingInterceptorFactory(std::shared_ptr<internal::RequestMetrics> metrics,
                              KnownServices known, bool access_log)
      : metrics_(std::move(metrics)), known_(std::move(known)), access_log_(access_log) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new ObservingInterceptor(info, metrics_.get(), &known_, access_log_);
  }

 private:
  std::shared_ptr<internal::RequestMetrics> metrics_;
  KnownServices known_;
  bool access_log_;
};

}  // namespace

GrpcServer::GrpcServer(GrpcServerOptions options) : options_(std::move(options)) {
  if (options_.metrics == nullptr) options_.metrics = &telemetry::Metrics();
}

GrpcServer::~GrpcServer() {
  if (server_ != nullptr && !shut_down_.exchange(true)) {
    server_->Shutdown(std::chrono::system_clock::now());
    server_->Wait();
  }
}

void GrpcServer::LogSuccessAtDebug(std::string method) {
  quiet_methods_.push_back(std::move(method));
}

void GrpcServer::AddService(grpc::Service* service, std::string name) {
  if (server_ != nullptr) {
    LOG_ERROR("gRPC service added after Start(); register services before starting",
              {{"service", name}});
    std::abort();
  }
  services_.emplace_back(service, std::move(name));
}

absl::Status GrpcServer::Start() {
  if (server_ != nullptr) return absl::FailedPreconditionError("GrpcServer::Start called twice");
  // Both are process-wide switches that apply to servers built afterwards.
  static std::once_flag health_once;
  std::call_once(health_once, [] { grpc::EnableDefaultHealthCheckService(true); });
  if (options_.reflection) {
    static std::once_flag reflection_once;
    std::call_once(reflection_once,
                   [] { grpc::reflection::InitProtoReflectionServerBuilderPlugin(); });
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.address, grpc::InsecureServerCredentials(), &port_);
  for (const auto& [service, name] : services_) builder.RegisterService(service);
  // gRPC sets SO_REUSEPORT by default, so a second process on the same port would start and
  // silently share the traffic; without it, binding a used port fails as it should.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(options_.max_message_bytes);
  builder.SetMaxSendMessageSize(options_.max_message_bytes);
  // Threads that poll for calls: gRPC's defaults (1 to 2) start a thread for nearly every
  // burst of calls and end it afterwards; executors' many short calls made that churn a
  // visible share of the server's CPU. Idle pollers cost a stack and a wake-up now and then.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 2);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 8);
  if (options_.max_threads > 0) {
    grpc::ResourceQuota quota("optimus_grpc_server");
    quota.SetMaxThreads(options_.max_threads);
    builder.SetResourceQuota(quota);
  }
  auto metrics = std::make_shared<internal::RequestMetrics>(
      *options_.metrics, "optimus_grpc", "gRPC calls", std::vector<std::string>{"method"});
  std::vector<std::string> names;
  for (const auto& [service, name] : services_) names.push_back(name);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<ObservingInterceptorFactory>(
      std::move(metrics), KnownServices(std::move(names), quiet_methods_), options_.access_log));
  builder.experimental().SetInterceptorCreators(std::move(creators));
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    server_.reset();
    return absl::UnavailableError("cannot start the gRPC server on " + options_.address +
                                  "; check the address and whether the port is in use");
  }
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health == nullptr) {
    return absl::InternalError("the gRPC default health service is not available");
  }
  for (const auto& [service, name] : services_) health->SetServingStatus(name, true);
  LOG_INFO("gRPC server listening", {{"address", options_.address}, {"port", port_}});
  return absl::OkStatus();
}

void GrpcServer::SetServing(const std::string& name, bool serving) {
  std::lock_guard<std::mutex> lock(health_mu_);
  if (server_ == nullptr || draining_) return;
  server_->GetHealthCheckService()->SetServingStatus(name, serving);
}

void GrpcServer::BeginDraining() {
  std::lock_guard<std::mutex> lock(health_mu_);
  if (server_ == nullptr || draining_) return;
  draining_ = true;
  // Marks every service and the server NOT_SERVING and freezes the statuses.
  server_->GetHealthCheckService()->Shutdown();
  LOG_INFO("gRPC server draining: health reports NOT_SERVING", {{"port", port_}});
}

absl::Status GrpcServer::Shutdown(std::chrono::milliseconds deadline) {
  BeginDraining();
  if (server_ == nullptr || shut_down_.exchange(true)) return absl::OkStatus();
  auto start = std::chrono::steady_clock::now();
  server_->Shutdown(std::chrono::system_clock::now() + deadline);
  server_->Wait();
  auto elapsed = std::chrono::steady_clock::now() - start;
  if (elapsed >= deadline) {
    LOG_ERROR("gRPC calls still running at the shutdown deadline were cancelled",
              {{"port", port_}, {"deadline_ms", deadline.count()}});
    return absl::DeadlineExceededError("gRPC server on port " + std::to_string(port_) +
                                       ": calls still running after " +
                                       std::to_string(deadline.count()) + " ms were cancelled");
  }
  LOG_INFO("gRPC server stopped", {{"port", port_}});
  return absl::OkStatus();
}

std::string CallTraceId(const grpc::ServerContextBase* context) {
  std::string trace = TraceFromMetadata(context->client_metadata());
  if (trace.empty()) trace = Traces().Find(context);
  if (trace.empty()) trace = telemetry::NewTraceId();
  return trace;
}

ScopedCallTrace::ScopedCallTrace(const grpc::ServerContextBase* context)
    : scope_(CallTraceId(context)) {}

std::string_view CallAuthorization(const grpc::ServerContextBase* context) {
  return context == nullptr ? std::string_view()
                            : FindMetadata(context->client_metadata(), "authorization");
}

grpc::Status Authorize(const grpc::ServerContextBase* context, const Authenticator* authenticator,
                       std::string_view method, std::string_view project,
                       std::optional<Access> access) {
  // No context: a REST route calling the service in-process, checked by the HTTP server.
  if (authenticator == nullptr || context == nullptr) return grpc::Status::OK;
  std::string_view authorization = FindMetadata(context->client_metadata(), "authorization");
  return ToGrpcStatus(
      authenticator
          ->Authorize({.route = method, .project = project, .access = access}, authorization)
          .status());
}

}  // namespace optimus::rpc
