// The native scheduler (see scheduler.h).
#include "optimus/dispatcher/scheduler.h"

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
#include "google/protobuf/util/time_util.h"
#include "http_probe.h"
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
#include "scheduler_parts.h"

namespace optimus::dispatcher {
namespace {

using google::protobuf::util::TimeUtil;

// Work one pass does at most, so that a pass stays short when thousands of runs come due at
// once; the next pass (a tick interval later) goes on.
constexpr int kMaxCreatedPerPass = 2500;
constexpr int kMaxQueuedPerPass = 1000;

int64_t CpuMicros() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

}  // namespace

std::string Rfc3339(int64_t ms) {
  return schedule::FormatRfc3339(absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

// A run's columns in sched_runs, as RunFromRow reads them.
const char kRunColumns[] =
    "state, try_number, generation, execution_id, not_before_ms, waiting_since_ms, replay_id, "
    "sla_reported, message";

ScheduledRun RunFromRow(const store::Row& row, size_t first) {
  ScheduledRun run;
  run.state = ParseRunStatus(row.Text(first)).value_or(RunStatus::kFailed);
  run.try_number = static_cast<int32_t>(row.Int(first + 1));
  run.generation = static_cast<int32_t>(row.Int(first + 2));
  run.execution_id = row.Text(first + 3);
  run.not_before_ms = row.Int(first + 4);
  run.waiting_since_ms = row.Int(first + 5);
  run.replay_id = row.Text(first + 6);
  run.sla_reported = row.Int(first + 7) != 0;
  run.message = row.Text(first + 8);
  return run;
}

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
    recheck_runs_.clear();
    blocked_by_.clear();
    recheck_ = true;
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
      metrics_->open.Add({{"state", "waiting"}}).Set(static_cast<double>(waiting_count_));
      metrics_->open.Add({{"state", "retry_wait"}}).Set(static_cast<double>(retry_count_));
      metrics_->open.Add({{"state", "running"}}).Set(static_cast<double>(in_flight_.size()));
    }
  }
  return stats;
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
  *e.mutable_scheduled_at() = TimeUtil::MillisecondsToTimestamp(tick);
  *e.mutable_event_time() = TimeUtil::MillisecondsToTimestamp(now);
  e.set_attempt(run.try_number);
  e.set_status(std::string(RunStatusName(run.state)));
  e.set_run_state(std::string(OptimusRunStateName(run.state)));
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
    // A slot of the job (or of its pool) is free: its waiting runs may go now.
    if (job.active-- >= options_.max_active_runs) {
      for (const auto& [t, r] : job.runs) {
        if (r.state == RunStatus::kWaiting || r.state == RunStatus::kRetryWait) {
          recheck_runs_.insert({t, job.key});
        }
      }
    }
    if (options_.pool_slots.count(job.plan.pool) != 0) recheck_ = true;
    --pool_active_[job.plan.pool];
  }
  if (from == RunStatus::kWaiting || from == RunStatus::kRetryWait) waiting_.erase({job.key, tick});
  run.state = to;
  if (to == RunStatus::kWaiting || to == RunStatus::kRetryWait) waiting_.insert({job.key, tick});
  if (to == RunStatus::kWaiting) run.waiting_since_ms = now;
  if (to == RunStatus::kWaiting || to == RunStatus::kRetryWait)
    recheck_runs_.insert({tick, job.key});
  if (to == RunStatus::kRunning) {
    in_flight_[run.execution_id] = {job.key, tick};
    ++job.active;
    ++pool_active_[job.plan.pool];
  }
  if (to == RunStatus::kSucceeded) Unblock(job.key, tick);
  MarkDirty(job.key, tick);
}

absl::Status Scheduler::CollectFinished(store::Transaction& tx, int64_t now, TickStats& stats) {
  if (in_flight_.empty()) return absl::OkStatus();
  // Every two seconds (and after a takeover) every open run's execution is looked at; between
  // those, the executions that ended since shortly before the last pass (the margin covers
  // replicas' clocks and transactions that committed late). With thousands of runs queued,
  // the join of all of them every pass held the store for tens of milliseconds.
  const bool all = now - last_full_collect_ms_ >= 2000;
  auto rows = all ? tx.Execute(absl::StrCat(
                        "SELECT e.id, e.state, e.message FROM sched_runs r JOIN "
                        "executions e ON e.id = r.execution_id WHERE r.state IN ",
                        kOpenStates,
                        // the open runs' index, not every run ever
                        " AND r.state = 'running' AND e.state IN ('succeeded', 'failed', "
                        "'cancelled', 'timed_out')"))
                  : tx.Execute(
                        "SELECT id, state, message FROM executions WHERE ended_ms >= $1 AND state "
                        "IN ('succeeded', 'failed', 'cancelled', 'timed_out')",
                        {last_collect_ms_ - 3000});
  if (!rows.ok()) return rows.status();
  if (all) last_full_collect_ms_ = now;
  last_collect_ms_ = now;
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
    if (stats.created >= kMaxCreatedPerPass) continue;  // the next pass goes on
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
      recheck_runs_.insert({tick, key});
      MarkDirty(key, tick);  // no event: a run becomes visible when its execution is queued
      ++stats.created;
    }
    job.next_due.reset();
  }
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
  // All waiting runs once a second (or when recheck_ asks); otherwise only the runs made
  // or unblocked since: recheck_runs_ (see scheduler.h).
  const bool full = recheck_ || now - last_recheck_ms_ >= 1000;
  if (!full && recheck_runs_.empty()) return absl::OkStatus();
  // Oldest tick first across jobs, so that catch-up runs windows in order.
  std::vector<std::pair<int64_t, std::string>> order;
  if (full) {
    recheck_ = false;
    last_recheck_ms_ = now;
    recheck_runs_.clear();
    order.reserve(waiting_.size());
    for (const auto& [key, tick] : waiting_) order.push_back({tick, key});
    std::sort(order.begin(), order.end());
    waiting_count_ = retry_count_ = 0;
  } else {
    order.assign(recheck_runs_.begin(), recheck_runs_.end());
    recheck_runs_.clear();
  }
  bool limited = false;
  for (const auto& [tick, key] : order) {
    auto j = jobs_.find(key);
    if (j == jobs_.end()) continue;
    Job& job = *j->second;
    auto r = job.runs.find(tick);
    if (r == job.runs.end()) continue;
    ScheduledRun& run = r->second;
    if (run.state != RunStatus::kWaiting && run.state != RunStatus::kRetryWait) continue;
    if (full) ++(run.state == RunStatus::kRetryWait ? retry_count_ : waiting_count_);
    if (limited) {
      if (!full) break;
      continue;  // counted only
    }
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
      recheck_ = true;  // the rest next pass, which looks at all of them
      limited = true;
      continue;
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
  if (now - last_sla_check_ms_ < 1000) return;  // a second is fine enough for SLAs
  last_sla_check_ms_ = now;
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
  // Filed again from scratch by the next pass, which looks at every waiting run: what was
  // filed under upstream runs that never succeeded goes.
  blocked_by_.clear();
  for (const auto& [key, tick] : waiting_) {
    if (auto j = jobs_.find(key); j != jobs_.end()) {
      if (auto r = j->second->runs.find(tick); r != j->second->runs.end())
        r->second.blocked_on = {};
    }
  }
  recheck_ = true;
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
