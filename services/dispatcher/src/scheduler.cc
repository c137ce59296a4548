// The native scheduler (see scheduler.h).
#include "optimus/dispatcher/scheduler.h"

#include <curl/curl.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <ctime>
#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "optimus/bus/cloudevents.h"
#include "optimus/bus/message.h"
#include "optimus/dispatcher/job_plans.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/schedule/time_util.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/stored_spec.h"
#include "optimus/telemetry/log.h"
#include "optimus/telemetry/metrics.h"

namespace optimus::dispatcher {
namespace {

constexpr char kOpenStates[] = "('waiting', 'running', 'retry_wait')";
// Work one pass does at most, so that a pass stays short when thousands of runs come due at
// once; the next pass (a tick interval later) goes on.
constexpr int kMaxCreatedPerPass = 2500;
constexpr int kMaxQueuedPerPass = 2000;

google::protobuf::Timestamp Ts(int64_t ms) {
  google::protobuf::Timestamp t;
  t.set_seconds(ms / 1000);
  t.set_nanos(static_cast<int32_t>(ms % 1000) * 1'000'000);
  return t;
}

std::string Rfc3339(int64_t ms) {
  return schedule::FormatRfc3339(absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

int64_t CpuMicros() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

// Optimus's run state (as sensors and the runs API name them) for a run's state.
std::string_view OptimusRunState(RunStatus s) {
  switch (s) {
    case RunStatus::kWaiting:
      return "wait_upstream";
    case RunStatus::kRunning:
      return "in_progress";
    case RunStatus::kRetryWait:
      return "up_for_retry";
    case RunStatus::kSucceeded:
      return "success";
    case RunStatus::kFailed:
      return "failed";
    case RunStatus::kCancelled:
      return "canceled";
  }
  return "";
}

}  // namespace

// ---- the jobs the active instance knows ----

// What makes two jobs' upstream ticks equal: the window, and the upstream's schedule.
std::string WindowKey(const schedule::WindowSpec& w) {
  return absl::StrCat(w.version, "|", w.size, "|", w.shift_by, "|", w.offset, "|", w.truncate_to,
                      "|", w.location, "|", w.preset);
}

std::string TimelineKey(const JobTimeline& t) {
  return absl::StrCat(t.cron.spec(), "|", absl::ToUnixMillis(t.start), "|",
                      t.end ? absl::ToUnixMillis(*t.end) : -1);
}

struct Scheduler::Job {
  std::string key;
  std::string window_key;    // WindowKey of its window
  std::string timeline_key;  // TimelineKey of its schedule
  int64_t spec_version = 0;
  NativeJob spec;
  NewExecution plan;
  std::string plan_error;  // why its runs cannot be queued ("" : they can)
  std::map<int64_t, ScheduledRun> runs;
  std::optional<int64_t> last_tick;
  std::optional<int64_t> next_due;  // the tick after last_tick (cached)
  int32_t active = 0;               // runs queued or running
  bool runs_loaded = false;         // its runs were read from the store
};

struct Scheduler::Replay {
  std::string id;
  std::string project;
  bool parallel = false;
  bool ignore_upstream = false;
  std::map<std::string, std::string> job_config;
  struct Entry {
    std::string job_key;
    int64_t tick = 0;
    enum { kPending, kStarted, kDone } phase = kPending;
    RunStatus result = RunStatus::kWaiting;
  };
  std::vector<Entry> entries;  // in replay order
};

struct Scheduler::Metrics {
  explicit Metrics(prometheus::Registry& r)
      : tick_cpu(prometheus::BuildHistogram()
                     .Name("optimus_scheduler_tick_cpu_seconds")
                     .Help("CPU time of one native scheduler pass on the active instance.")
                     .Register(r)
                     .Add({}, telemetry::LatencyBucketsSeconds())),
        active(prometheus::BuildGauge()
                   .Name("optimus_scheduler_active")
                   .Help("1 while this instance holds the native scheduler's lease.")
                   .Register(r)
                   .Add({})),
        runs(prometheus::BuildCounter()
                 .Name("optimus_scheduler_runs_total")
                 .Help("Native runs by what happened: created, queued, succeeded, failed, "
                       "retried, sla_missed.")
                 .Register(r)),
        open(prometheus::BuildGauge()
                 .Name("optimus_scheduler_open_runs")
                 .Help("Native runs not yet ended, by state: waiting, running, retry_wait.")
                 .Register(r)) {}
  prometheus::Histogram& tick_cpu;
  prometheus::Gauge& active;
  prometheus::Family<prometheus::Counter>& runs;
  prometheus::Family<prometheus::Gauge>& open;
};

// ---- http dependencies, asked in the background ----

class Scheduler::HttpProbe {
 public:
  explicit HttpProbe(int64_t interval_ms) : interval_ms_(interval_ms) {
    thread_ = std::jthread([this](std::stop_token stop) { Run(stop); });
  }

  // The last answer for `dep` (a 2xx status): false until one came. Asks again in the
  // background when the answer is older than the interval.
  bool Ok(const spec::HttpDependency& dep, int64_t now) {
    std::string key = dep.url;
    for (const auto& [k, v] : dep.params) absl::StrAppend(&key, "\n", k, "=", v);
    for (const auto& [k, v] : dep.headers) absl::StrAppend(&key, "\n", k, ":", v);
    std::lock_guard lock(mu_);
    Entry& e = entries_[key];
    if (!e.pending && (e.checked_ms < 0 || now - e.checked_ms >= interval_ms_)) {
      e.pending = true;
      e.dep = dep;
      e.checked_ms = now;
      queue_.push_back(key);
      cv_.notify_one();
    }
    return e.ok;
  }

 private:
  struct Entry {
    spec::HttpDependency dep;
    int64_t checked_ms = -1;
    bool pending = false;
    bool ok = false;
  };

  static bool Ask(const spec::HttpDependency& dep) {
    CURL* curl = curl_easy_init();
    if (curl == nullptr) return false;
    std::string url = dep.url;
    char sep = url.find('?') == std::string::npos ? '?' : '&';
    for (const auto& [k, v] : dep.params) {
      char* ek = curl_easy_escape(curl, k.data(), static_cast<int>(k.size()));
      char* ev = curl_easy_escape(curl, v.data(), static_cast<int>(v.size()));
      absl::StrAppend(&url, std::string(1, sep), ek, "=", ev);
      curl_free(ek);
      curl_free(ev);
      sep = '&';
    }
    curl_slist* headers = nullptr;
    for (const auto& [k, v] : dep.headers) {
      headers = curl_slist_append(headers, absl::StrCat(k, ": ", v).c_str());
    }
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(
        curl, CURLOPT_WRITEFUNCTION,
        +[](char*, size_t size, size_t n, void*) -> size_t { return size * n; });
    const CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    // Optimus's http sensor: a status from 200 to 300 passes.
    return rc == CURLE_OK && status >= 200 && status <= 300;
  }

  void Run(std::stop_token stop) {
    while (!stop.stop_requested()) {
      std::string key;
      spec::HttpDependency dep;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, stop, [&] { return !queue_.empty(); });
        if (stop.stop_requested()) return;
        key = queue_.front();
        queue_.pop_front();
        dep = entries_[key].dep;
      }
      const bool ok = Ask(dep);
      std::lock_guard lock(mu_);
      Entry& e = entries_[key];
      e.ok = ok;
      e.pending = false;
    }
  }

