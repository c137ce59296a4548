// optimus-dispatcher as a component: config, schema, adapters, and its background work (the
// reaper that expires leases and executors, the queue listener, the topic consumer).
#include "optimus/dispatcher/dispatcher_service.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "apis.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/rpc/grpc_server.h"
#include "optimus/telemetry/log.h"

namespace optimus::dispatcher {

using config::Type;

DispatcherService::DispatcherService() = default;
DispatcherService::~DispatcherService() = default;

config::Schema DispatcherService::ConfigSchema() const {
  config::Schema schema;
  schema.Add({.name = "dispatcher.lease",
              .type = Type::kDuration,
              .default_value = "10s",
              .description = "How long a claimed execution stays leased without a heartbeat; an "
                             "expired lease is queued again for any executor.",
              .min = 1000,
              .max = 3600000});
  schema.Add({.name = "dispatcher.heartbeat_interval",
              .type = Type::kDuration,
              .default_value = "2s",
              .description = "How often executors are told to heartbeat (keep it well below "
                             "dispatcher.lease).",
              .min = 100,
              .max = 600000});
  schema.Add({.name = "dispatcher.ping_deadline",
              .type = Type::kDuration,
              .default_value = "30s",
              .description = "An executor not heard from for this long is marked expired.",
              .min = 1000,
              .max = 86400000});
  schema.Add({.name = "dispatcher.max_attempts",
              .type = Type::kInt,
              .default_value = "3",
              .description = "Attempts of an execution whose leases expire before it fails.",
              .min = 1,
              .max = 100});
  schema.Add({.name = "dispatcher.default_timeout",
              .type = Type::kDuration,
              .default_value = "6h",
              .description = "Run timeout of executions that ask for none.",
              .min = 1000,
              .max = 7 * 86400000LL});
  schema.Add({.name = "dispatcher.registration_token_ttl",
              .type = Type::kDuration,
              .default_value = "24h",
              .description = "How long a registration token is valid when none is asked for.",
              .min = 60000,
              .max = 365 * 86400000LL});
  schema.Add({.name = "dispatcher.credential_ttl",
              .type = Type::kDuration,
              .default_value = "0",
              .description = "How long an executor's credential is good for after it registered "
                             "(0: until it is revoked); an executor past it must register again.",
              .min = 0,
              .max = 3650 * 86400000LL});
  schema.Add({.name = "dispatcher.reap_interval",
              .type = Type::kDuration,
              .default_value = "250ms",
              .description = "How often expired leases, deadlines and silent executors are "
                             "looked for.",
              .min = 10,
              .max = 60000});
  schema.Add({.name = "dispatcher.runtime_host",
              .description = "gRPC host:port of runtime-context, asked for the run inputs "
                             "executors fetch; empty: this process's own gRPC server "
                             "(optimus serve)."});
  schema.Add({.name = "scheduler.enabled",
              .type = Type::kBool,
              .default_value = "true",
              .description = "Run the native scheduler for projects with `scheduler: native` (one "
                             "replica at a time holds its lease)."});
  schema.Add({.name = "scheduler.tick_interval",
              .type = Type::kDuration,
              .default_value = "500ms",
              .description = "How often the native scheduler looks for due ticks, finished runs "
                             "and runs whose upstreams succeeded.",
              .min = 10,
              .max = 60000});
  schema.Add({.name = "scheduler.lease",
              .type = Type::kDuration,
              .default_value = "10s",
              .description = "The active scheduler's lease; another replica takes over this long "
                             "after it stops renewing.",
              .min = 1000,
              .max = 600000});
  schema.Add({.name = "scheduler.catch_up_limit",
              .type = Type::kInt,
              .default_value = "100",
              .description = "Past ticks a job with `catch_up: true` gets runs for at once (the "
                             "newest ones); older ticks are left for a replay.",
              .min = 1,
              .max = 100000});
  schema.Add({.name = "scheduler.max_active_runs",
              .type = Type::kInt,
              .default_value = "16",
              .description = "Runs of one job queued or running at once (Airflow's "
                             "max_active_runs).",
              .min = 1,
              .max = 10000});
  schema.Add({.name = "scheduler.pool_slots",
              .description = "Runs of a pool queued or running at once, as pool=slots pairs: "
                             "\"etl=4,reports=2\" (a pool not named has no limit)."});
  schema.Add({.name = "scheduler.sensor_timeout",
              .type = Type::kDuration,
              .default_value = "15h",
              .description = "A run whose upstreams have not succeeded after this long fails "
                             "(Optimus's sensor_timeout_in_secs).",
              .min = 1000,
              .max = 30 * 86400000LL});
  schema.Add({.name = "scheduler.http_poke_interval",
              .type = Type::kDuration,
              .default_value = "60s",
              .description = "How often an http dependency is asked again while a run waits "
                             "on it.",
              .min = 100,
              .max = 86400000});
  schema.Add({.name = "scheduler.history",
              .type = Type::kDuration,
              .default_value = "72h",
              .description = "Runs the active scheduler keeps in memory (older ones are read from "
                             "the database when a gate needs them).",
              .min = 3600000,
              .max = 400 * 86400000LL});
  schema.Add({.name = "scheduler.airflow_auth",
              .description = "user:password for the Airflow REST API of projects on Airflow, for "
                             "their replays (the webserver at each project's scheduler_host), "
                             "used for a project without its own SCHEDULER_AUTH secret; set it "
                             "from OPTIMUS_SCHEDULER_AIRFLOW_AUTH."});
  schema.Add({.name = "scheduler.run_timeout",
              .type = Type::kDuration,
              .default_value = "0",
              .description = "Run timeout of scheduled executions (0: dispatcher.default_timeout).",
              .min = 0,
              .max = 7 * 86400000LL});
  return schema;
}

absl::StatusOr<std::map<std::string, int32_t>> ParsePoolSlots(const std::string& text) {
  std::map<std::string, int32_t> out;
  for (absl::string_view pair : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(pair, '=');
    int32_t slots = 0;
    const std::string name(absl::StripAsciiWhitespace(kv.first));
    if (name.empty() || !absl::SimpleAtoi(kv.second, &slots) || slots < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "scheduler.pool_slots: \"", pair, "\" is not pool=slots with slots of at least 1"));
    }
    out[name] = slots;
  }
  return out;
}

