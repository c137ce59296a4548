// The dispatcher's use cases (see dispatcher.h).
#include "optimus/dispatcher/dispatcher.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "optimus/dispatcher/airflow_replays.h"
#include "optimus/dispatcher/scheduler.h"
#include "optimus/rpc/auth.h"
#include "optimus/rpc/timestamps.h"
#include "optimus/telemetry/metrics.h"

namespace optimus::dispatcher {
namespace {

using google::protobuf::util::TimeUtil;

constexpr int64_t kMaxClaimWaitMs = 5'000;  // a draining server then waits no longer for claims

int64_t SystemNowMs() { return absl::ToUnixMillis(absl::Now()); }

std::string Hex(const unsigned char* data, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < size; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 0xF];
  }
  return out;
}

absl::StatusOr<int64_t> ScheduledMs(const google::protobuf::Timestamp& at, bool given,
                                    int64_t now_ms) {
  if (!given) return now_ms - now_ms % 60'000;  // now, to the minute
  if (absl::Status s = rpc::CheckTimestamps(at, "scheduled_at"); !s.ok()) return s;
  return TimeUtil::TimestampToMilliseconds(at);
}

}  // namespace

void QueueSignal::Wake(int executions) {
  {
    std::lock_guard lock(mu_);
    ++generation_;
  }
  if (executions < 0) {
    cv_.notify_all();
    return;
  }
  for (int i = 0; i < executions; ++i) cv_.notify_one();
}

void QueueSignal::Wait(uint64_t seen, int64_t timeout_ms) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return generation_ != seen; });
}

uint64_t QueueSignal::generation() {
  std::lock_guard lock(mu_);
  return generation_;
}

struct Dispatcher::Metrics {
  explicit Metrics(prometheus::Registry& r)
      : executions(
            prometheus::BuildGauge()
                .Name("optimus_dispatcher_executions")
                .Help("Executions not yet ended, by state: queued (the queue's depth), leased, "
                      "running. Ended ones: optimus_dispatcher_executions_finished_total.")
                .Register(r)),
        executors(prometheus::BuildGauge()
                      .Name("optimus_dispatcher_executors")
                      .Help("Registered executors by status: idle, running, expired, revoked.")
                      .Register(r)),
        claims(prometheus::BuildCounter()
                   .Name("optimus_dispatcher_claims_total")
                   .Help("Executions leased to executors.")
                   .Register(r)
                   .Add({})),
        claim_latency(prometheus::BuildHistogram()
                          .Name("optimus_dispatcher_claim_latency_seconds")
                          .Help("Time from queued to leased, per claimed execution.")
                          .Register(r)
                          .Add({}, telemetry::LatencyBucketsSeconds())),
        expiries(prometheus::BuildCounter()
                     .Name("optimus_dispatcher_lease_expiries_total")
                     .Help("Leases that expired, by what became of the execution: requeued, "
                           "failed, cancelled, timed_out.")
                     .Register(r)),
        finished(prometheus::BuildCounter()
                     .Name("optimus_dispatcher_executions_finished_total")
                     .Help("Executions that ended, by kind and state.")
                     .Register(r)),
        durations(prometheus::BuildHistogram()
                      .Name("optimus_dispatcher_run_duration_seconds")
                      .Help("Run time of finished executions (start to end), by kind and state.")
                      .Register(r)) {}

  prometheus::Family<prometheus::Gauge>& executions;
  prometheus::Family<prometheus::Gauge>& executors;
  prometheus::Counter& claims;
  prometheus::Histogram& claim_latency;
  prometheus::Family<prometheus::Counter>& expiries;
  prometheus::Family<prometheus::Counter>& finished;
  prometheus::Family<prometheus::Histogram>& durations;
  int64_t gauges_at_ms = 0;
};

Dispatcher::Dispatcher(store::Database& db, const store::Outbox& outbox, blob::BlobStore& blob,
                       DispatcherOptions options, prometheus::Registry* metrics)
    : db_(db),
      options_(std::move(options)),
      executions_(db, outbox, options_.lease_ms),
      executors_(db, options_.credential_ttl_ms),
      catalog_(db),
      logs_(blob),
      metrics_(std::make_unique<Metrics>(metrics ? *metrics : telemetry::Metrics())) {
  // Every outcome exists from the start, so that rates and alerts see 0, not nothing.
  for (const char* outcome : {"requeued", "failed", "cancelled", "timed_out"}) {
    metrics_->expiries.Add({{"outcome", outcome}});
  }
  if (!options_.now_ms) options_.now_ms = SystemNowMs;
}