  const int64_t interval_ms_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::map<std::string, Entry> entries_;
  std::deque<std::string> queue_;
  std::jthread thread_;  // last
};

// ---- schema and consumers ----

std::vector<store::Migration> Scheduler::Migrations(int first) {
  return {
      {first, "native scheduling",
       "ALTER TABLE plan_jobs ADD COLUMN upstreams TEXT NOT NULL DEFAULT '';"
       "CREATE TABLE sched_meta (name TEXT PRIMARY KEY, value BIGINT NOT NULL);"
       "INSERT INTO sched_meta (name, value) VALUES ('plans', 0);"
       "INSERT INTO sched_meta (name, value) VALUES ('external', 0);"
       "CREATE TABLE sched_projects (name TEXT PRIMARY KEY, mode TEXT NOT NULL, presets ${BLOB} "
       "NOT NULL);"
       "CREATE TABLE sched_runs (job_key TEXT NOT NULL, scheduled_at BIGINT NOT NULL, project "
       "TEXT NOT NULL, state TEXT NOT NULL, try_number INTEGER NOT NULL, generation INTEGER NOT "
       "NULL, execution_id TEXT NOT NULL, not_before_ms BIGINT NOT NULL, waiting_since_ms BIGINT "
       "NOT NULL, replay_id TEXT NOT NULL, sla_reported INTEGER NOT NULL, message TEXT NOT NULL, "
       "updated_ms BIGINT NOT NULL, PRIMARY KEY (job_key, scheduled_at));"
       "CREATE INDEX sched_runs_open ON sched_runs (state) WHERE state IN ('waiting', 'running', "
       "'retry_wait');"
       "CREATE TABLE sched_external_runs (job_key TEXT NOT NULL, scheduled_at BIGINT NOT NULL, "
       "state TEXT NOT NULL, version BIGINT NOT NULL, PRIMARY KEY (job_key, scheduled_at));"
       "CREATE INDEX sched_external_version ON sched_external_runs (version);"
       "CREATE TABLE sched_lease (name TEXT PRIMARY KEY, holder TEXT NOT NULL, epoch BIGINT NOT "
       "NULL, expires_ms BIGINT NOT NULL);"
       "INSERT INTO sched_lease (name, holder, epoch, expires_ms) VALUES ('native', '', 0, 0);"
       "CREATE TABLE replays (id TEXT PRIMARY KEY, project TEXT NOT NULL, namespace TEXT NOT "
       "NULL, job TEXT NOT NULL, start_ms BIGINT NOT NULL, end_ms BIGINT NOT NULL, parallel "
       "INTEGER NOT NULL, downstream INTEGER NOT NULL, description TEXT NOT NULL, job_config "
       "TEXT NOT NULL, state TEXT NOT NULL, message TEXT NOT NULL, requested_by TEXT NOT NULL, "
       "created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL);"
       "CREATE INDEX replays_project ON replays (project, created_ms);"
       "CREATE INDEX replays_state ON replays (state);"
       "CREATE TABLE replay_runs (replay_id TEXT NOT NULL, job_key TEXT NOT NULL, scheduled_at "
       "BIGINT NOT NULL, ord INTEGER NOT NULL, state TEXT NOT NULL, PRIMARY KEY (replay_id, "
       "job_key, scheduled_at))"},
      {first + 1, "replays through Airflow",
       "ALTER TABLE sched_projects ADD COLUMN scheduler_host TEXT NOT NULL DEFAULT '';"
       "ALTER TABLE sched_projects ADD COLUMN scheduler_version TEXT NOT NULL DEFAULT '';"
       "ALTER TABLE replays ADD COLUMN scheduler TEXT NOT NULL DEFAULT 'native';"
       "ALTER TABLE replay_runs ADD COLUMN logical_ms BIGINT NOT NULL DEFAULT 0;"
       "ALTER TABLE replay_runs ADD COLUMN dag_run_id TEXT NOT NULL DEFAULT ''"},
  };
}

absl::Status Scheduler::PlansChanged(store::Transaction& tx) {
  return tx.Execute("UPDATE sched_meta SET value = value + 1 WHERE name = 'plans'").status();
}

absl::Status Scheduler::ApplyProject(store::Transaction& tx, const bus::Message& m) {
  if (m.tombstone) {
    if (auto s = tx.Execute("DELETE FROM sched_projects WHERE name = $1", {m.key}); !s.ok()) {
      return s.status();
    }
    return PlansChanged(tx);
  }
  auto record = pipeline::ParseRecord<events::v1::ProjectRecord>(m);
  if (!record.ok()) return record.status();
  std::string mode = "airflow";
  if (auto it = record->config().find(kSchedulerConfigKey); it != record->config().end()) {
    auto parsed = ParseSchedulerMode(it->second);
    if (!parsed.ok()) {
      // Registration refuses such a value; a record from before that check stays on Airflow.
      LOG_WARN("project names an unknown scheduler; its jobs stay on Airflow",
               {{"project", record->name()}, {"error", parsed.status()}});
    } else if (*parsed == SchedulerMode::kNative) {
      mode = "native";
    }
  }
  const auto config = [&](const char* key) {
    auto it = record->config().find(key);
    return it == record->config().end() ? std::string() : it->second;
  };
  auto done = tx.Execute(
      "INSERT INTO sched_projects (name, mode, presets, scheduler_host, scheduler_version) "
      "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET mode = excluded.mode, "
      "presets = excluded.presets, scheduler_host = excluded.scheduler_host, scheduler_version = "
      "excluded.scheduler_version",
      {record->name(), mode, store::Blob{record->presets_yaml()}, config("SCHEDULER_HOST"),
       config("SCHEDULER_VERSION")});
  if (!done.ok()) return done.status();
  return PlansChanged(tx);
}

absl::Status Scheduler::ApplyJobRun(store::Transaction& tx, const bus::Message& m) {
  if (m.tombstone) return absl::OkStatus();
  auto event = pipeline::ParseRecord<events::v1::JobRunEvent>(m);
  if (!event.ok()) return event.status();
  // The dispatcher's and this scheduler's own records are known already.
  if (!event->execution_id().empty() || !event->scheduler().empty() || event->kind() == "task" ||
      !event->has_scheduled_at() || !event->operator_().empty()) {
    return absl::OkStatus();
  }
  const std::string& s = event->run_state();
  const std::string state = s == "success" ? "succeeded" : s == "failed" ? "failed" : "running";
  auto version =
      tx.Execute("UPDATE sched_meta SET value = value + 1 WHERE name = 'external' RETURNING value");
  if (!version.ok()) return version.status();
  if (version->rows.empty()) return absl::InternalError("sched_meta has no 'external' row");
  const int64_t at =
      event->scheduled_at().seconds() * 1000 + event->scheduled_at().nanos() / 1'000'000;
  return tx
      .Execute(
          "INSERT INTO sched_external_runs (job_key, scheduled_at, state, version) VALUES ($1, "
          "$2, $3, $4) ON CONFLICT (job_key, scheduled_at) DO UPDATE SET state = excluded.state, "
          "version = excluded.version",
          {pipeline::JobKey(event->project(), event->job()), at, state, version->rows[0].Int(0)})
      .status();
}

absl::StatusOr<core::v1::ListScheduledRunsResponse> ListScheduledRuns(
    store::Database& db, const core::v1::ListScheduledRunsRequest& request) {
  if (request.project_name().empty()) {
    return absl::InvalidArgumentError("listing scheduled runs needs project_name");
  }
  if (!request.state().empty() && !ParseRunStatus(request.state())) {
    return absl::InvalidArgumentError("state \"" + request.state() +
                                      "\" is not waiting, running, retry_wait, succeeded, "
                                      "failed or cancelled");
  }
  const int64_t limit = request.limit() <= 0 ? 100 : std::min(request.limit(), 10000);
  std::string sql =
      "SELECT job_key, scheduled_at, state, try_number, generation, execution_id, message, "
      "replay_id, updated_ms FROM sched_runs WHERE project = $1";
  std::vector<store::Value> params{request.project_name()};
  if (!request.job_name().empty()) {
    params.push_back(pipeline::JobKey(request.project_name(), request.job_name()));
    absl::StrAppend(&sql, " AND job_key = $", params.size());
  }
  if (!request.state().empty()) {
    params.push_back(request.state());
    absl::StrAppend(&sql, " AND state = $", params.size());
  }
  params.push_back(limit);
  absl::StrAppend(&sql, " ORDER BY scheduled_at DESC, job_key LIMIT $", params.size());
  auto rows = db.Execute(sql, params);
  if (!rows.ok()) return rows.status();
  core::v1::ListScheduledRunsResponse out;
  for (const store::Row& row : rows->rows) {
    auto* run = out.add_runs();
    run->set_project(request.project_name());
    run->set_job(row.Text(0).substr(row.Text(0).find('/') + 1));
    *run->mutable_scheduled_at() = Ts(row.Int(1));
    run->set_state(row.Text(2));
    run->set_try_number(static_cast<int32_t>(row.Int(3)));
    run->set_generation(static_cast<int32_t>(row.Int(4)));
    run->set_execution_id(row.Text(5));
    run->set_message(row.Text(6));
    run->set_replay_id(row.Text(7));
    *run->mutable_updated_at() = Ts(row.Int(8));
  }
  return out;
}

// ---- the scheduler ----

Scheduler::Scheduler(store::Database& db, const store::Outbox& outbox, ExecutionStore& executions,
                     SchedulerOptions options, std::function<int64_t()> now_ms,
                     prometheus::Registry* metrics)
    : db_(db),
      outbox_(outbox),
      executions_(executions),
      options_(std::move(options)),
      now_ms_(std::move(now_ms)),
      http_(std::make_unique<HttpProbe>(options_.http_poke_ms)) {
  if (metrics != nullptr) metrics_ = std::make_unique<Metrics>(*metrics);
  if (options_.holder.empty()) options_.holder = bus::NewEventId();
}

Scheduler::~Scheduler() = default;

std::map<int64_t, ScheduledRun> Scheduler::RunsOf(const std::string& job_key) {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(job_key);
  if (it == jobs_.end()) return {};
  return it->second->runs;
}

void Scheduler::Release() {
  std::lock_guard lock(mu_);
  auto s =
      db_.Execute("UPDATE sched_lease SET expires_ms = 0 WHERE name = 'native' AND holder = $1",
                  {options_.holder});
  if (!s.ok()) LOG_WARN("could not release the scheduler lease", {{"error", s.status()}});
  loaded_ = false;
}

absl::StatusOr<bool> Scheduler::HoldLease(store::Transaction& tx, int64_t now) {
  auto rows = tx.Execute(
      "UPDATE sched_lease SET epoch = CASE WHEN holder = $1 THEN epoch ELSE epoch + 1 END, "
      "holder = $1, expires_ms = $2 WHERE name = 'native' AND (holder = $1 OR expires_ms < $3) "
      "RETURNING epoch",
      {options_.holder, now + options_.lease_ms, now});
  if (!rows.ok()) return rows.status();
  return !rows->rows.empty();
}

absl::StatusOr<TickStats> Scheduler::Tick() {
  std::lock_guard lock(mu_);
  const int64_t cpu_start = CpuMicros();
  const int64_t now = now_ms_();
  TickStats stats;
  history_cutoff_ms_ = now - options_.history_ms;
  absl::Status s = db_.InTransaction([&](store::Transaction& tx) -> absl::Status {
    tx_ = &tx;
    auto held = HoldLease(tx, now);
    if (!held.ok()) return held.status();
    stats.active = *held;
    if (!*held) return absl::OkStatus();
    if (absl::Status r = Reload(tx, now); !r.ok()) return r;
    if (absl::Status r = LoadExternalRuns(tx, now); !r.ok()) return r;
    if (absl::Status r = CollectFinished(tx, now, stats); !r.ok()) return r;
    if (absl::Status r = AdvanceReplays(tx, now, stats); !r.ok()) return r;
    CreateDueRuns(now, stats);
    if (absl::Status r = QueueReady(tx, now, stats); !r.ok()) return r;
    CheckSlas(now, stats);
    Trim(now);
    return Flush(tx, now);
  });
  tx_ = nullptr;
  if (!s.ok() || !stats.active) {
    // What memory holds may be ahead of what committed: start again from the store.
    loaded_ = false;
    jobs_.clear();
    replays_.clear();
    dirty_.clear();
    events_.clear();
    if (!s.ok()) return s;
  }
  if (metrics_) {
    metrics_->active.Set(stats.active ? 1 : 0);
    if (stats.active) {
      metrics_->tick_cpu.Observe(static_cast<double>(CpuMicros() - cpu_start) / 1e6);
      auto& runs = metrics_->runs;
      runs.Add({{"what", "created"}}).Increment(stats.created);
      runs.Add({{"what", "queued"}}).Increment(stats.queued);
      runs.Add({{"what", "succeeded"}}).Increment(stats.succeeded);
      runs.Add({{"what", "failed"}}).Increment(stats.failed);
      runs.Add({{"what", "retried"}}).Increment(stats.retried);
      runs.Add({{"what", "sla_missed"}}).Increment(stats.sla_missed);
      int64_t waiting = 0, retry = 0;
      for (const auto& [key, tick] : waiting_) {
        auto j = jobs_.find(key);
        if (j == jobs_.end()) continue;
        auto r = j->second->runs.find(tick);
        if (r == j->second->runs.end()) continue;
        (r->second.state == RunStatus::kRetryWait ? retry : waiting)++;
      }
      metrics_->open.Add({{"state", "waiting"}}).Set(static_cast<double>(waiting));
      metrics_->open.Add({{"state", "retry_wait"}}).Set(static_cast<double>(retry));
      metrics_->open.Add({{"state", "running"}}).Set(static_cast<double>(in_flight_.size()));
    }
  }
  return stats;
}

absl::Status Scheduler::Reload(store::Transaction& tx, int64_t now) {
  auto gen = tx.Execute("SELECT value FROM sched_meta WHERE name = 'plans'");
  if (!gen.ok()) return gen.status();
  const int64_t generation = gen->rows.empty() ? 0 : gen->rows[0].Int(0);
  if (loaded_ && generation == plans_generation_) return absl::OkStatus();
  const bool fresh = !loaded_;
  if (fresh) {
    jobs_.clear();
    waiting_.clear();
    in_flight_.clear();
    pool_active_.clear();
    replays_.clear();
    external_.clear();
    external_seen_ = 0;
  }
  if (absl::Status s = LoadPlans(tx); !s.ok()) return s;
  plans_generation_ = generation;
  upstream_ticks_.clear();
  // Runs of jobs this instance has not loaded yet: all of them after a takeover, the newly
  // native ones after a plan change.
  std::vector<store::Value> keys;
  for (const auto& [key, job] : jobs_) {
    if (!job->runs_loaded) {
      keys.push_back(key);
      job->runs_loaded = true;
    }
  }
  if (!keys.empty()) {
    const int64_t cutoff = now - options_.history_ms;
    auto rows = store::ExecuteIn(
        tx,
        absl::StrCat("SELECT job_key, scheduled_at, state, try_number, generation, execution_id, "
                     "not_before_ms, waiting_since_ms, replay_id, sla_reported, message FROM "
                     "sched_runs WHERE (scheduled_at >= $1 OR state IN ",
                     kOpenStates, ") AND job_key"),
        keys, "", {cutoff});
    if (!rows.ok()) return rows.status();
    for (const store::Row& row : rows->rows) {
      Job& job = *jobs_[row.Text(0)];
      ScheduledRun run;
      run.state = ParseRunStatus(row.Text(2)).value_or(RunStatus::kFailed);
      run.try_number = static_cast<int32_t>(row.Int(3));
      run.generation = static_cast<int32_t>(row.Int(4));
      run.execution_id = row.Text(5);
      run.not_before_ms = row.Int(6);
      run.waiting_since_ms = row.Int(7);
      run.replay_id = row.Text(8);
      run.sla_reported = row.Int(9) != 0;
      run.message = row.Text(10);
      const int64_t tick = row.Int(1);
      if (run.state == RunStatus::kWaiting || run.state == RunStatus::kRetryWait) {
        waiting_.insert({job.key, tick});
      } else if (run.state == RunStatus::kRunning) {
        in_flight_[run.execution_id] = {job.key, tick};
        ++job.active;
        ++pool_active_[job.plan.pool];
      }
      job.runs[tick] = std::move(run);
    }
    auto last =
        store::ExecuteIn(tx, "SELECT job_key, MAX(scheduled_at) FROM sched_runs WHERE job_key",
                         keys, "GROUP BY job_key");
    if (!last.ok()) return last.status();
    for (const store::Row& row : last->rows) {
      Job& job = *jobs_[row.Text(0)];
      job.last_tick = row.Int(1);
    }
  }
  recheck_ = true;
  loaded_ = true;
  return LoadReplays(tx);
}

absl::Status Scheduler::LoadPlans(store::Transaction& tx) {
  std::map<std::string, std::pair<std::string, std::map<std::string, spec::Preset>>> projects;
  auto prows = tx.Execute("SELECT name, mode, presets FROM sched_projects");
  if (!prows.ok()) return prows.status();
  for (const store::Row& row : prows->rows) {
    auto& p = projects[row.Text(0)];
    p.first = row.Text(1);
    if (!row.Text(2).empty()) {
      spec::Diagnostics ignored;
      p.second = spec::LoadPresets("presets.yaml", row.Text(2), ignored);
    }
  }
  auto rows = tx.Execute(
      "SELECT job_key, namespace, spec_version, spec_yaml, priority, error, upstreams FROM "
      "plan_jobs");
  if (!rows.ok()) return rows.status();
  std::map<std::string, std::optional<spec::PluginSpec>> plugins;
  const auto find_plugin = [&](const std::string& name) -> const spec::PluginSpec* {
    auto [it, fresh] = plugins.try_emplace(name);
    if (fresh) {
      auto r = tx.Execute("SELECT record FROM plan_plugins WHERE name = $1", {name});
      if (r.ok() && !r->rows.empty()) {
        events::v1::PluginRecord record;
        if (record.ParseFromString(r->rows[0].Text(0))) {
          auto plugin = pipeline::PluginFromRecord(record);
          if (plugin.ok()) it->second = *std::move(plugin);
        }
      }
    }
    return it->second ? &*it->second : nullptr;
  };
  std::unordered_map<std::string, std::unique_ptr<Job>> next;
  std::unordered_map<std::string, JobTimeline> all;
  unscheduled_.clear();
  std::set<std::string> upstream_keys;
  for (const store::Row& row : rows->rows) {
    const std::string& key = row.Text(0);
    const size_t slash = key.find('/');
    if (slash == std::string::npos) continue;
    const std::string project = key.substr(0, slash);
    spec::Diagnostics diagnostics;
    auto spec = spec::LoadStoredJobSpec(key + "/job.yaml", row.Text(3), diagnostics);
    if (spec == nullptr) continue;
    auto timeline = TimelineOf(*spec);
    if (timeline.ok()) {
      all.emplace(key, *timeline);
    } else {
      unscheduled_.insert(key);
    }
    auto p = projects.find(project);
    if (p == projects.end() || p->second.first != "native") continue;
    if (!timeline.ok()) continue;  // unscheduled: runs only when asked
    std::vector<std::string> upstreams;
    for (absl::string_view u : absl::StrSplit(row.Text(6), '\n', absl::SkipEmpty())) {
      upstreams.emplace_back(u);
      upstream_keys.emplace(u);
    }
    auto native = NativeJobOf(project, row.Text(1), *spec, p->second.second, std::move(upstreams));
    if (!native.ok()) {
      LOG_WARN("a native job cannot be scheduled", {{"job", key}, {"error", native.status()}});
      continue;
    }
    std::unique_ptr<Job> job;
    if (auto old = jobs_.find(key); old != jobs_.end()) {
      job = std::move(old->second);  // keeps its runs
    } else {
      job = std::make_unique<Job>(Job{.key = key, .spec = *native});
    }
    job->spec_version = row.Int(2);
    job->spec = *std::move(native);
    job->window_key = WindowKey(job->spec.window);
    job->timeline_key = TimelineKey(job->spec.timeline);
    job->next_due.reset();
    job->plan_error = row.Text(5);
    if (job->plan_error.empty()) {
      auto plan =
          PlanJob(project, row.Text(1), *spec, static_cast<int32_t>(row.Int(4)), find_plugin);
      if (plan.ok()) {
        job->plan = *std::move(plan);
      } else {
        job->plan_error = std::string(plan.status().message());
      }
    }
    for (auto& [tick, run] : job->runs) run.needs.reset();
    next.emplace(key, std::move(job));
  }
  // Jobs no longer native (deleted, or their project moved to Airflow): their open runs stay
  // in the store as they are, and are picked up again if the job comes back.
  waiting_.clear();
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    it = next.count(it->second.first) != 0 ? std::next(it) : in_flight_.erase(it);
  }
  jobs_ = std::move(next);
  for (const auto& [key, job] : jobs_) {
    for (const auto& [tick, run] : job->runs) {
      if (run.state == RunStatus::kWaiting || run.state == RunStatus::kRetryWait)
        waiting_.insert({key, tick});
    }
  }
  foreign_.clear();
  for (const std::string& key : upstream_keys) {
    if (jobs_.count(key) != 0) continue;
    if (auto t = all.find(key); t != all.end()) foreign_.emplace(key, t->second);
  }
  return absl::OkStatus();
}