std::map<std::string, rpc::Access, std::less<>> DispatcherService::AccessRules() const {
  using rpc::Access;
  return {
      {"optimus.core.v1.CatalogService/CreateTask", Access::kAdmin},
      {"optimus.core.v1.CatalogService/GetTask", Access::kAnyToken},
      {"optimus.core.v1.CatalogService/ListTasks", Access::kAnyToken},
      {"optimus.core.v1.ExecutorAdminService/CreateRegistrationToken", Access::kAdmin},
      {"optimus.core.v1.ExecutorAdminService/ListExecutors", Access::kAnyToken},
      {"optimus.core.v1.ExecutorAdminService/RevokeExecutor", Access::kAdmin},
      {"POST /api/v1beta1/catalog/tasks", Access::kAdmin},
      {"GET /api/v1beta1/catalog/tasks", Access::kAnyToken},
      {"GET /api/v1beta1/catalog/tasks/{task_name}", Access::kAnyToken},
      {"GET /api/v1beta1/executors", Access::kAnyToken},
      {"POST /api/v1beta1/executors/registration_tokens", Access::kAdmin},
      {"POST /api/v1beta1/executors/{id}/revoke", Access::kAdmin},
  };
}

absl::Status DispatcherService::Start(app::Context& context) {
  if (absl::Status s = pipeline::EnsurePipelineTopics(context.bus); !s.ok()) return s;
  auto key = Dispatcher::LoadRunTokenKey(context.db);
  if (!key.ok()) return key.status();
  const config::Config& c = context.config;
  DispatcherOptions options{
      .lease_ms = c.DurationMs("dispatcher.lease"),
      .heartbeat_ms = c.DurationMs("dispatcher.heartbeat_interval"),
      .ping_deadline_ms = c.DurationMs("dispatcher.ping_deadline"),
      .max_attempts = static_cast<int32_t>(c.Int("dispatcher.max_attempts")),
      .default_timeout_ms = c.DurationMs("dispatcher.default_timeout"),
      .registration_token_ms = c.DurationMs("dispatcher.registration_token_ttl"),
      .credential_ttl_ms = c.DurationMs("dispatcher.credential_ttl"),
      .run_token_key = *std::move(key)};
  if (options.heartbeat_ms * 2 > options.lease_ms) {
    return absl::InvalidArgumentError(
        "dispatcher.heartbeat_interval must be at most half of dispatcher.lease, or a late "
        "heartbeat loses a running execution");
  }
  dispatcher_ = std::make_unique<Dispatcher>(context.db, context.outbox, context.blob,
                                             std::move(options), &context.metrics);
  for (auto& [service, name] : MakePeopleServices(*dispatcher_, context.authenticator)) {
    context.grpc.AddService(service.get(), name);
    services_.push_back(std::move(service));
  }
  rpc::GrpcServer& grpc = context.grpc;
  // Without runtime_host (optimus serve), runtime-context is served by this same server: its
  // in-process channel skips the socket and HTTP/2, two of each run's calls.
  auto runtime = [host = c.String("dispatcher.runtime_host"),
                  &grpc]() -> std::shared_ptr<grpc::Channel> {
    if (host.empty() && grpc.server() != nullptr) {
      return grpc.server()->InProcessChannel(grpc::ChannelArguments());
    }
    return grpc::CreateChannel(host.empty() ? "127.0.0.1:" + std::to_string(grpc.port()) : host,
                               grpc::InsecureChannelCredentials());
  };
  services_.push_back(MakeExecutorService(*dispatcher_, runtime, context.internal_token));
  context.grpc.AddService(services_.back().get(), "optimus.core.v1.ExecutorService");
  // Executors call these all the time.
  for (const char* method : {"Heartbeat", "Claim", "AppendLog", "Report"}) {
    context.grpc.LogSuccessAtDebug(std::string("optimus.core.v1.ExecutorService/") + method);
  }
  AddRestRoutes(context.http, *dispatcher_);

  auto slots = ParsePoolSlots(c.String("scheduler.pool_slots"));
  if (!slots.ok()) return slots.status();
  scheduler_ = std::make_unique<Scheduler>(
      context.db, context.outbox, dispatcher_->executions(),
      SchedulerOptions{.lease_ms = c.DurationMs("scheduler.lease"),
                       .catch_up_limit = static_cast<size_t>(c.Int("scheduler.catch_up_limit")),
                       .max_active_runs = static_cast<int32_t>(c.Int("scheduler.max_active_runs")),
                       .pool_slots = *std::move(slots),
                       .sensor_timeout_ms = c.DurationMs("scheduler.sensor_timeout"),
                       .http_poke_ms = c.DurationMs("scheduler.http_poke_interval"),
                       .run_timeout_ms = c.DurationMs("scheduler.run_timeout"),
                       .max_attempts = dispatcher_->options().max_attempts,
                       .history_ms = c.DurationMs("scheduler.history")},
      [d = dispatcher_.get()] { return d->Now(); }, &context.metrics);
  replays_ = std::make_unique<Replays>(context.db, [d = dispatcher_.get()] { return d->Now(); });
  services_.push_back(MakeReplayService(*replays_, context.authenticator));
  context.grpc.AddService(services_.back().get(), "gotocompany.optimus.core.v1beta1.ReplayService");
  AddReplayRoutes(context.http, *replays_);
  std::optional<secrets::SecretBox> box;
  if (!context.app_key.empty()) {
    auto made = secrets::SecretBox::FromAppKey(context.app_key);
    if (!made.ok()) return made.status();
    box = *std::move(made);
  }
  airflow_replays_ = std::make_unique<AirflowReplays>(
      context.db, c.String("scheduler.airflow_auth"), std::move(box),
      [d = dispatcher_.get()] { return d->Now(); });

  worker_ = std::make_unique<pipeline::ConsumerWorker>(
      context.bus, context.db,
      pipeline::ConsumerWorker::Options{
          .group = "dispatcher",
          .topics = {pipeline::kResolutionsTopic, pipeline::kPluginsTopic,
                     pipeline::kExecutionRequestsTopic, pipeline::kProjectsTopic,
                     pipeline::kJobRunsTopic, pipeline::kSecretsTopic},
          // Of the runs' topic, mostly this dispatcher's own records: only Airflow's are read.
          .wanted =
              [](const bus::Message& m) {
                return m.topic != pipeline::kJobRunsTopic || Scheduler::WantsJobRun(m);
              }},
      [this](store::Transaction& tx, const bus::Message& m) -> absl::Status {
        if (m.topic == pipeline::kSecretsTopic) return AirflowReplays::ApplySecret(tx, m);
        if (m.topic == pipeline::kProjectsTopic) return Scheduler::ApplyProject(tx, m);
        if (m.topic == pipeline::kJobRunsTopic) return Scheduler::ApplyJobRun(tx, m);
        if (m.topic != pipeline::kExecutionRequestsTopic) return JobPlans::Apply(tx, m);
        auto request = pipeline::ParseRecord<events::v1::ExecutionRequest>(m);
        if (!request.ok()) return request.status();
        return dispatcher_->EnqueueRequest(tx, *request);
      });
  if (absl::Status s = worker_->Start(); !s.ok()) return s;

  const int64_t reap_ms = c.DurationMs("dispatcher.reap_interval");
  reaper_ = std::jthread([this, reap_ms](std::stop_token stop) {
    while (!stop.stop_requested()) {
      if (absl::Status s = dispatcher_->Reap(); !s.ok()) {
        LOG_WARN("dispatcher housekeeping failed; trying again", {{"error", s}});
      }
      std::mutex mu;
      std::unique_lock lock(mu);
      std::condition_variable_any().wait_for(lock, stop, std::chrono::milliseconds(reap_ms),
                                             [] { return false; });
    }
  });
  store::Database& db = context.db;
  // Executions queued by another replica (or the consumer) wake this replica's waiting claims.
  listener_ = std::jthread([this, &db](std::stop_token stop) {
    while (!stop.stop_requested()) {
      // One waiter per commit that queued work; a claimer that fills up passes the wake on.
      if (db.WaitForNotification(kQueueChannel, 500)) dispatcher_->signal().Wake(1);
    }
  });
  if (c.Bool("scheduler.enabled")) {
    const int64_t tick_ms = c.DurationMs("scheduler.tick_interval");
    ticker_ = std::jthread([this, tick_ms](std::stop_token stop) {
      bool was_active = false;
      while (!stop.stop_requested()) {
        auto stats = scheduler_->Tick();
        if (!stats.ok()) {
          LOG_WARN("native scheduler pass failed; trying again", {{"error", stats.status()}});
        } else if (stats->active != was_active) {
          was_active = stats->active;
          scheduler_active_ = was_active;
          LOG_INFO(was_active ? "this replica runs the native scheduler"
                              : "another replica runs the native scheduler",
                   {});
        }
        std::mutex mu;
        std::unique_lock lock(mu);
        std::condition_variable_any().wait_for(lock, stop, std::chrono::milliseconds(tick_ms),
                                               [] { return false; });
      }
      scheduler_active_ = false;
      scheduler_->Release();
    });
    // Replays of projects on Airflow talk to their webservers: on a thread of their own, so that
    // a slow Airflow never holds the scheduler's passes up. Only on the active replica.
    airflow_thread_ = std::jthread([this](std::stop_token stop) {
      while (!stop.stop_requested()) {
        if (scheduler_active_) {
          if (absl::Status s = airflow_replays_->Advance(); !s.ok()) {
            LOG_WARN("replays through Airflow failed a pass; trying again", {{"error", s}});
          }
        }
        std::mutex mu;
        std::unique_lock lock(mu);
        std::condition_variable_any().wait_for(lock, stop, std::chrono::seconds(2),
                                               [] { return false; });
      }
    });
  }
  return absl::OkStatus();
}

void DispatcherService::Stop() {
  airflow_thread_ = {};
  ticker_ = {};
  if (worker_) worker_->Stop();
  reaper_ = {};
  listener_ = {};
}

}  // namespace optimus::dispatcher