Dispatcher::~Dispatcher() = default;

std::vector<store::Migration> Dispatcher::Migrations() {
  std::vector<store::Migration> out = ExecutionStore::Migrations();
  out.push_back(ExecutorRegistry::Migration(2));
  out.push_back(Catalog::Migration(3));
  out.push_back(JobPlans::Migration(4));
  out.push_back(
      {5, "keys", "CREATE TABLE dispatcher_keys (name TEXT PRIMARY KEY, value TEXT NOT NULL)"});
  for (auto& m : Scheduler::Migrations(6)) out.push_back(std::move(m));
  out.push_back(AirflowReplays::Migration(9));
  return out;
}

absl::StatusOr<std::string> Dispatcher::LoadRunTokenKey(store::Database& db) {
  // The first replica to start makes it; the others read the same.
  auto made = db.Execute(
      "INSERT INTO dispatcher_keys (name, value) VALUES ('run_token', $1) ON CONFLICT (name) DO "
      "NOTHING",
      {rpc::NewToken()});
  if (!made.ok()) return made.status();
  auto rows = db.Execute("SELECT value FROM dispatcher_keys WHERE name = 'run_token'");
  if (!rows.ok()) return rows.status();
  if (rows->rows.empty()) return absl::InternalError("no run-token key after making one");
  return rows->rows[0].Text(0);
}

std::string Dispatcher::RunToken(const std::string& execution_id, int64_t epoch) const {
  const std::string message = absl::StrCat(execution_id, "/", epoch);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), options_.run_token_key.data(), static_cast<int>(options_.run_token_key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &size);
  return "optrun_" + Hex(digest, size);
}