absl::Status Scheduler::LoadExternalRuns(store::Transaction& tx, int64_t now) {
  if (foreign_.empty()) return absl::OkStatus();
  auto rows = tx.Execute(
      "SELECT job_key, scheduled_at, state, version FROM sched_external_runs WHERE version > $1 "
      "AND scheduled_at >= $2 ORDER BY version",
      {external_seen_, now - options_.history_ms});
  if (!rows.ok()) return rows.status();
  for (const store::Row& row : rows->rows) {
    external_seen_ = std::max(external_seen_, row.Int(3));
    if (foreign_.count(row.Text(0)) == 0) continue;
    auto state = ParseRunStatus(row.Text(2)).value_or(RunStatus::kRunning);
    external_[row.Text(0)][row.Int(1)] = state;
    if (state == RunStatus::kSucceeded) recheck_ = true;
  }
  return absl::OkStatus();
}

void Scheduler::MarkDirty(const std::string& job_key, int64_t tick) {
  dirty_.insert({job_key, tick});
}

void Scheduler::Event(const Job& job, int64_t tick, const ScheduledRun& run,
                      const std::string& type, int64_t now) {
  events::v1::JobRunEvent e;
  e.set_event_id(bus::NewEventId());
  e.set_project(job.spec.project);
  e.set_namespace_(job.spec.namespace_name);
  e.set_job(job.spec.name);
  e.set_type(type);
  *e.mutable_scheduled_at() = Ts(tick);
  *e.mutable_event_time() = Ts(now);
  e.set_attempt(run.try_number);
  e.set_status(std::string(RunStatusName(run.state)));
  e.set_run_state(std::string(OptimusRunState(run.state)));
  e.set_message(run.message);
  e.set_kind("job");
  e.set_replay_id(run.replay_id);
  e.set_scheduler("native");
  if (type == "sla_miss" && job.spec.sla) {
    for (const auto& c : job.spec.sla->channels) e.add_notify_channels(c);
    e.set_severity(job.spec.sla->severity);
  }
  if (type == "run_failed") {
    for (const auto& c : job.spec.failure_channels) e.add_notify_channels(c);
    e.set_severity(job.spec.failure_severity);
  }
  events_.push_back(pipeline::ProtoRecord(pipeline::kJobRunsTopic, job.key, e));
}

