// Job windows: DSTART/DEND for window versions 1, 2 and 3 (reference §3.5, §4.3).
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "optimus/schedule/cron.h"

namespace optimus::schedule {

// The `task.window` block of a job spec. Which fields count depends on the version:
//   v1, v2: size, offset, truncate_to (h, d, w, M); Go durations with a month part ("1M",
//   "-1M24h"). v3:     size, shift_by, truncate_to (h, d, w, M, y, None), location; single-unit
//   durations
//           ("1d", "-2h", "1M"); offset is ignored.
// A non-empty preset must be resolved with ResolveWindow (preset.h) before Compute.
struct WindowSpec {
  int version = 3;
  std::string size;
  std::string shift_by;
  std::string offset;
  std::string truncate_to;
  std::string location;
  std::string preset;
};

// A half-open data interval [start, end).
struct Interval {
  absl::Time start;
  absl::Time end;
};

// What the run-time templates see for one scheduled time.
struct WindowValues {
  Interval interval;
  int version = 3;
  // The zone DSTART/DEND are written in: the window's location for v3, UTC for v1/v2.
  absl::TimeZone zone = absl::UTCTimeZone();
  std::string dstart;  // RFC3339 in `zone`
  std::string dend;
  // Only for version 3 (reference §4.2): START_DATE/END_DATE are the dates of DSTART/DEND in the
  // window's zone; SCHEDULE_TIME (RFC3339), SCHEDULE_DATE and EXECUTION_TIME ("YYYY-MM-DD
  // HH:MM:SS") are the scheduled time in UTC.
  std::optional<std::string> start_date;
  std::optional<std::string> end_date;
  std::optional<std::string> schedule_time;
  std::optional<std::string> schedule_date;
  std::optional<std::string> execution_time;
};

// Checks the spec for its version; errors name the field, the value and what is accepted.
absl::Status ValidateWindow(const WindowSpec& spec);

// The interval for a run scheduled at `scheduled_at` (the real trigger instant, i.e. Airflow's
// execution_date advanced by one cron tick).
absl::StatusOr<Interval> ComputeInterval(const WindowSpec& spec, absl::Time scheduled_at);

// ComputeInterval plus the formatted template values.
absl::StatusOr<WindowValues> Compute(const WindowSpec& spec, absl::Time scheduled_at);

// The incremental window Optimus uses only when an API caller sends a v3 job without any window
// block (reference §4.3): [previous tick, scheduled time] when the scheduled time is a tick of
// `schedule`, else [previous tick, next tick]. Ticks are evaluated in `tz`.
absl::StatusOr<Interval> ComputeIncremental(const CronSchedule& schedule, absl::Time scheduled_at,
                                            const absl::TimeZone& tz);

// Splits a v2 window duration into its calendar-month part and the Go-duration rest, as
// Optimus does ("-1M24h" -> -1 month and -24h, "2M" -> 2 months, "36h" -> 0 months and 36h).
struct MonthsAndDuration {
  int months = 0;
  absl::Duration rest = absl::ZeroDuration();
};
absl::StatusOr<MonthsAndDuration> ParseV2Duration(std::string_view text, std::string_view what);

// Parses a v1 window duration: months count as 720h ("1M" = 720h, "-1M" = -720h, "1M24h" = 744h);
// anything else is a Go duration. The sign of the month part applies only to the months.
absl::StatusOr<absl::Duration> ParseV1Duration(std::string_view text, std::string_view what);

}  // namespace optimus::schedule
