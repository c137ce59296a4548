// Window maths for versions 1, 2 and 3, following Optimus' window_v1.go, window_v2.go and
// internal/lib/window/custom.go (reference §4.3).
#include "optimus/schedule/window.h"

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "optimus/schedule/time_util.h"

namespace optimus::schedule {
namespace {

constexpr absl::Duration kDay = absl::Hours(24);
constexpr absl::Duration kV1Month = absl::Hours(24 * 30);

// Monday-based weekday index (Monday 0 .. Sunday 6), as Optimus' weekly truncation uses.
int MondayBasedWeekday(const absl::CivilDay& d) { return static_cast<int>(absl::GetWeekday(d)); }

// Go's integer division of durations (truncates toward zero).
int64_t GoDurationDiv(absl::Duration num, absl::Duration den) {
  absl::Duration remainder;
  return absl::IDivDuration(num, den, &remainder);
}

// Go's Weekday(): Sunday 0 .. Saturday 6.
int SundayBasedWeekday(const absl::CivilDay& d) { return (MondayBasedWeekday(d) + 1) % 7; }

absl::Status WindowError(int version, std::string_view field, std::string_view value,
                         std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("window v", version, " ", std::string(field),
                                                 " \"", std::string(value),
                                                 "\": ", std::string(why)));
}

absl::Status CheckTruncateLegacy(const WindowSpec& spec) {
  const std::string& t = spec.truncate_to;
  if (t.empty() || t == "h" || t == "d" || t == "w" || t == "M") return absl::OkStatus();
  return WindowError(spec.version, "truncate_to", t, "use one of h, d, w, M or leave it empty");
}

// ---- version 1 --------------------------------------------------------------------------

struct V1Parsed {
  absl::Duration size = kDay;
  absl::Duration offset = absl::ZeroDuration();
};

absl::StatusOr<V1Parsed> ParseV1(const WindowSpec& spec) {
  if (auto s = CheckTruncateLegacy(spec); !s.ok()) return s;
  V1Parsed p;
  if (!spec.size.empty()) {
    auto size = ParseV1Duration(spec.size, "size");
    if (!size.ok()) return size.status();
    p.size = *size;
  }
  if (!spec.offset.empty()) {
    auto offset = ParseV1Duration(spec.offset, "offset");
    if (!offset.ok()) return offset.status();
    p.offset = *offset;
  }
  return p;
}

Interval ComputeV1(const V1Parsed& p, const std::string& truncate_to, absl::Time ref) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  absl::Time floating_end = ref;
  if (truncate_to == "h") {
    floating_end = GoTruncate(floating_end, absl::Hours(1));
  } else if (truncate_to == "d") {
    floating_end = GoTruncate(floating_end, kDay);
  } else if (truncate_to == "w") {
    // Move forward to the next Sunday (a Sunday moves a whole week), then to its midnight.
    const int weekday = SundayBasedWeekday(absl::ToCivilDay(floating_end, utc));
    floating_end += (6 - weekday + 1) * kDay;
    floating_end = GoTruncate(floating_end, kDay);
  }
  Interval out;
  out.end = floating_end + p.offset;
  out.start = out.end - p.size;
  if (truncate_to == "M") {
    // Months count as 30 days; DEND is the last day of the month at 00:00.
    const absl::CivilDay day = absl::ToCivilDay(ref, utc);
    absl::Time end = absl::FromCivil(absl::CivilDay(day.year(), day.month(), 1), utc);
    const int64_t offset_months = GoDurationDiv(p.offset, kV1Month);
    end = GoAddDate(end, utc, 0, offset_months, 0);
    end = GoAddDate(end, utc, 0, 1, -1);
    out.end = GoTruncate(end, kDay);
    const absl::CivilDay end_day = absl::ToCivilDay(end, utc);
    absl::Time start = absl::FromCivil(absl::CivilDay(end_day.year(), end_day.month(), 1), utc);
    const int64_t size_months = GoDurationDiv(p.size, kV1Month) - 1;
    if (size_months > 0) start = GoAddDate(start, utc, 0, -size_months, 0);
    out.start = start;
  }
  return out;
}

// ---- version 2 --------------------------------------------------------------------------