void Scheduler::SetState(Job& job, int64_t tick, ScheduledRun& run, RunStatus to, int64_t now) {
  const RunStatus from = run.state;
  if (from == RunStatus::kRunning) {
    in_flight_.erase(run.execution_id);
    --job.active;
    --pool_active_[job.plan.pool];
  }
  if (from == RunStatus::kWaiting || from == RunStatus::kRetryWait) waiting_.erase({job.key, tick});
  run.state = to;
  if (to == RunStatus::kWaiting || to == RunStatus::kRetryWait) waiting_.insert({job.key, tick});
  if (to == RunStatus::kWaiting) run.waiting_since_ms = now;
  if (to == RunStatus::kRunning) {
    in_flight_[run.execution_id] = {job.key, tick};
    ++job.active;
    ++pool_active_[job.plan.pool];
  }
  if (to == RunStatus::kSucceeded) recheck_ = true;
  MarkDirty(job.key, tick);
}

absl::Status Scheduler::CollectFinished(store::Transaction& tx, int64_t now, TickStats& stats) {
  if (in_flight_.empty()) return absl::OkStatus();
  auto rows = tx.Execute(
      "SELECT e.id, e.state, e.message FROM sched_runs r JOIN executions e ON e.id = "
      "r.execution_id WHERE r.state = 'running' AND e.state IN ('succeeded', 'failed', "
      "'cancelled', 'timed_out')");
  if (!rows.ok()) return rows.status();
  for (const store::Row& row : rows->rows) {
    auto f = in_flight_.find(row.Text(0));
    if (f == in_flight_.end()) continue;
    auto [key, tick] = f->second;
    auto j = jobs_.find(key);
    if (j == jobs_.end()) {
      in_flight_.erase(f);
      continue;
    }
    Job& job = *j->second;
    ScheduledRun& run = job.runs.at(tick);
    const std::string& state = row.Text(1);
    run.message = row.Text(2);
    if (state == "succeeded") {
      SetState(job, tick, run, RunStatus::kSucceeded, now);
      ++stats.succeeded;
    } else if (state == "cancelled") {
      SetState(job, tick, run, RunStatus::kCancelled, now);
    } else if (run.try_number <= job.spec.retry.retries) {
      ++run.try_number;
      run.not_before_ms =
          now + absl::ToInt64Milliseconds(RetryDelay(job.spec.retry, run.try_number));
      SetState(job, tick, run, RunStatus::kRetryWait, now);
      run.message = absl::StrCat("try ", run.try_number - 1, " ", state, " (", row.Text(2),
                                 "); try ", run.try_number, " of ", job.spec.retry.retries + 1,
                                 " at ", Rfc3339(run.not_before_ms));
      Event(job, tick, run, "run_retry_scheduled", now);
      ++stats.retried;
    } else {
      SetState(job, tick, run, RunStatus::kFailed, now);
      Event(job, tick, run, "run_failed", now);
      ++stats.failed;
    }
  }
  return absl::OkStatus();
}

