// Go-compatible time helpers (durations, AddDate, time.Date, RFC3339) that the window maths needs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace optimus::schedule {

// Parses a Go duration string exactly as Go's time.ParseDuration does: an optional sign and a
// sequence of decimal numbers with optional fraction and a unit (ns, us, µs, μs, ms, s, m, h),
// e.g. "24h", "-1h30m", "90m", "1.5h", "0". The empty string is invalid, as in Go.
absl::StatusOr<absl::Duration> ParseGoDuration(std::string_view text);

// The units of Optimus' own window durations (internal/lib/duration): hours, calendar days,
// weeks, months and years; kNone means "no duration / no truncation".
enum class SizeUnit { kNone, kHour, kDay, kWeek, kMonth, kYear };

// A v3 window duration: a signed count of one unit ("1d", "-2h", "1M", "None").
struct SizeDuration {
  int64_t count = 0;
  SizeUnit unit = SizeUnit::kNone;
};

// Parses an Optimus v3 duration: "" or "None" (any case) -> kNone, else ^-?\d+[hdwMy]$.
// `what` names the field in the error ("size", "shift_by").
absl::StatusOr<SizeDuration> ParseSizeDuration(std::string_view text, std::string_view what);

// Parses a v3 truncate_to unit: "h", "d", "w", "M", "y" or "None"; "" is not accepted here
// (an empty truncate_to means "the unit of size" and is handled by the caller).
absl::StatusOr<SizeUnit> ParseSizeUnit(std::string_view text);

// The one-letter spelling of a unit ("h", "d", ...; "None" for kNone).
std::string SizeUnitName(SizeUnit unit);

// Go's time.Date(civil..., loc): builds an instant from a (possibly denormalised) civil time in
// `tz`, resolving skipped and repeated local times the way Go does.
absl::Time GoDate(const absl::CivilSecond& civil, const absl::TimeZone& tz);

// Go's t.In(tz).AddDate(years, months, days): adds to the civil fields in `tz` and normalises
// like Go (2023-03-31 minus one month is 2023-03-03), keeping the time of day and sub-seconds.
absl::Time GoAddDate(absl::Time t, const absl::TimeZone& tz, int64_t years, int64_t months,
                     int64_t days);

// Adds an Optimus duration (hours as absolute time, days/weeks/months/years as Go AddDate in
// `tz`); `sign` = -1 subtracts.
absl::Time AddSizeDuration(absl::Time t, const absl::TimeZone& tz, const SizeDuration& d,
                           int sign = 1);

// Go's t.Truncate(d) for d > 0: rounds down relative to Go's zero time (0001-01-01 UTC), which
// for hours and days is the UTC hour/day boundary whatever zone the time is shown in.
absl::Time GoTruncate(absl::Time t, absl::Duration d);

// Go's time.RFC3339 layout in `tz` ("2023-03-07T02:00:00Z", "2023-11-29T10:00:00+07:00"):
// seconds precision, and "Z" whenever the offset is zero.
std::string FormatRfc3339(absl::Time t, const absl::TimeZone& tz);

// "YYYY-MM-DD" of `t` in `tz`.
std::string FormatDate(absl::Time t, const absl::TimeZone& tz);

// Go's "2006-01-02 15:04:05" layout in `tz` (EXECUTION_TIME has no zone).
std::string FormatDateTime(absl::Time t, const absl::TimeZone& tz);

// Parses an RFC3339 timestamp ("2023-03-07T02:00:00Z", "...+07:00", fractional seconds allowed).
absl::StatusOr<absl::Time> ParseRfc3339(std::string_view text);

// Loads an IANA zone from the system zoneinfo; "" and "UTC" give UTC.
absl::StatusOr<absl::TimeZone> LoadZone(std::string_view name);

}  // namespace optimus::schedule