absl::Status ValidateV2(const WindowSpec& spec) {
  if (auto s = CheckTruncateLegacy(spec); !s.ok()) return s;
  if (!spec.offset.empty()) {
    if (auto o = ParseV2Duration(spec.offset, "offset"); !o.ok()) return o.status();
  }
  if (!spec.size.empty()) {
    auto sz = ParseV2Duration(spec.size, "size");
    if (!sz.ok()) return sz.status();
    if (sz->months < 0 || spec.size[0] == '-') {
      return WindowError(2, "size", spec.size, "size cannot be negative");
    }
  }
  return absl::OkStatus();
}

Interval ComputeV2(const WindowSpec& spec, absl::Time ref) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  absl::Time truncated = ref;
  const std::string& t = spec.truncate_to;
  if (t == "h") {
    truncated = GoTruncate(ref, absl::Hours(1));
  } else if (t == "d") {
    truncated = GoTruncate(ref, kDay);
  } else if (t == "w") {
    const int days_back = MondayBasedWeekday(absl::ToCivilDay(ref, utc));
    truncated = GoTruncate(ref, kDay) - days_back * kDay;
  } else if (t == "M") {
    const absl::CivilDay day = absl::ToCivilDay(ref, utc);
    truncated = absl::FromCivil(absl::CivilDay(day.year(), day.month(), 1), utc);
  }
  Interval out;
  out.end = truncated;
  if (!spec.offset.empty()) {
    const MonthsAndDuration o = *ParseV2Duration(spec.offset, "offset");
    out.end = GoAddDate(truncated + o.rest, utc, 0, o.months, 0);
  }
  out.start = out.end;
  if (!spec.size.empty()) {
    const MonthsAndDuration s = *ParseV2Duration(spec.size, "size");
    out.start = GoAddDate(out.end - s.rest, utc, 0, -s.months, 0);
  }
  return out;
}

// ---- version 3 --------------------------------------------------------------------------

struct V3Parsed {
  SizeDuration size;
  SizeDuration shift_by;
  SizeUnit truncate_unit = SizeUnit::kNone;
  absl::TimeZone tz;
};

absl::StatusOr<V3Parsed> ParseV3(const WindowSpec& spec) {
  V3Parsed p;
  auto size = ParseSizeDuration(spec.size, "size");
  if (!size.ok()) return size.status();
  if (size->count < 0) return WindowError(3, "size", spec.size, "size cannot be negative");
  auto shift = ParseSizeDuration(spec.shift_by, "shift_by");
  if (!shift.ok()) return shift.status();
  p.size = *size;
  p.shift_by = *shift;
  p.truncate_unit = p.size.unit;
  if (!spec.truncate_to.empty()) {
    auto unit = ParseSizeUnit(spec.truncate_to);
    if (!unit.ok()) {
      return WindowError(3, "truncate_to", spec.truncate_to,
                         "use one of h, d, w, M, y, None, or leave it empty for the unit of size");
    }
    p.truncate_unit = *unit;
  }
  auto tz = LoadZone(spec.location);
  if (!tz.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("window v3 location: ", tz.status().message()));
  }
  p.tz = *tz;
  return p;
}

Interval ComputeV3(const V3Parsed& p, absl::Time ref) {
  absl::Time truncated = ref;
  if (p.truncate_unit != SizeUnit::kNone) {
    const absl::CivilSecond local = p.tz.At(ref).cs;
    int64_t year = local.year();
    int month = local.month();
    int day = local.day();
    int hour = 0;
    switch (p.truncate_unit) {
      case SizeUnit::kHour:
        hour = local.hour();
        break;
      case SizeUnit::kWeek:
        day -= MondayBasedWeekday(absl::CivilDay(local));  // back to Monday
        break;
      case SizeUnit::kYear:
        month = 1;
        day = 1;
        break;
      case SizeUnit::kMonth:
        day = 1;
        break;
      case SizeUnit::kDay:
      case SizeUnit::kNone:
        break;
    }
    truncated = GoDate(absl::CivilSecond(year, month, day, hour, 0, 0), p.tz);
  }
  Interval out;
  out.end = AddSizeDuration(truncated, p.tz, p.shift_by, +1);
  out.start = AddSizeDuration(out.end, p.tz, p.size, -1);
  return out;
}

