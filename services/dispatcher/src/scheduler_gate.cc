// The native scheduler's gate (see scheduler.h): what a waiting run still waits for, read from
// memory or, for runs older than it holds, from the store; and the waiting runs an upstream
// run's success lets a pass look at again.
#include "absl/strings/str_cat.h"
#include "http_probe.h"
#include "optimus/dispatcher/schedule_rules.h"
#include "scheduler_parts.h"

namespace optimus::dispatcher {

void Scheduler::Unblock(const std::string& key, int64_t tick) {
  auto it = blocked_by_.find({key, tick});
  if (it == blocked_by_.end()) return;
  for (auto& [waiter, at] : it->second) {
    // Filed again under its next upstream run when it is looked at.
    if (auto j = jobs_.find(waiter); j != jobs_.end()) {
      if (auto r = j->second->runs.find(at); r != j->second->runs.end()) r->second.blocked_on = {};
    }
    recheck_runs_.insert({at, std::move(waiter)});
  }
  blocked_by_.erase(it);
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
  auto rows =
      tx_->Execute(absl::StrCat("SELECT ", kRunColumns,
                                " FROM sched_runs WHERE job_key = $1 AND scheduled_at = $2"),
                   {job.key, tick});
  if (!rows.ok() || rows->rows.empty()) return nullptr;
  return &(job.runs[tick] = RunFromRow(rows->rows[0], 0));
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
    if (run.blocked_on != needs.front() || run.blocked_count != needs.size() ||
        run.blocked_why.empty()) {
      if (run.blocked_on != needs.front()) blocked_by_[needs.front()].push_back({job.key, tick});
      run.blocked_on = needs.front();
      run.blocked_count = needs.size();
      run.blocked_why =
          absl::StrCat("waiting for ", needs.front().first, " at ", Rfc3339(needs.front().second),
                       needs.size() > 1 ? absl::StrCat(" and ", needs.size() - 1, " more") : "");
    }
    *why = run.blocked_why;
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

}  // namespace optimus::dispatcher
