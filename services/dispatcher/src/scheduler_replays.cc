// Native replays as the scheduler's passes run them: start each run of a replay in turn (or
// all at once), follow them to their end, stop them when the replay is cancelled (see
// replays.h for how replays are asked for).
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "scheduler_parts.h"

namespace optimus::dispatcher {

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

}  // namespace optimus::dispatcher