int64_t Scheduler::TickAfter(const Job& job, int64_t after) {
  // Jobs share schedules: each (schedule, instant) is computed once.
  const std::string key = absl::StrCat(job.timeline_key, "#", after);
  if (auto it = tick_after_.find(key); it != tick_after_.end()) return it->second;
  auto next = job.spec.timeline.TickAfter(absl::FromUnixMillis(after));
  if (tick_after_.size() > 100000) tick_after_.clear();
  return tick_after_[key] = next ? absl::ToUnixMillis(*next) : INT64_MAX;
}

void Scheduler::CreateDueRuns(int64_t now, TickStats& stats) {
  for (auto& [key, job_ptr] : jobs_) {
    Job& job = *job_ptr;
    if (!job.next_due) {
      job.next_due = TickAfter(
          job, job.last_tick ? *job.last_tick : absl::ToUnixMillis(job.spec.timeline.start) - 1);
    }
    if (*job.next_due > now) continue;
    // A pass makes a bounded number of runs; the next pass goes on where it stopped.
    if (stats.created >= kMaxCreatedPerPass) {
      recheck_ = true;
      continue;
    }
    // Usually one tick or a few are due: walk them with the cached schedule; long gaps (a
    // server that was down for long) take the bounded walk back from now.
    std::vector<int64_t> ticks;
    for (int64_t t = *job.next_due; t <= now && ticks.size() <= options_.catch_up_limit;
         t = TickAfter(job, t)) {
      ticks.push_back(t);
    }
    if (ticks.size() > options_.catch_up_limit || (!job.spec.catch_up && ticks.size() > 1)) {
      std::optional<absl::Time> last;
      if (job.last_tick) last = absl::FromUnixMillis(*job.last_tick);
      DueTicks due = TicksDue(job.spec.timeline, last, absl::FromUnixMillis(now), job.spec.catch_up,
                              options_.catch_up_limit);
      if (due.skipped > 0) {
        LOG_INFO("catch-up bounded: older ticks left without runs (replay them if needed)",
                 {{"job", key}, {"skipped", due.skipped}});
      }
      ticks.clear();
      for (absl::Time t : due.ticks) ticks.push_back(absl::ToUnixMillis(t));
    }
    for (int64_t tick : ticks) {
      auto [it, fresh] = job.runs.try_emplace(tick);
      job.last_tick = std::max(job.last_tick.value_or(tick), tick);
      if (!fresh) continue;  // a replay made it already
      ScheduledRun& run = it->second;
      run.waiting_since_ms = now;
      waiting_.insert({key, tick});
      MarkDirty(key, tick);  // no event: a run becomes visible when its execution is queued
      ++stats.created;
      recheck_ = true;
    }
    job.next_due.reset();
  }
}