absl::Status CheckCommon(const WindowSpec& spec) {
  if (!spec.preset.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "window preset \"", spec.preset,
        "\" is not resolved: look it up in the project presets (ResolveWindow) first"));
  }
  if (spec.version < 1 || spec.version > 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("window version ", spec.version, " is not supported: use 1, 2 or 3"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<MonthsAndDuration> ParseV2Duration(std::string_view text, std::string_view what) {
  MonthsAndDuration out;
  std::string rest(text);
  const size_t m = text.find('M');
  if (m != std::string_view::npos) {
    // strconv.Atoi on the part before the first "M": optional sign and digits.
    std::string_view num = text.substr(0, m);
    std::string_view digits = num;
    bool neg = false;
    if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) {
      neg = digits[0] == '-';
      digits.remove_prefix(1);
    }
    if (digits.empty() || digits.size() > 6 ||
        digits.find_first_not_of("0123456789") != std::string_view::npos) {
      return WindowError(2, what, text,
                         "the month part must be a whole number before M (e.g. 1M, -1M24h)");
    }
    out.months = std::stoi(std::string(digits)) * (neg ? -1 : 1);
    rest = std::string(text.substr(m + 1));
    if (rest.empty()) {
      rest = "0";
    } else if (out.months < 0) {
      // Optimus applies a negative month sign to the rest as well ("-1M24h" = -1M and -24h).
      rest = "-" + rest;
    }
  }
  auto d = ParseGoDuration(rest);
  if (!d.ok()) {
    return WindowError(2, what, text,
                       absl::StrCat("not a month count plus Go duration (e.g. 24h, -1M, 1M24h): ",
                                    d.status().message()));
  }
  out.rest = *d;
  return out;
}

absl::StatusOr<absl::Duration> ParseV1Duration(std::string_view text, std::string_view what) {
  // Like Optimus' regexp (\+|-)?([0-9]+)(M): the first month token counts (30 days per month),
  // every month token is removed, and what remains (trimmed) is a Go duration.
  std::string remaining;
  bool found = false;
  int64_t months = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i;
    if (text[j] == '+' || text[j] == '-') ++j;
    size_t k = j;
    while (k < text.size() && text[k] >= '0' && text[k] <= '9') ++k;
    if (k > j && k < text.size() && text[k] == 'M') {
      if (!found) {
        if (k - j > 6) return WindowError(1, what, text, "month count too large");
        months = std::stoll(std::string(text.substr(j, k - j)));
        if (text[i] == '-') months = -months;
        found = true;
      }
      i = k + 1;
      continue;
    }
    // No month token starting here: keep one character and retry from the next. A sign
    // immediately followed by digits without M is kept whole so "-24h" stays intact.
    remaining.push_back(text[i]);
    ++i;
  }
  if (!found) {
    auto d = ParseGoDuration(text);
    if (!d.ok()) {
      return WindowError(
          1, what, text,
          absl::StrCat("not a Go duration or month count (e.g. 24h, 1M): ", d.status().message()));
    }
    return *d;
  }
  absl::Duration total = months * kV1Month;
  const std::string trimmed(absl::StripAsciiWhitespace(remaining));
  if (!trimmed.empty()) {
    auto d = ParseGoDuration(trimmed);
    if (!d.ok()) {
      return WindowError(1, what, text,
                         absl::StrCat("the part after the month count is not a Go duration: ",
                                      d.status().message()));
    }
    total += *d;
  }
  return total;
}

