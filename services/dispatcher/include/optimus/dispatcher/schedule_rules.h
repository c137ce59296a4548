// The rules of native scheduling, pure: which cron ticks of a job are due, which runs of its
// upstreams must have succeeded before a run starts (Optimus's upstream sensor, reference
// §6.4), retry delays, SLA deadlines, and the states a scheduled run goes through. The
// scheduler (scheduler.h) applies them to its store; docs/scheduling.md explains them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "optimus/schedule/cron.h"
#include "optimus/schedule/window.h"
#include "optimus/spec/model.h"

namespace optimus::dispatcher {

// A project's scheduler: `scheduler: airflow` (the default: DAGs are compiled for Airflow) or
// `scheduler: native` (this server runs the project's jobs on their cron ticks).
inline constexpr char kSchedulerConfigKey[] = "SCHEDULER";
enum class SchedulerMode { kAirflow, kNative };
// The mode a project's config names ("" is airflow); InvalidArgument for any other value.
absl::StatusOr<SchedulerMode> ParseSchedulerMode(std::string_view value);

// A scheduled run of a job (one per job and cron tick):
//   waiting -> running            its upstreams' runs for its window succeeded; an execution
//                                 is queued
//   running -> succeeded          the execution succeeded
//   running -> retry_wait         it failed with retries left; queued again after the delay
//   retry_wait -> running
//   running -> failed             it failed on its last try
//   waiting -> failed             the upstreams did not succeed within the sensor timeout
//   waiting | retry_wait | running -> cancelled    (a replay cancelled)
//   succeeded | failed | cancelled -> waiting      a replay runs it again (generation + 1)
enum class RunStatus { kWaiting, kRunning, kRetryWait, kSucceeded, kFailed, kCancelled };
std::string_view RunStatusName(RunStatus state);
std::optional<RunStatus> ParseRunStatus(std::string_view name);
bool IsFinal(RunStatus state);
// Optimus's name of a run in that state, as sensors and the runs and replay APIs show it.
std::string_view OptimusRunStateName(RunStatus state);

// When a job runs: its cron ticks on or after its start date (midnight UTC) and up to the end
// of its end date. A tick is a run's scheduled time (Optimus's `scheduled_at`, the end of
// Airflow's data interval).
struct JobTimeline {
  schedule::CronSchedule cron;
  absl::Time start;
  std::optional<absl::Time> end;  // exclusive: midnight after the end date

  bool Contains(absl::Time tick) const { return tick >= start && (!end || tick < *end); }
  // The first tick strictly after `t` that the job runs at, if any.
  std::optional<absl::Time> TickAfter(absl::Time t) const;
  // Ticks in [from, to], at most `limit`: ResourceExhausted beyond that.
  absl::StatusOr<std::vector<absl::Time>> TicksIn(absl::Time from, absl::Time to,
                                                  size_t limit) const;
};
// The timeline of a job's schedule; InvalidArgument for an unscheduled job or a bad date.
absl::StatusOr<JobTimeline> TimelineOf(const spec::JobSpec& job);

struct RetryPolicy {
  int32_t retries = 0;  // tries after the first
  absl::Duration delay = absl::ZeroDuration();
  bool exponential = false;
};
// How long to wait before try `next_try` (2 is the first retry): the delay, doubled for each
// earlier retry when exponential, at most a day.
absl::Duration RetryDelay(const RetryPolicy& policy, int32_t next_try);

struct SlaPolicy {
  absl::Duration after = absl::ZeroDuration();  // from the scheduled time
  std::vector<std::string> channels;
  std::string severity;
  std::string team;
};

// What native scheduling needs of a job, read once from its spec.
struct NativeJob {
  std::string project;
  std::string namespace_name;
  std::string name;
  JobTimeline timeline;
  schedule::WindowSpec window;
  bool depends_on_past = false;
  bool catch_up = false;
  RetryPolicy retry;
  std::optional<SlaPolicy> sla;
  // Where a run that failed for good is announced (behavior.notify on: failure).
  std::vector<std::string> failure_channels;
  std::string failure_severity;
  std::vector<std::string> upstreams;  // job keys (project/name) of resolved upstream jobs
  std::vector<spec::HttpDependency> http;
};
absl::StatusOr<NativeJob> NativeJobOf(const std::string& project, const std::string& namespace_name,
                                      const spec::JobSpec& job,
                                      const std::map<std::string, spec::Preset>& presets,
                                      std::vector<std::string> upstreams);

// The ticks to create runs for now: those after `last` (the newest tick a run exists for; none
// yet: from the start date) up to `now`. Without catch-up only the newest of them; with it all,
// but never more than `limit` (the newest; `skipped` counts the older ones left out).
struct DueTicks {
  std::vector<absl::Time> ticks;  // oldest first
  int64_t skipped = 0;
};
DueTicks TicksDue(const JobTimeline& timeline, std::optional<absl::Time> last, absl::Time now,
                  bool catch_up, size_t limit);

// The ticks of `upstream` whose runs must have succeeded before the run of `job` at
// `scheduled_at` starts, as Optimus's sensor computes them: the upstream's last tick at or
// before `scheduled_at`; the job's window for that reference time; the upstream's ticks after
// the window's start up to its end (inclusive), within the upstream's own timeline.
absl::StatusOr<std::vector<absl::Time>> UpstreamTicks(const NativeJob& job, absl::Time scheduled_at,
                                                      const JobTimeline& upstream);

// The ticks of `downstream` whose runs wait for one of `replayed` (sorted ticks of its upstream
// with timeline `upstream`) by UpstreamTicks: the runs a replay with downstream must run again.
absl::StatusOr<std::vector<absl::Time>> DependentTicks(const NativeJob& downstream,
                                                       const JobTimeline& upstream,
                                                       const std::vector<absl::Time>& replayed);

// The newest tick of `timeline` at or before `t`, if any.
std::optional<absl::Time> TickAtOrBefore(const JobTimeline& timeline, absl::Time t);

// The request key of a run's execution: one per run, generation (replays) and try.
std::string RunRequestKey(const std::string& job_key, int64_t tick_ms, int32_t generation,
                          int32_t try_number);

}  // namespace optimus::dispatcher