std::optional<RunStatus> Scheduler::StateOf(const std::string& job_key, int64_t tick) {
  if (auto j = jobs_.find(job_key); j != jobs_.end()) {
    if (auto r = j->second->runs.find(tick); r != j->second->runs.end()) return r->second.state;
    if (tick >= history_cutoff_ms_ || tx_ == nullptr) return std::nullopt;
    // Older than what memory holds: read it (and keep it).
    ScheduledRun* run = LoadRun(*j->second, tick);
    if (run != nullptr) return run->state;
    return std::nullopt;
  }
  auto& runs = external_[job_key];
  if (auto r = runs.find(tick); r != runs.end()) return r->second;
  if (tick >= history_cutoff_ms_ || tx_ == nullptr) return std::nullopt;
  auto rows =
      tx_->Execute("SELECT state FROM sched_external_runs WHERE job_key = $1 AND scheduled_at = $2",
                   {job_key, tick});
  if (!rows.ok() || rows->rows.empty()) return std::nullopt;
  const RunStatus state = ParseRunStatus(rows->rows[0].Text(0)).value_or(RunStatus::kRunning);
  runs[tick] = state;
  return state;
}

ScheduledRun* Scheduler::LoadRun(Job& job, int64_t tick) {
  if (auto r = job.runs.find(tick); r != job.runs.end()) return &r->second;
  if (tx_ == nullptr) return nullptr;
  auto rows = tx_->Execute(
      "SELECT state, try_number, generation, execution_id, not_before_ms, waiting_since_ms, "
      "replay_id, sla_reported, message FROM sched_runs WHERE job_key = $1 AND scheduled_at = $2",
      {job.key, tick});
  if (!rows.ok() || rows->rows.empty()) return nullptr;
  const store::Row& row = rows->rows[0];
  ScheduledRun run;
  run.state = ParseRunStatus(row.Text(0)).value_or(RunStatus::kFailed);
  run.try_number = static_cast<int32_t>(row.Int(1));
  run.generation = static_cast<int32_t>(row.Int(2));
  run.execution_id = row.Text(3);
  run.not_before_ms = row.Int(4);
  run.waiting_since_ms = row.Int(5);
  run.replay_id = row.Text(6);
  run.sla_reported = row.Int(7) != 0;
  run.message = row.Text(8);
  return &(job.runs[tick] = std::move(run));
}

bool Scheduler::Ready(Job& job, int64_t tick, ScheduledRun& run, int64_t now, std::string* why) {
  bool ignore_upstream = false;
  if (!run.replay_id.empty()) {
    if (auto r = replays_.find(run.replay_id); r != replays_.end())
      ignore_upstream = r->second->ignore_upstream;
  }
  if (!run.needs) {
    run.needs.emplace();
    if (!ignore_upstream) {
      const absl::Time at = absl::FromUnixMillis(tick);
      if (job.spec.depends_on_past) {
        // As Airflow: the previous run must have succeeded, when there is one.
        if (auto prev = TickAtOrBefore(job.spec.timeline, at - absl::Seconds(1));
            prev && StateOf(job.key, absl::ToUnixMillis(*prev))) {
          run.needs->push_back({job.key, absl::ToUnixMillis(*prev)});
        }
      }
      for (const std::string& up : job.spec.upstreams) {
        const JobTimeline* timeline = nullptr;
        std::string timeline_key;
        if (auto j = jobs_.find(up); j != jobs_.end()) {
          timeline = &j->second->spec.timeline;
          timeline_key = j->second->timeline_key;
        } else if (auto f = foreign_.find(up); f != foreign_.end()) {
          timeline = &f->second;
          timeline_key = TimelineKey(f->second);
        }
        if (timeline == nullptr) {
          if (unscheduled_.count(up) != 0) continue;  // runs only when asked: nothing to wait for
          // Not known here yet (its resolution is still on its way): wait, and look again.
          *why = "waiting for upstream " + up + ", which this scheduler does not know yet";
          run.needs.reset();
          return false;
        }
        // Many jobs share a window and an upstream schedule: the ticks are computed once.
        const std::string memo_key = absl::StrCat(job.window_key, "#", timeline_key, "#", tick);
        auto memo = upstream_ticks_.find(memo_key);
        if (memo == upstream_ticks_.end()) {
          auto ticks = UpstreamTicks(job.spec, at, *timeline);
          if (!ticks.ok()) {
            *why = std::string(ticks.status().message());
            run.needs.reset();
            return false;
          }
          if (upstream_ticks_.size() > 100000) upstream_ticks_.clear();
          std::vector<int64_t> ms;
          for (absl::Time t : *ticks) ms.push_back(absl::ToUnixMillis(t));
          memo = upstream_ticks_.emplace(memo_key, std::move(ms)).first;
        }
        for (int64_t t : memo->second) run.needs->push_back({up, t});
      }
    }
  }
  auto& needs = *run.needs;
  needs.erase(std::remove_if(needs.begin(), needs.end(),
                             [&](const auto& n) {
                               return StateOf(n.first, n.second) == RunStatus::kSucceeded;
                             }),
              needs.end());
  if (!needs.empty()) {
    *why = absl::StrCat("waiting for ", needs.front().first, " at ", Rfc3339(needs.front().second),
                        needs.size() > 1 ? absl::StrCat(" and ", needs.size() - 1, " more") : "");
    return false;
  }
  if (!ignore_upstream) {
    for (const spec::HttpDependency& dep : job.spec.http) {
      if (!http_->Ok(dep, now)) {
        *why = "waiting for http dependency " + dep.name + " (" + dep.url + ")";
        return false;
      }
    }
  }
  return true;
}

