// The native scheduler: for projects with `scheduler: native` it creates a run of each job on
// each cron tick, queues an execution once the job's upstreams' runs for its window succeeded
// (Optimus's sensor rules), retries failed runs, reports SLA misses, and runs replays. One
// instance is active at a time, chosen by a lease row in the dispatcher's database; every pass
// renews the lease in the same transaction as its writes, so a replica that lost it writes
// nothing. The active instance keeps the runs it needs in memory (loaded when it takes the lease)
// and writes each change through. docs/scheduling.md describes the behaviour.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "optimus/bus/message.h"
#include "optimus/dispatcher/execution_store.h"
#include "optimus/dispatcher/schedule_rules.h"
#include "optimus/store/database.h"
#include "optimus/store/migrations.h"
#include "optimus/store/outbox.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace optimus::dispatcher {

class HttpProbe;

struct SchedulerOptions {
  int64_t lease_ms = 10'000;                    // the active instance's lease
  size_t catch_up_limit = 100;                  // runs created at most per job when catching up
  int32_t max_active_runs = 16;                 // runs of one job queued or running at once
  std::map<std::string, int32_t> pool_slots;    // runs of a pool queued or running at once
  int64_t sensor_timeout_ms = 15 * 3600'000LL;  // waiting on upstreams longer fails the run
  int64_t http_poke_ms = 60'000;                // how often an http dependency is asked again
  int64_t run_timeout_ms = 0;                   // of each execution; 0: the dispatcher's default
  int32_t max_attempts = 3;                     // lease expiries an execution survives
  int64_t history_ms = 3 * 86400'000LL;  // runs kept in memory (older ones are read on demand)
  std::string holder;                    // this instance's name in the lease
};

// What one pass did (for tests, logs and the benchmark).
struct TickStats {
  bool active = false;  // this instance holds the lease
  int created = 0;      // runs made on new ticks
  int queued = 0;       // executions queued (first tries, retries, replays)
  int succeeded = 0;
  int failed = 0;  // runs that failed for good
  int retried = 0;
  int sla_missed = 0;
  int replays_finished = 0;
};

// A run as the scheduler keeps it.
struct ScheduledRun {
  RunStatus state = RunStatus::kWaiting;
  int32_t try_number = 1;
  int32_t generation = 1;
  std::string execution_id;
  int64_t not_before_ms = 0;     // retry_wait: when to queue the next try
  int64_t waiting_since_ms = 0;  // waiting: since when (sensor timeout)
  std::string replay_id;
  bool sla_reported = false;
  std::string message;
  // What the run still waits for, computed once: upstream runs (job key, tick) not yet seen
  // succeeded. Empty optional: not computed yet.
  std::optional<std::vector<std::pair<std::string, int64_t>>> needs;
  // The upstream run it was last seen waiting for, how many it waited for then, and the
  // message that said so: unchanged, a pass neither formats it again nor files it again.
  std::pair<std::string, int64_t> blocked_on;
  size_t blocked_count = 0;
  std::string blocked_why;
};

// The runs of a project's native jobs as the store holds them, newest first.
absl::StatusOr<core::v1::ListScheduledRunsResponse> ListScheduledRuns(
    store::Database& db, const core::v1::ListScheduledRunsRequest& request);

class Scheduler {
 public:
  Scheduler(store::Database& db, const store::Outbox& outbox, ExecutionStore& executions,
            SchedulerOptions options, std::function<int64_t()> now_ms,
            prometheus::Registry* metrics = nullptr);
  ~Scheduler();

  // Tables from `first` on: projects' modes, runs, runs reported by Airflow, the lease,
  // replays; and the plan tables' upstream column.
  static std::vector<store::Migration> Migrations(int first);

  // optimus.projects: a project's scheduler mode and presets.
  static absl::Status ApplyProject(store::Transaction& tx, const bus::Message& m);
  // optimus.job.runs: runs that Airflow reported (not the dispatcher's), for native jobs whose
  // upstreams run on Airflow.
  static absl::Status ApplyJobRun(store::Transaction& tx, const bus::Message& m);
  // Whether ApplyJobRun acts on `m` (the topic is mostly this dispatcher's own runs).
  static bool WantsJobRun(const bus::Message& m);
  // Marks the plans changed (JobPlans::Apply calls it), so that the active instance reloads.
  static absl::Status PlansChanged(store::Transaction& tx);

  // One pass: takes or renews the lease, then (when active) loads what changed, collects
  // finished executions, creates runs on due ticks, queues runs whose upstreams succeeded,
  // retries, SLA misses, sensor timeouts and replays, in one transaction.
  absl::StatusOr<TickStats> Tick();

  // Drops the lease (on shutdown), so that another replica takes over at once.
  void Release();

  // The runs of `job_key` in memory (tests and the benchmark); empty when not active.
  std::map<int64_t, ScheduledRun> RunsOf(const std::string& job_key);