absl::StatusOr<core::v1::Execution> Dispatcher::ExecuteJob(
    const core::v1::ExecuteJobRequest& request, const std::string& requested_by) {
  if (request.project_name().empty() || request.job_name().empty()) {
    return absl::InvalidArgumentError("executing a job needs project_name and job_name");
  }
  const int64_t now = Now();
  auto scheduled = ScheduledMs(request.scheduled_at(), request.has_scheduled_at(), now);
  if (!scheduled.ok()) return scheduled.status();
  if (request.timeout_seconds() < 0) {
    return absl::InvalidArgumentError("timeout_seconds must not be negative");
  }
  for (const auto& [name, value] : request.env()) {
    if (name.empty() || name.find_first_of("=\0", 0, 2) != std::string::npos) {
      return absl::InvalidArgumentError("env name \"" + name + "\" is not a variable name");
    }
  }
  core::v1::Execution out;
  absl::Status s = db_.InTransaction([&](store::Transaction& tx) -> absl::Status {
    auto plan = JobPlans::ExecutionOf(tx, request.project_name(), request.job_name());
    if (!plan.ok()) return plan.status();
    plan->request_key = request.request_key();
    plan->scheduled_at_ms = *scheduled;
    if (request.priority() != 0) plan->priority = request.priority();
    plan->timeout_ms = request.timeout_seconds() > 0 ? request.timeout_seconds() * 1000
                                                     : options_.default_timeout_ms;
    plan->plan.set_timeout_seconds(plan->timeout_ms / 1000);
    plan->max_attempts = options_.max_attempts;
    plan->requested_by = requested_by;
    for (auto& step : *plan->plan.mutable_steps()) {
      for (const auto& [name, value] : request.env()) (*step.mutable_env())[name] = value;
    }
    plan->args.insert(request.env().begin(), request.env().end());
    auto queued = executions_.EnqueueIn(tx, *plan, now);
    if (!queued.ok()) return queued.status();
    out = queued->execution;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  signal_.Wake(1);
  return out;
}

absl::StatusOr<core::v1::Execution> Dispatcher::ExecuteTask(
    const core::v1::ExecuteTaskRequest& request, const std::string& requested_by) {
  if (request.project_name().empty() || request.task_name().empty()) {
    return absl::InvalidArgumentError("executing a catalog task needs project_name and task_name");
  }
  auto task = catalog_.Get(request.task_name());
  if (!task.ok()) return task.status();
  auto execution = Catalog::ExecutionOf(*task, request.project_name(),
                                        {request.args().begin(), request.args().end()});
  if (!execution.ok()) return execution.status();
  execution->request_key = request.request_key();
  execution->requested_by = requested_by;
  execution->max_attempts = options_.max_attempts;
  if (request.timeout_seconds() > 0) execution->timeout_ms = request.timeout_seconds() * 1000;
  if (execution->timeout_ms == 0) execution->timeout_ms = options_.default_timeout_ms;
  execution->plan.set_timeout_seconds(execution->timeout_ms / 1000);
  auto queued = executions_.Enqueue(*execution, Now());
  if (!queued.ok()) return queued.status();
  signal_.Wake(1);
  return queued->execution;
}

absl::Status Dispatcher::EnqueueRequest(store::Transaction& tx,
                                        const events::v1::ExecutionRequest& request) {
  if (request.request_key().empty() || request.project().empty() ||
      request.job().empty() == request.task().empty()) {
    return absl::InvalidArgumentError(
        "an execution request needs request_key, project and either job or task");
  }
  const int64_t now = Now();
  absl::StatusOr<NewExecution> execution;
  if (!request.job().empty()) {
    auto scheduled = ScheduledMs(request.scheduled_at(), request.has_scheduled_at(), now);
    if (!scheduled.ok()) return scheduled.status();
    execution = JobPlans::ExecutionOf(tx, request.project(), request.job());
    if (!execution.ok()) return execution.status();
    execution->scheduled_at_ms = *scheduled;
    for (auto& step : *execution->plan.mutable_steps()) {
      for (const auto& [name, value] : request.args()) (*step.mutable_env())[name] = value;
    }
    execution->args.insert(request.args().begin(), request.args().end());
  } else {
    auto task = Catalog::GetIn(tx, request.task());
    if (!task.ok()) return task.status();
    execution = Catalog::ExecutionOf(*task, request.project(),
                                     {request.args().begin(), request.args().end()});
    if (!execution.ok()) return execution.status();
  }
  execution->request_key = request.request_key();
  execution->requested_by = request.requested_by();
  if (request.priority() != 0) execution->priority = request.priority();
  execution->max_attempts =
      request.max_attempts() > 0 ? request.max_attempts() : options_.max_attempts;
  if (request.timeout_seconds() > 0) execution->timeout_ms = request.timeout_seconds() * 1000;
  if (execution->timeout_ms == 0) execution->timeout_ms = options_.default_timeout_ms;
  execution->plan.set_timeout_seconds(execution->timeout_ms / 1000);
  auto queued = executions_.EnqueueIn(tx, *execution, now);
  if (!queued.ok()) return queued.status();
  signal_.Wake(1);  // early by a commit at most: that claimer then waits for the next one
  return absl::OkStatus();
}

absl::StatusOr<core::v1::ReadLogsResponse> Dispatcher::ReadLogs(
    const core::v1::ReadLogsRequest& request) {
  auto e = executions_.Get(request.project_name(), request.id());
  if (!e.ok()) return e.status();
  if (request.attempt() < 0 || request.attempt() > e->attempt()) {
    return absl::InvalidArgumentError(absl::StrCat("execution ", e->id(), " has attempts 1 to ",
                                                   e->attempt(), ", not ", request.attempt()));
  }
  auto read = logs_.Read(*e, request.attempt(), request.after_chunk());
  if (!read.ok()) return read.status();
  core::v1::ReadLogsResponse out;
  out.set_data(std::move(read->data));
  out.set_last_chunk(read->last_chunk);
  out.set_attempt(read->attempt);
  out.set_state(e->state());
  out.set_current_attempt(e->attempt());
  return out;
}

absl::StatusOr<core::v1::RegisterExecutorResponse> Dispatcher::Register(
    const core::v1::RegisterExecutorRequest& request) {
  ExecutorRecord wanted;
  wanted.name = request.name();
  wanted.labels = {request.labels().begin(), request.labels().end()};
  wanted.capacity = request.capacity();
  wanted.version = request.version();
  wanted.host = request.host();
  auto registered = executors_.Register(request.registration_token(), std::move(wanted), Now());
  if (!registered.ok()) return registered.status();
  core::v1::RegisterExecutorResponse out;
  out.set_executor_id(registered->executor.id);
  out.set_credential(registered->credential);
  out.set_heartbeat_interval_ms(options_.heartbeat_ms);
  out.set_lease_ms(options_.lease_ms);
  return out;
}

absl::StatusOr<core::v1::HeartbeatResponse> Dispatcher::Heartbeat(
    const ExecutorRecord& executor, const core::v1::HeartbeatRequest& request) {
  const int64_t now = Now();
  if (absl::Status s = executors_.Touch(executor.id, now); !s.ok()) return s;
  std::vector<std::pair<std::string, int64_t>> held;
  for (const auto& lease : request.running())
    held.emplace_back(lease.execution_id(), lease.epoch());
  auto renewal = executions_.Renew(executor.id, held, now);
  if (!renewal.ok()) return renewal.status();
  core::v1::HeartbeatResponse out;
  for (auto& id : renewal->renewed) out.add_renewed(std::move(id));
  for (auto& id : renewal->lost) out.add_lost(std::move(id));
  for (auto& id : renewal->cancel) out.add_cancel(std::move(id));
  out.set_lease_ms(options_.lease_ms);
  return out;
}

absl::StatusOr<core::v1::ClaimResponse> Dispatcher::Claim(const ExecutorRecord& executor,
                                                          const core::v1::ClaimRequest& request) {
  core::v1::ClaimResponse out;
  const int free = std::min(std::max(1, request.max()), executor.capacity);
  const std::vector<std::string> pools = ServedPools(executor.labels);
  const int64_t wait = std::clamp<int64_t>(request.wait_ms(), 0, kMaxClaimWaitMs);
  const int64_t deadline = Now() + wait;
  std::vector<core::v1::Execution> claimed;
  for (;;) {
    const uint64_t seen = signal_.generation();
    const int64_t now = Now();
    auto got = executions_.Claim(executor.id, pools, free, now, executor.capacity);
    if (!got.ok()) return got.status();
    if (!got->empty() || now >= deadline) {
      // Took all it could: there may be more for the next waiter (a commit that queued many
      // wakes only one).
      if (static_cast<int>(got->size()) == free) signal_.Wake(1);
      claimed = *std::move(got);
      break;
    }
    signal_.Wait(seen, std::min<int64_t>(deadline - now, 1000));
  }
  const int64_t now = Now();
  for (auto& e : claimed) {
    metrics_->claims.Increment();
    metrics_->claim_latency.Observe(
        std::max<int64_t>(0, now - TimeUtil::TimestampToMilliseconds(e.created_at())) / 1000.0);
    core::v1::Lease* lease = out.add_leases();
    lease->set_run_token(RunToken(e.id(), e.epoch()));
    *lease->mutable_execution() = std::move(e);
  }
  return out;
}

absl::Status Dispatcher::Start(const ExecutorRecord& executor,
                               const core::v1::StartExecutionRequest& request) {
  return executions_.Start(request.execution_id(), executor.id, request.epoch(), Now());
}

namespace {

// How an executor says an execution ended, checked: it reports only how a run ended.
absl::StatusOr<ExecutionEnd> EndOf(const core::v1::FinishExecutionRequest& request) {
  auto state = ParseState(request.state());
  if (!state || !IsTerminal(*state)) {
    return absl::InvalidArgumentError(
        "an execution ends succeeded, failed, cancelled or timed_out, not \"" + request.state() +
        "\"");
  }
  ExecutionEnd end{.id = request.execution_id(),
                   .epoch = request.epoch(),
                   .state = *state,
                   .message = request.message()};
  if (request.has_exit_code()) end.exit_code = request.exit_code();
  return end;
}

}  // namespace

absl::Status Dispatcher::Finish(const ExecutorRecord& executor,
                                const core::v1::FinishExecutionRequest& request) {
  auto end = EndOf(request);
  if (!end.ok()) return end.status();
  auto ended = executions_.Finish(end->id, executor.id, end->epoch, end->state, end->exit_code,
                                  end->message, Now());
  if (!ended.ok()) return ended.status();
  ObserveFinished(*ended);
  return absl::OkStatus();
}

std::vector<absl::Status> Dispatcher::StartAndFinish(
    const ExecutorRecord& executor, const std::vector<const core::v1::ReportItem*>& items) {
  std::vector<absl::Status> answers(items.size());
  std::vector<ExecutionStore::Report> reports;
  std::vector<size_t> index;  // of each report's item
  for (size_t i = 0; i < items.size(); ++i) {
    const core::v1::ReportItem& item = *items[i];
    ExecutionStore::Report r;
    if (item.has_start()) {
      r.start_id = item.start().execution_id();
      r.start_epoch = item.start().epoch();
    } else if (item.has_finish()) {
      auto end = EndOf(item.finish());
      if (!end.ok()) {
        answers[i] = end.status();
        continue;
      }
      r.end = *std::move(end);
    } else {
      answers[i] = absl::InvalidArgumentError("neither a start nor a finish");
      continue;
    }
    reports.push_back(std::move(r));
    index.push_back(i);
  }
  if (reports.empty()) return answers;
  auto reported = executions_.StartAndFinish(executor.id, reports, Now());
  for (size_t k = 0; k < index.size(); ++k) {
    if (!reported.ok()) {
      answers[index[k]] = reported.status();
      continue;
    }
    const ExecutionStore::Reported& r = (*reported)[k];
    answers[index[k]] = r.status;
    if (r.status.ok() && reports[k].end) ObserveFinished(r.ended);
  }
  return answers;
}

absl::Status Dispatcher::AppendLog(const ExecutorRecord& executor,
                                   const core::v1::AppendLogRequest& request) {
  auto e = executions_.Fenced(request.execution_id(), executor.id, request.epoch());
  if (!e.ok()) return e.status();
  return logs_.Append(*e, request.chunk(), request.data());
}

absl::StatusOr<core::v1::Execution> Dispatcher::AuthorizeRunInput(
    const ExecutorRecord& executor, const core::v1::ExecutorRunInputRequest& request) {
  auto e = executions_.Fenced(request.execution_id(), executor.id, request.epoch());
  if (!e.ok()) return e.status();
  const std::string expected = RunToken(e->id(), e->epoch());
  if (request.run_token().size() != expected.size() ||
      CRYPTO_memcmp(request.run_token().data(), expected.data(), expected.size()) != 0) {
    return absl::PermissionDeniedError("the run token is not this lease's (execution " + e->id() +
                                       ", epoch " + std::to_string(e->epoch()) + ")");
  }
  if (e->kind() != "job") {
    return absl::FailedPreconditionError("execution " + e->id() +
                                         " runs a catalog task, which has no run input");
  }
  return e;
}

absl::Status Dispatcher::Reap() {
  const int64_t now = Now();
  auto expired = executions_.ExpireLeases(now);
  if (!expired.ok()) return expired.status();
  if (expired->requeued > 0) signal_.Wake(expired->requeued);
  const std::pair<const char*, int> outcomes[] = {{"requeued", expired->requeued},
                                                  {"failed", expired->failed},
                                                  {"cancelled", expired->cancelled},
                                                  {"timed_out", expired->timed_out}};
  for (const auto& [outcome, count] : outcomes) {
    if (count > 0) metrics_->expiries.Add({{"outcome", outcome}}).Increment(count);
  }
  if (!started_ms_) started_ms_ = now;
  // Executors are marked expired only by a dispatcher that has been up for a whole ping
  // deadline: after an outage every executor looks silent until its next heartbeat.
  if (now - *started_ms_ >= options_.ping_deadline_ms) {
    auto stale = executors_.ExpireStale(options_.ping_deadline_ms, now);
    if (!stale.ok()) return stale.status();
  }
  if (now - metrics_->gauges_at_ms < 2000) return absl::OkStatus();
  metrics_->gauges_at_ms = now;
  auto counts = executions_.CountOpen();
  if (!counts.ok()) return counts.status();
  for (State s : {State::kQueued, State::kLeased, State::kRunning}) {
    auto it = counts->find(std::string(StateName(s)));
    metrics_->executions.Add({{"state", std::string(StateName(s))}})
        .Set(it == counts->end() ? 0 : static_cast<double>(it->second));
  }
  auto executors = executors_.List();
  if (!executors.ok()) return executors.status();
  auto held = executions_.HeldByExecutor();
  if (!held.ok()) return held.status();
  std::map<std::string, int> by_status = {
      {"idle", 0}, {"running", 0}, {"expired", 0}, {"revoked", 0}};
  for (const auto& e : *executors) {
    const bool busy = held->count(e.id) > 0;
    ++by_status[e.status == "active" ? (busy ? "running" : "idle") : e.status];
  }
  for (const auto& [status, count] : by_status) {
    metrics_->executors.Add({{"status", status}}).Set(count);
  }
  return absl::OkStatus();
}

void Dispatcher::ObserveFinished(const core::v1::Execution& e) {
  metrics_->finished.Add({{"kind", e.kind()}, {"state", e.state()}}).Increment();
  if (e.has_started_at() && e.has_ended_at()) {
    static const std::vector<double> kBuckets = {0.1, 0.5, 1,    5,        15,       60,
                                                 300, 900, 3600, 4 * 3600, 24 * 3600};
    metrics_->durations.Add({{"kind", e.kind()}, {"state", e.state()}}, kBuckets)
        .Observe(TimeUtil::DurationToMilliseconds(e.ended_at() - e.started_at()) / 1000.0);
  }
}

}  // namespace optimus::dispatcher
