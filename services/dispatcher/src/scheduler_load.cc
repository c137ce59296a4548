// What the native scheduler reads back from the store: the jobs' plans (after a takeover or a
// deploy), their runs, and the runs Airflow reported for upstreams that run there.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "optimus/dispatcher/job_plans.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/stored_spec.h"
#include "optimus/telemetry/log.h"
#include "scheduler_parts.h"

namespace optimus::dispatcher {

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
    auto rows =
        store::ExecuteIn(tx,
                         absl::StrCat("SELECT job_key, scheduled_at, ", kRunColumns,
                                      " FROM sched_runs WHERE (scheduled_at >= $1 OR state IN ",
                                      kOpenStates, ") AND job_key"),
                         keys, "", {cutoff});
    if (!rows.ok()) return rows.status();
    for (const store::Row& row : rows->rows) {
      Job& job = *jobs_[row.Text(0)];
      ScheduledRun run = RunFromRow(row, 2);
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
  const auto find_plugin = StoredPlugins(tx);
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
    if (state == RunStatus::kSucceeded) Unblock(row.Text(0), row.Int(1));
  }
  return absl::OkStatus();
}

}  // namespace optimus::dispatcher
