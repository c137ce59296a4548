// Native scheduling rules (see schedule_rules.h).
#include "optimus/dispatcher/schedule_rules.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "optimus/schedule/time_util.h"
#include "optimus/spec/schedule_hooks.h"

namespace optimus::dispatcher {
namespace {

const absl::TimeZone& Utc() {
  static const absl::TimeZone utc = absl::UTCTimeZone();
  return utc;
}

// The zone the job's cron fields are read in: a CRON_TZ= prefix, else UTC (as Optimus's DAGs).
const absl::TimeZone& ZoneOf(const JobTimeline& t) {
  return t.cron.zone() ? *t.cron.zone() : Utc();
}

constexpr size_t kMaxTicks = 10000;

}  // namespace

absl::StatusOr<SchedulerMode> ParseSchedulerMode(std::string_view value) {
  const std::string v = absl::AsciiStrToLower(std::string(value));
  if (v.empty() || v == "airflow") return SchedulerMode::kAirflow;
  if (v == "native") return SchedulerMode::kNative;
  return absl::InvalidArgumentError("project config scheduler: \"" + std::string(value) +
                                    "\" is not airflow or native");
}

std::string_view RunStatusName(RunStatus state) {
  switch (state) {
    case RunStatus::kWaiting:
      return "waiting";
    case RunStatus::kRunning:
      return "running";
    case RunStatus::kRetryWait:
      return "retry_wait";
    case RunStatus::kSucceeded:
      return "succeeded";
    case RunStatus::kFailed:
      return "failed";
    case RunStatus::kCancelled:
      return "cancelled";
  }
  return "";
}

std::optional<RunStatus> ParseRunStatus(std::string_view name) {
  for (RunStatus s : {RunStatus::kWaiting, RunStatus::kRunning, RunStatus::kRetryWait,
                      RunStatus::kSucceeded, RunStatus::kFailed, RunStatus::kCancelled}) {
    if (RunStatusName(s) == name) return s;
  }
  return std::nullopt;
}

bool IsFinal(RunStatus state) {
  return state == RunStatus::kSucceeded || state == RunStatus::kFailed ||
         state == RunStatus::kCancelled;
}

std::string_view OptimusRunStateName(RunStatus state) {
  switch (state) {
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

std::optional<absl::Time> JobTimeline::TickAfter(absl::Time t) const {
  std::optional<absl::Time> tick;
  if (cron.is_every()) {
    // @every ticks are anchored at the start date: start, start + d, start + 2d, ...
    const absl::Duration d = cron.every();
    absl::Duration rem;
    if (t < start) {
      tick = start;
    } else {
      tick = start + d * (absl::IDivDuration(t - start, d, &rem) + 1);
    }
  } else {
    tick = cron.Next(std::max(t, start - absl::Seconds(1)), ZoneOf(*this));
  }
  if (!tick || (end && *tick >= *end)) return std::nullopt;
  return tick;
}

std::optional<absl::Time> TickAtOrBefore(const JobTimeline& timeline, absl::Time t) {
  if (timeline.end && t >= *timeline.end) t = *timeline.end - absl::Seconds(1);
  if (t < timeline.start) return std::nullopt;
  if (timeline.cron.is_every()) {
    const absl::Duration d = timeline.cron.every();
    absl::Duration rem;
    return timeline.start + d * absl::IDivDuration(t - timeline.start, d, &rem);
  }
  // Ticks fall on whole seconds: the last one before t + 1s is the last one at or before t.
  auto tick =
      timeline.cron.Prev(absl::FromUnixSeconds(absl::ToUnixSeconds(t) + 1), ZoneOf(timeline));
  if (!tick || *tick < timeline.start) return std::nullopt;
  return tick;
}

absl::StatusOr<std::vector<absl::Time>> JobTimeline::TicksIn(absl::Time from, absl::Time to,
                                                             size_t limit) const {
  std::vector<absl::Time> out;
  for (auto t = TickAfter(from - absl::Nanoseconds(1)); t && *t <= to; t = TickAfter(*t)) {
    if (out.size() == limit) {
      return absl::ResourceExhaustedError(
          absl::StrCat("more than ", limit, " runs between ", schedule::FormatRfc3339(from, Utc()),
                       " and ", schedule::FormatRfc3339(to, Utc())));
    }
    out.push_back(*t);
  }
  return out;
}

absl::StatusOr<JobTimeline> TimelineOf(const spec::JobSpec& job) {
  if (job.schedule.interval.empty()) {
    return absl::InvalidArgumentError("job " + job.name + " has no schedule.interval");
  }
  auto cron = schedule::CronSchedule::Parse(job.schedule.interval);
  if (!cron.ok()) return cron.status();
  absl::CivilDay day;
  if (!absl::ParseCivilTime(job.schedule.start_date, &day)) {
    return absl::InvalidArgumentError("job " + job.name + " has schedule.start_date \"" +
                                      job.schedule.start_date + "\", not YYYY-MM-DD");
  }
  JobTimeline out{.cron = *std::move(cron), .start = absl::FromCivil(day, Utc())};
  if (!job.schedule.end_date.empty()) {
    if (!absl::ParseCivilTime(job.schedule.end_date, &day)) {
      return absl::InvalidArgumentError("job " + job.name + " has schedule.end_date \"" +
                                        job.schedule.end_date + "\", not YYYY-MM-DD");
    }
    out.end = absl::FromCivil(day + 1, Utc());
  }
  return out;
}

absl::Duration RetryDelay(const RetryPolicy& policy, int32_t next_try) {
  absl::Duration delay = policy.delay;
  if (policy.exponential) {
    for (int32_t i = 2; i < next_try && delay < absl::Hours(24); ++i) delay *= 2;
  }
  return std::min(delay, absl::Hours(24));
}

namespace {

absl::StatusOr<absl::Duration> SpecDuration(const std::string& text, const std::string& what) {
  int64_t seconds = 0;
  if (absl::SimpleAtoi(text, &seconds)) return absl::Seconds(seconds);  // Optimus's old form
  auto d = schedule::ParseGoDuration(text);
  if (!d.ok()) {
    return absl::InvalidArgumentError(what + " \"" + text + "\" is not a duration like 5m");
  }
  return *d;
}

}  // namespace

absl::StatusOr<NativeJob> NativeJobOf(const std::string& project, const std::string& namespace_name,
                                      const spec::JobSpec& job,
                                      const std::map<std::string, spec::Preset>& presets,
                                      std::vector<std::string> upstreams) {
  auto timeline = TimelineOf(job);
  if (!timeline.ok()) return timeline.status();
  NativeJob out{.project = project,
                .namespace_name = namespace_name,
                .name = job.name,
                .timeline = *std::move(timeline)};
  auto window = spec::JobWindow(job, presets);
  if (!window.ok()) return window.status();
  out.window = *std::move(window);
  out.depends_on_past = job.behavior.depends_on_past.value_or(false);
  out.catch_up = job.behavior.catch_up.value_or(false);
  const spec::Retry& retry = job.behavior.retry;
  out.retry.retries = std::max(0, retry.count.value_or(0));
  if (!retry.delay.empty()) {
    auto delay = SpecDuration(retry.delay, "behavior.retry.delay");
    if (!delay.ok()) return delay.status();
    out.retry.delay = std::max(absl::ZeroDuration(), *delay);
  }
  out.retry.exponential = retry.exponential_backoff.value_or(false);
  for (const spec::Notify& n : job.behavior.notify) {
    if (n.on == "failure") {
      out.failure_channels.insert(out.failure_channels.end(), n.channels.begin(), n.channels.end());
      if (out.failure_severity.empty()) out.failure_severity = n.severity;
      continue;
    }
    if (n.on != "sla_miss") continue;
    auto it = n.config.find("duration");
    if (it == n.config.end()) continue;
    auto after = SpecDuration(it->second, "behavior.notify sla_miss duration");
    if (!after.ok()) return after.status();
    if (!out.sla || *after < out.sla->after) {
      out.sla = SlaPolicy{.after = *after, .severity = n.severity, .team = n.team};
    }
    out.sla->channels.insert(out.sla->channels.end(), n.channels.begin(), n.channels.end());
  }
  out.upstreams = std::move(upstreams);
  for (const spec::Dependency& d : job.dependencies) {
    if (d.http) out.http.push_back(*d.http);
  }
  return out;
}

DueTicks TicksDue(const JobTimeline& timeline, std::optional<absl::Time> last, absl::Time now,
                  bool catch_up, size_t limit) {
  DueTicks out;
  auto newest = TickAtOrBefore(timeline, now);
  if (!newest || (last && *newest <= *last)) return out;
  if (!catch_up || limit <= 1) {
    out.ticks.push_back(*newest);
    if (catch_up || last) {
      // Count what is left out, cheaply: only for a bounded number of ticks.
      for (auto t = TickAtOrBefore(timeline, *newest - absl::Seconds(1));
           t && (!last || *t > *last) && out.skipped < 100000;
           t = TickAtOrBefore(timeline, *t - absl::Seconds(1))) {
        ++out.skipped;
      }
    }
    return out;
  }
  // Walk back from the newest tick: at most `limit` of them, never the whole history.
  std::vector<absl::Time> back{*newest};
  auto t = TickAtOrBefore(timeline, *newest - absl::Seconds(1));
  for (; t && (!last || *t > *last); t = TickAtOrBefore(timeline, *t - absl::Seconds(1))) {
    if (back.size() == limit) break;
    back.push_back(*t);
  }
  for (; t && (!last || *t > *last) && out.skipped < 100000;
       t = TickAtOrBefore(timeline, *t - absl::Seconds(1))) {
    ++out.skipped;
  }
  out.ticks.assign(back.rbegin(), back.rend());
  return out;
}

absl::StatusOr<std::vector<absl::Time>> UpstreamTicks(const NativeJob& job, absl::Time scheduled_at,
                                                      const JobTimeline& upstream) {
  auto reference = TickAtOrBefore(upstream, scheduled_at);
  if (!reference) return std::vector<absl::Time>{};  // the upstream had no run by then
  auto window = schedule::ComputeInterval(job.window, *reference);
  if (!window.ok()) return window.status();
  std::vector<absl::Time> out;
  for (auto t = upstream.TickAfter(window->start); t && *t <= window->end;
       t = upstream.TickAfter(*t)) {
    if (out.size() == kMaxTicks) {
      return absl::ResourceExhaustedError("the window of " + job.name + " covers more than " +
                                          std::to_string(kMaxTicks) + " runs of an upstream");
    }
    out.push_back(*t);
  }
  return out;
}

absl::StatusOr<std::vector<absl::Time>> DependentTicks(const NativeJob& downstream,
                                                       const JobTimeline& upstream,
                                                       const std::vector<absl::Time>& replayed) {
  std::vector<absl::Time> out;
  if (replayed.empty()) return out;
  // Candidates: the downstream's ticks around the replayed ones, padded by the span and the
  // shift of the downstream's window (a window reaches back by its size and may be shifted).
  auto probe = schedule::ComputeInterval(downstream.window, replayed.front());
  if (!probe.ok()) return probe.status();
  const absl::Duration pad = (probe->end - probe->start) * 2 +
                             absl::AbsDuration(probe->end - replayed.front()) + absl::Hours(24);
  auto candidates =
      downstream.timeline.TicksIn(replayed.front() - pad, replayed.back() + pad, kMaxTicks);
  if (!candidates.ok()) return candidates.status();
  for (absl::Time t : *candidates) {
    auto needs = UpstreamTicks(downstream, t, upstream);
    if (!needs.ok()) return needs.status();
    const bool hit = std::any_of(needs->begin(), needs->end(), [&](absl::Time u) {
      return std::binary_search(replayed.begin(), replayed.end(), u);
    });
    if (hit) out.push_back(t);
  }
  return out;
}

std::string RunRequestKey(const std::string& job_key, int64_t tick_ms, int32_t generation,
                          int32_t try_number) {
  return absl::StrCat("run/", job_key, "/", tick_ms, "/", generation, "/", try_number);
}

}  // namespace optimus::dispatcher