namespace {

absl::StatusOr<Interval> ComputeUnbounded(const WindowSpec& spec, absl::Time scheduled_at);

// A window longer than this, or further than this from its run, is refused: its run input would
// render its queries once per day of it, and its times would leave the supported years.
constexpr absl::Duration kLongestWindow = absl::Hours(24 * 3660);

absl::Status CheckBounds(const Interval& interval, absl::Time scheduled_at) {
  if (interval.end - interval.start > kLongestWindow) {
    return absl::InvalidArgumentError(
        absl::StrCat("the window is ", absl::ToInt64Hours(interval.end - interval.start) / 24,
                     " days long: at most 3660 days (about ten years) are supported"));
  }
  if (absl::AbsDuration(interval.start - scheduled_at) > 2 * kLongestWindow ||
      absl::AbsDuration(interval.end - scheduled_at) > 2 * kLongestWindow) {
    return absl::InvalidArgumentError(
        "the window is shifted more than 7320 days (about twenty years) from its run");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateWindow(const WindowSpec& spec) {
  if (auto s = CheckCommon(spec); !s.ok()) return s;
  absl::Status parsed;
  switch (spec.version) {
    case 1:
      parsed = ParseV1(spec).status();
      break;
    case 2:
      parsed = ValidateV2(spec);
      break;
    default:
      parsed = ParseV3(spec).status();
  }
  if (!parsed.ok()) return parsed;
  // Its bounds, at a run of 2024-01-01 (a window's length varies little with the date).
  return ComputeInterval(spec, absl::FromUnixSeconds(1704067200)).status();
}

absl::StatusOr<Interval> ComputeInterval(const WindowSpec& spec, absl::Time scheduled_at) {
  auto interval = ComputeUnbounded(spec, scheduled_at);
  if (!interval.ok()) return interval.status();
  if (absl::Status s = CheckBounds(*interval, scheduled_at); !s.ok()) return s;
  return interval;
}

namespace {

absl::StatusOr<Interval> ComputeUnbounded(const WindowSpec& spec, absl::Time scheduled_at) {
  if (auto s = CheckCommon(spec); !s.ok()) return s;
  switch (spec.version) {
    case 1: {
      auto p = ParseV1(spec);
      if (!p.ok()) return p.status();
      return ComputeV1(*p, spec.truncate_to, scheduled_at);
    }
    case 2: {
      if (auto s = ValidateV2(spec); !s.ok()) return s;
      return ComputeV2(spec, scheduled_at);
    }
    default: {
      auto p = ParseV3(spec);
      if (!p.ok()) return p.status();
      return ComputeV3(*p, scheduled_at);
    }
  }
}

}  // namespace

absl::StatusOr<Interval> ComputeIncremental(const CronSchedule& schedule, absl::Time scheduled_at,
                                            const absl::TimeZone& tz) {
  const std::optional<absl::Time> prev = schedule.Prev(scheduled_at, tz);
  if (!prev) {
    return absl::InvalidArgumentError(absl::StrCat("incremental window: schedule \"",
                                                   schedule.spec(), "\" has no tick before ",
                                                   FormatRfc3339(scheduled_at, tz)));
  }
  Interval out;
  out.start = *prev;
  // The scheduled time is itself a tick when the first tick after "just before it" is it. An
  // @every schedule has no phase of its own: it ticks at whatever time it was triggered.
  const std::optional<absl::Time> at = schedule.Next(scheduled_at - absl::Nanoseconds(1), tz);
  if (schedule.is_every() || (at && *at == scheduled_at)) {
    out.end = scheduled_at;
    return out;
  }
  const std::optional<absl::Time> next = schedule.Next(scheduled_at, tz);
  if (!next) {
    return absl::InvalidArgumentError(absl::StrCat("incremental window: schedule \"",
                                                   schedule.spec(), "\" has no tick after ",
                                                   FormatRfc3339(scheduled_at, tz)));
  }
  out.end = *next;
  return out;
}

absl::StatusOr<WindowValues> Compute(const WindowSpec& spec, absl::Time scheduled_at) {
  auto interval = ComputeInterval(spec, scheduled_at);
  if (!interval.ok()) return interval.status();
  WindowValues v;
  v.interval = *interval;
  v.version = spec.version;
  if (spec.version == 3) {
    auto tz = LoadZone(spec.location);
    if (!tz.ok()) return tz.status();
    v.zone = *tz;
  }
  v.dstart = FormatRfc3339(v.interval.start, v.zone);
  v.dend = FormatRfc3339(v.interval.end, v.zone);
  if (spec.version == 3) {
    const absl::TimeZone utc = absl::UTCTimeZone();
    v.start_date = FormatDate(v.interval.start, v.zone);
    v.end_date = FormatDate(v.interval.end, v.zone);
    v.schedule_time = FormatRfc3339(scheduled_at, utc);
    v.schedule_date = FormatDate(scheduled_at, utc);
    v.execution_time = FormatDateTime(scheduled_at, utc);
  }
  return v;
}

}  // namespace optimus::schedule