absl::Status Scheduler::Queue(store::Transaction& tx, Job& job, int64_t tick, ScheduledRun& run,
                              int64_t now) {
  NewExecution request = job.plan;
  request.request_key = RunRequestKey(job.key, tick, run.generation, run.try_number);
  request.scheduled_at_ms = tick;
  request.max_attempts = options_.max_attempts;
  request.timeout_ms = options_.run_timeout_ms;
  request.requested_by = run.replay_id.empty() ? "scheduler" : "replay " + run.replay_id;
  if (!run.replay_id.empty()) {
    if (auto r = replays_.find(run.replay_id); r != replays_.end()) {
      request.args.insert(r->second->job_config.begin(), r->second->job_config.end());
    }
  }
  auto queued = executions_.EnqueueIn(tx, request, now);
  if (!queued.ok()) return queued.status();
  run.execution_id = queued->execution.id();
  run.message.clear();
  SetState(job, tick, run, RunStatus::kRunning, now);
  return absl::OkStatus();
}

absl::Status Scheduler::QueueReady(store::Transaction& tx, int64_t now, TickStats& stats) {
  // Waiting runs are looked at again when a run succeeded, and once a second otherwise (retry
  // delays, http dependencies, sensor timeouts).
  if (!recheck_ && now - last_recheck_ms_ < 1000) return absl::OkStatus();
  recheck_ = false;
  last_recheck_ms_ = now;
  // Oldest tick first across jobs, so that catch-up runs windows in order.
  std::vector<std::pair<int64_t, std::string>> order;
  order.reserve(waiting_.size());
  for (const auto& [key, tick] : waiting_) order.push_back({tick, key});
  std::sort(order.begin(), order.end());
  for (const auto& [tick, key] : order) {
    Job& job = *jobs_.at(key);
    ScheduledRun& run = job.runs.at(tick);
    if (run.state == RunStatus::kRetryWait && now < run.not_before_ms) continue;
    if (run.state == RunStatus::kWaiting) {
      std::string why;
      if (!Ready(job, tick, run, now, &why)) {
        if (now - run.waiting_since_ms > options_.sensor_timeout_ms) {
          run.message = "upstreams did not succeed within the sensor timeout: " + why;
          SetState(job, tick, run, RunStatus::kFailed, now);
          Event(job, tick, run, "run_failed", now);
          ++stats.failed;
        } else if (run.message != why) {
          run.message = why;
          MarkDirty(key, tick);
        }
        continue;
      }
    }
    if (!job.plan_error.empty()) {
      run.message = "cannot run: " + job.plan_error;
      SetState(job, tick, run, RunStatus::kFailed, now);
      Event(job, tick, run, "run_failed", now);
      ++stats.failed;
      continue;
    }
    if (job.active >= options_.max_active_runs) continue;
    if (auto slots = options_.pool_slots.find(job.plan.pool);
        slots != options_.pool_slots.end() && pool_active_[job.plan.pool] >= slots->second) {
      continue;
    }
    if (stats.queued >= kMaxQueuedPerPass) {
      recheck_ = true;  // the rest next pass
      break;
    }
    if (absl::Status s = Queue(tx, job, tick, run, now); !s.ok()) return s;
    ++stats.queued;
  }
  return absl::OkStatus();
}

void Scheduler::CheckSlas(int64_t now, TickStats& stats) {
  const auto check = [&](const std::string& key, int64_t tick) {
    Job& job = *jobs_.at(key);
    if (!job.spec.sla) return;
    ScheduledRun& run = job.runs.at(tick);
    if (run.sla_reported || now < tick + absl::ToInt64Milliseconds(job.spec.sla->after)) return;
    run.sla_reported = true;
    const std::string saved = run.message;
    run.message =
        absl::StrCat("not done ", absl::FormatDuration(job.spec.sla->after),
                     " after its scheduled time (", std::string(RunStatusName(run.state)), ")");
    Event(job, tick, run, "sla_miss", now);
    run.message = saved;
    MarkDirty(key, tick);
    ++stats.sla_missed;
  };
  for (const auto& [key, tick] : waiting_) check(key, tick);
  for (const auto& [id, run] : in_flight_) check(run.first, run.second);
}

