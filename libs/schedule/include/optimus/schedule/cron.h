// Cron schedules as Optimus accepts them (robfig/cron ParseStandard): 5 fields, macros, @every.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace optimus::schedule {

// A parsed `schedule.interval`. Accepts
//   - five fields "minute hour day-of-month month day-of-week" with *, ?, lists (1,15),
//     ranges (1-5), steps (*/15, 10-50/10, 5/10 = 5-max/10) and names (JAN-DEC, SUN-SAT);
//   - @yearly/@annually, @monthly, @weekly, @daily/@midnight, @hourly;
//   - @every <Go duration> (e.g. "@every 1h30m");
//   - an optional "CRON_TZ=<IANA zone> " or "TZ=<IANA zone> " prefix (as robfig), which then
//     overrides the zone passed to Next/Prev.
// Day matching follows robfig/cron: when both day-of-month and day-of-week are restricted a day
// matches if EITHER matches; if either field is * (or ?, or */1) both must match.
class CronSchedule {
 public:
  // Parses `spec`; errors name the field and value, e.g.
  //   cron "0 25 * * *": hour 25 out of range 0-23
  static absl::StatusOr<CronSchedule> Parse(std::string_view spec);

  // The first tick strictly after `t`, evaluating the fields in local time of `tz`. Local times
  // skipped by a DST jump never fire; local times that occur twice fire twice (as robfig).
  // nullopt if nothing matches within five years (e.g. "0 0 30 2 *").
  std::optional<absl::Time> Next(absl::Time t, const absl::TimeZone& tz) const;

  // The last tick strictly before `t` (same rules as Next). For @every d this is t - d (whole
  // seconds), the inverse of Next on whole-second times.
  std::optional<absl::Time> Prev(absl::Time t, const absl::TimeZone& tz) const;

  const std::string& spec() const { return spec_; }
  // The zone named by a CRON_TZ=/TZ= prefix, if any.
  const std::optional<absl::TimeZone>& zone() const { return zone_; }
  bool is_every() const { return every_ > absl::ZeroDuration(); }
  absl::Duration every() const { return every_; }

  // True if the civil minute matches the five fields (always false for @every).
  bool Matches(const absl::CivilMinute& m) const;

 private:
  CronSchedule() = default;

  bool DayMatches(const absl::CivilDay& d) const;
  // The first matching civil minute >= from (<= from for Prev), within a bounded search.
  std::optional<absl::CivilMinute> NextMatch(absl::CivilMinute from) const;
  std::optional<absl::CivilMinute> PrevMatch(absl::CivilMinute from) const;

  std::string spec_;
  std::optional<absl::TimeZone> zone_;
  absl::Duration every_ = absl::ZeroDuration();
  uint64_t minutes_ = 0;  // bit i = minute i
  uint64_t hours_ = 0;
  uint64_t dom_ = 0;     // bits 1..31
  uint64_t months_ = 0;  // bits 1..12
  uint64_t dow_ = 0;     // bits 0..6, 0 = Sunday
  bool dom_star_ = false;
  bool dow_star_ = false;
};

}  // namespace optimus::schedule