 private:
  struct Job;
  struct Replay;
  struct Metrics;

  absl::StatusOr<bool> HoldLease(store::Transaction& tx, int64_t now);
  absl::Status Reload(store::Transaction& tx, int64_t now);
  absl::Status LoadPlans(store::Transaction& tx);
  absl::Status LoadExternalRuns(store::Transaction& tx, int64_t now);
  absl::Status LoadReplays(store::Transaction& tx);
  absl::Status CollectFinished(store::Transaction& tx, int64_t now, TickStats& stats);
  void CreateDueRuns(int64_t now, TickStats& stats);
  absl::Status QueueReady(store::Transaction& tx, int64_t now, TickStats& stats);
  void CheckSlas(int64_t now, TickStats& stats);
  // Forgets ended runs older than the history (the store keeps them); once a minute.
  void Trim(int64_t now);
  absl::Status AdvanceReplays(store::Transaction& tx, int64_t now, TickStats& stats);
  absl::Status Flush(store::Transaction& tx, int64_t now);

  // Whether the run of `job` at `tick` may start; `why` says what it waits for.
  bool Ready(Job& job, int64_t tick, ScheduledRun& run, int64_t now, std::string* why);
  std::optional<RunStatus> StateOf(const std::string& job_key, int64_t tick);
  // The run of `job` at `tick`, read from the store when memory does not hold it; null when
  // there is none.
  ScheduledRun* LoadRun(Job& job, int64_t tick);
  absl::Status Queue(store::Transaction& tx, Job& job, int64_t tick, ScheduledRun& run,
                     int64_t now);
  void SetState(Job& job, int64_t tick, ScheduledRun& run, RunStatus to, int64_t now);
  void Event(const Job& job, int64_t tick, const ScheduledRun& run, const std::string& type,
             int64_t now);
  void MarkDirty(const std::string& job_key, int64_t tick);
  // The first tick of `job` after `after` (ms; INT64_MAX: none), memoised by schedule.
  int64_t TickAfter(const Job& job, int64_t after);

  store::Database& db_;
  const store::Outbox& outbox_;
  ExecutionStore& executions_;
  SchedulerOptions options_;
  std::function<int64_t()> now_ms_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<HttpProbe> http_;

  // Held by Tick(); RunsOf() reads under it.
  std::mutex mu_;
  bool loaded_ = false;
  int64_t plans_generation_ = -1;
  int64_t external_seen_ = 0;
  std::unordered_map<std::string, std::unique_ptr<Job>> jobs_;  // native jobs by job key
  std::unordered_map<std::string, JobTimeline> foreign_;        // other jobs that are upstreams
  std::set<std::string> unscheduled_;  // deployed jobs without a schedule: nothing to wait for
  std::unordered_map<std::string, std::map<int64_t, RunStatus>> external_;  // their runs
  std::set<std::pair<std::string, int64_t>> waiting_;  // runs in waiting or retry_wait
  std::unordered_map<std::string, std::pair<std::string, int64_t>> in_flight_;  // execution id
  std::map<std::string, int32_t> pool_active_;
  // UpstreamTicks by window, upstream schedule and tick (see Ready()).
  std::unordered_map<std::string, std::vector<int64_t>> upstream_ticks_;
  std::unordered_map<std::string, int64_t> tick_after_;
  std::map<std::string, std::unique_ptr<Replay>> replays_;  // active replays by id
  std::set<std::pair<std::string, int64_t>> dirty_;         // runs to write
  std::vector<bus::OutgoingMessage> events_;                // events to enqueue
  store::Transaction* tx_ = nullptr;  // the pass's transaction, while Tick() runs
  int64_t history_cutoff_ms_ = 0;
  int64_t last_trim_ms_ = 0;
  // Which waiting runs a pass looks at. All of them when recheck_ is set (jobs or replays
  // changed, a pass stopped at its queue limit) and once a second anyway (retry delays, http
  // dependencies, sensor timeouts, SLAs); otherwise only recheck_runs_: runs made since, and
  // runs whose upstream run they waited for succeeded (blocked_by_ files each waiting run
  // under the upstream run it waits for). At 10,000 jobs a look at all of them every pass was
  // most of the server's CPU.
  bool recheck_ = true;
  int64_t last_recheck_ms_ = 0;
  std::set<std::pair<int64_t, std::string>> recheck_runs_;  // (tick, job key)
  std::map<std::pair<std::string, int64_t>, std::vector<std::pair<std::string, int64_t>>>
      blocked_by_;
  int64_t waiting_count_ = 0, retry_count_ = 0;  // as the last full look found them
  int64_t last_sla_check_ms_ = 0;
  int64_t last_collect_ms_ = 0, last_full_collect_ms_ = 0;  // see CollectFinished
  void Unblock(const std::string& key, int64_t tick);
};

}  // namespace optimus::dispatcher