void Scheduler::Trim(int64_t now) {
  if (now - last_trim_ms_ < 60'000) return;
  last_trim_ms_ = now;
  for (auto& [key, job] : jobs_) {
    for (auto it = job->runs.begin(); it != job->runs.end() && it->first < history_cutoff_ms_;) {
      // Dirty runs are written first; open runs stay.
      const bool keep = !IsFinal(it->second.state) || dirty_.count({key, it->first}) != 0;
      it = keep ? std::next(it) : job->runs.erase(it);
    }
  }
  for (auto& [key, runs] : external_) {
    runs.erase(runs.begin(), runs.lower_bound(history_cutoff_ms_));
  }
}

absl::Status Scheduler::LoadReplays(store::Transaction& tx) {
  auto rows = tx.Execute(
      "SELECT id, project, parallel, job_config FROM replays WHERE state IN ('created', 'in "
      "progress') AND scheduler = 'native' ORDER BY created_ms");
  if (!rows.ok()) return rows.status();
  for (const store::Row& row : rows->rows) {
    if (replays_.count(row.Text(0)) != 0) continue;
    auto replay = std::make_unique<Replay>();
    replay->id = row.Text(0);
    replay->project = row.Text(1);
    replay->parallel = row.Int(2) != 0;
    auto config = nlohmann::json::parse(row.Text(3), nullptr, false);
    if (config.is_object()) {
      for (auto& [k, v] : config.items()) {
        if (v.is_string()) replay->job_config[k] = v.get<std::string>();
      }
    }
    auto it = replay->job_config.find("IGNORE_UPSTREAM");
    replay->ignore_upstream = it != replay->job_config.end() && it->second == "True";
    auto runs = tx.Execute(
        "SELECT job_key, scheduled_at, state FROM replay_runs WHERE replay_id = $1 ORDER BY ord",
        {replay->id});
    if (!runs.ok()) return runs.status();
    for (const store::Row& r : runs->rows) {
      Replay::Entry e{.job_key = r.Text(0), .tick = r.Int(1)};
      const std::string& state = r.Text(2);
      if (state != "pending") {
        auto s = ParseRunStatus(state);
        e.phase = s && IsFinal(*s) ? Replay::Entry::kDone : Replay::Entry::kStarted;
        if (s) e.result = *s;
      }
      replay->entries.push_back(std::move(e));
    }
    replays_.emplace(replay->id, std::move(replay));
  }
  return absl::OkStatus();
}

absl::Status Scheduler::AdvanceReplays(store::Transaction& tx, int64_t now, TickStats& stats) {
  auto active = tx.Execute(
      "SELECT id FROM replays WHERE state IN ('created', 'in progress') AND scheduler = "
      "'native'");
  if (!active.ok()) return active.status();
  std::set<std::string> ids;
  for (const store::Row& row : active->rows) ids.insert(row.Text(0));
  // Cancelled (or gone) since the last pass: stop their runs.
  for (auto it = replays_.begin(); it != replays_.end();) {
    if (ids.count(it->first) != 0) {
      ++it;
      continue;
    }
    for (const Replay::Entry& e : it->second->entries) {
      auto j = jobs_.find(e.job_key);
      if (j == jobs_.end()) continue;
      auto r = j->second->runs.find(e.tick);
      if (r == j->second->runs.end() || r->second.replay_id != it->first ||
          IsFinal(r->second.state))
        continue;
      ScheduledRun& run = r->second;
      if (run.state == RunStatus::kRunning) {
        auto cancelled = executions_.CancelIn(tx, it->second->project, run.execution_id, now);
        if (!cancelled.ok() && !absl::IsFailedPrecondition(cancelled.status())) {
          return cancelled.status();
        }
        continue;  // ends as cancelled when its execution does
      }
      run.message = "replay " + it->first + " was cancelled";
      SetState(*j->second, e.tick, run, RunStatus::kCancelled, now);
    }
    it = replays_.erase(it);
  }
  if (ids.size() > replays_.size()) {
    if (absl::Status s = LoadReplays(tx); !s.ok()) return s;
  }
  for (auto it = replays_.begin(); it != replays_.end();) {
    Replay& replay = *it->second;
    bool reset_any = false;
    for (Replay::Entry& e : replay.entries) {
      if (e.phase == Replay::Entry::kDone) continue;
      auto j = jobs_.find(e.job_key);
      if (j == jobs_.end()) {
        e.phase = Replay::Entry::kDone;
        e.result = RunStatus::kFailed;
        auto u = tx.Execute(
            "UPDATE replay_runs SET state = 'failed' WHERE replay_id = $1 AND job_key = $2 AND "
            "scheduled_at = $3",
            {replay.id, e.job_key, e.tick});
        if (!u.ok()) return u.status();
        continue;
      }
      Job& job = *j->second;
      if (e.phase == Replay::Entry::kStarted) {
        const ScheduledRun* r = LoadRun(job, e.tick);  // old ones may be in the store only
        if (r != nullptr && r->replay_id == replay.id && !IsFinal(r->state)) {
          if (!replay.parallel) break;  // one at a time, in order
          continue;
        }
        e.phase = Replay::Entry::kDone;
        e.result = r == nullptr ? RunStatus::kFailed : r->state;
        continue;
      }
      // Pending: start it, unless a run of that tick is under way outside the replay.
      ScheduledRun* stored = LoadRun(job, e.tick);
      ScheduledRun& run = stored != nullptr ? *stored : job.runs[e.tick];
      if (run.state == RunStatus::kRunning || run.state == RunStatus::kRetryWait) {
        if (!replay.parallel) break;
        continue;
      }
      if (stored != nullptr) ++run.generation;
      run.try_number = 1;
      run.replay_id = replay.id;
      run.sla_reported = false;
      run.execution_id.clear();
      run.message.clear();
      run.needs.reset();
      SetState(job, e.tick, run, RunStatus::kWaiting, now);
      Event(job, e.tick, run, "run_replayed", now);
      e.phase = Replay::Entry::kStarted;
      reset_any = true;
      if (!replay.parallel) break;
    }
    if (reset_any) {
      // Runs that waited on the ones started again must see them not succeeded any more.
      for (const auto& [key, tick] : waiting_) jobs_.at(key)->runs.at(tick).needs.reset();
      recheck_ = true;
      auto u = tx.Execute(
          "UPDATE replays SET state = 'in progress', updated_ms = $2 WHERE id = $1 AND state = "
          "'created'",
          {replay.id, now});
      if (!u.ok()) return u.status();
    }
    const bool done = std::all_of(replay.entries.begin(), replay.entries.end(),
                                  [](const auto& e) { return e.phase == Replay::Entry::kDone; });
    if (!done) {
      ++it;
      continue;
    }
    int failed = 0;
    for (const auto& e : replay.entries) failed += e.result == RunStatus::kSucceeded ? 0 : 1;
    auto u = tx.Execute(
        "UPDATE replays SET state = $2, message = $3, updated_ms = $4 WHERE id = $1",
        {replay.id, failed == 0 ? "success" : "failed",
         failed == 0 ? ""
                     : absl::StrCat(failed, " of ", replay.entries.size(), " runs did not succeed"),
         now});
    if (!u.ok()) return u.status();
    ++stats.replays_finished;
    it = replays_.erase(it);
  }
  return absl::OkStatus();
}

absl::Status Scheduler::Flush(store::Transaction& tx, int64_t now) {
  std::vector<std::vector<store::Value>> rows;
  std::vector<std::vector<store::Value>> replay_rows;
  rows.reserve(dirty_.size());
  for (const auto& [key, tick] : dirty_) {
    auto j = jobs_.find(key);
    if (j == jobs_.end()) continue;
    auto r = j->second->runs.find(tick);
    if (r == j->second->runs.end()) continue;
    const ScheduledRun& run = r->second;
    rows.push_back({key, tick, j->second->spec.project, std::string(RunStatusName(run.state)),
                    int64_t{run.try_number}, int64_t{run.generation}, run.execution_id,
                    run.not_before_ms, run.waiting_since_ms, run.replay_id,
                    int64_t{run.sla_reported ? 1 : 0}, run.message, now});
    if (!run.replay_id.empty()) {
      replay_rows.push_back({run.replay_id, key, tick, std::string(RunStatusName(run.state))});
    }
  }
  dirty_.clear();
  if (!rows.empty()) {
    absl::Status s = store::ExecuteValues(
        tx,
        "INSERT INTO sched_runs (job_key, scheduled_at, project, state, try_number, generation, "
        "execution_id, not_before_ms, waiting_since_ms, replay_id, sla_reported, message, "
        "updated_ms)",
        rows,
        "ON CONFLICT (job_key, scheduled_at) DO UPDATE SET state = excluded.state, try_number = "
        "excluded.try_number, generation = excluded.generation, execution_id = "
        "excluded.execution_id, not_before_ms = excluded.not_before_ms, waiting_since_ms = "
        "excluded.waiting_since_ms, replay_id = excluded.replay_id, sla_reported = "
        "excluded.sla_reported, message = excluded.message, updated_ms = excluded.updated_ms");
    if (!s.ok()) return s;
  }
  for (const auto& r : replay_rows) {
    auto u = tx.Execute(
        "UPDATE replay_runs SET state = $4 WHERE replay_id = $1 AND job_key = $2 AND "
        "scheduled_at = $3",
        r);
    if (!u.ok()) return u.status();
  }
  if (!events_.empty()) {
    absl::Status s = outbox_.EnqueueAll(tx, std::move(events_));
    events_.clear();
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace optimus::dispatcher
