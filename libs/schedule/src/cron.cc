// CronSchedule: robfig/cron-compatible parsing and DST-aware next/previous tick search.
#include "optimus/schedule/cron.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "optimus/schedule/time_util.h"

namespace optimus::schedule {
namespace {

struct FieldDef {
  const char* name;
  int min;
  int max;
  const char* const* names;  // lower-case names for min..max, or nullptr
};

constexpr const char* kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr const char* kDowNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

constexpr std::array<FieldDef, 5> kFields = {{
    {"minute", 0, 59, nullptr},
    {"hour", 0, 23, nullptr},
    {"day-of-month", 1, 31, nullptr},
    {"month", 1, 12, kMonthNames},
    {"day-of-week", 0, 6, kDowNames},
}};

// Search horizon: robfig gives up after five years too.
constexpr int kMaxYears = 5;
// Longest DST jump we must look around when local time is not monotonic.
constexpr int kSlackMinutes = 3 * 60;

struct ParsedField {
  uint64_t bits = 0;
  bool star = false;
};

class FieldParser {
 public:
  FieldParser(std::string_view spec, const FieldDef& def) : spec_(spec), def_(def) {}

  absl::StatusOr<ParsedField> Parse(std::string_view field) const {
    ParsedField out;
    for (absl::string_view part :
         absl::StrSplit(absl::string_view(field.data(), field.size()), ',')) {
      auto r = ParsePart(std::string_view(part.data(), part.size()));
      if (!r.ok()) return r.status();
      out.bits |= r->bits;
      out.star = out.star || r->star;
    }
    return out;
  }

 private:
  absl::Status Error(std::string_view detail) const {
    return absl::InvalidArgumentError(
        absl::StrCat("cron \"", std::string(spec_), "\": ", def_.name, " ", std::string(detail)));
  }

  absl::StatusOr<int> Number(std::string_view text) const {
    if (text.empty()) return Error("has an empty value");
    if (def_.names != nullptr) {
      const std::string lower = absl::AsciiStrToLower(absl::string_view(text.data(), text.size()));
      for (int i = 0; i <= def_.max - def_.min; ++i) {
        if (lower == def_.names[i]) return def_.min + i;
      }
    }
    int64_t v = 0;
    for (char c : text) {
      if (c < '0' || c > '9') {
        return Error(absl::StrCat("value \"", std::string(text), "\" is not a number",
                                  def_.names != nullptr ? " or a name" : ""));
      }
      v = v * 10 + (c - '0');
      if (v > 1000000)
        return Error(absl::StrCat(std::string(text), " out of range ", def_.min, "-", def_.max));
    }
    return static_cast<int>(v);
  }

  absl::StatusOr<ParsedField> ParsePart(std::string_view part) const {
    std::vector<absl::string_view> range_step =
        absl::StrSplit(absl::string_view(part.data(), part.size()), '/');
    if (range_step.size() > 2)
      return Error(absl::StrCat("\"", std::string(part), "\" has too many slashes"));
    const std::string_view range(range_step[0].data(), range_step[0].size());
    std::vector<absl::string_view> low_high =
        absl::StrSplit(absl::string_view(range.data(), range.size()), '-');
    if (low_high.size() > 2)
      return Error(absl::StrCat("\"", std::string(part), "\" has too many hyphens"));
    int start = 0;
    int end = 0;
    bool star = false;
    if (low_high[0] == "*" || low_high[0] == "?") {
      if (low_high.size() != 1)
        return Error(absl::StrCat("\"", std::string(part), "\" mixes * with a range"));
      start = def_.min;
      end = def_.max;
      star = true;
    } else {
      auto s = Number(std::string_view(low_high[0].data(), low_high[0].size()));
      if (!s.ok()) return s.status();
      start = end = *s;
      if (low_high.size() == 2) {
        auto e = Number(std::string_view(low_high[1].data(), low_high[1].size()));
        if (!e.ok()) return e.status();
        end = *e;
      }
    }
    int step = 1;
    if (range_step.size() == 2) {
      const std::string_view step_text(range_step[1].data(), range_step[1].size());
      if (step_text.empty() || !std::all_of(step_text.begin(), step_text.end(),
                                            [](char c) { return c >= '0' && c <= '9'; })) {
        return Error(absl::StrCat("step \"", std::string(step_text), "\" in \"", std::string(part),
                                  "\" is not a positive number"));
      }
      step = step_text.size() > 4 ? 100000 : std::stoi(std::string(step_text));
      // robfig: "N/step" means "N-max/step"; a step above 1 makes * count as restricted.
      if (low_high.size() == 1) end = def_.max;
      if (step > 1) star = false;
    }
    if (start < def_.min || start > def_.max) {
      return Error(absl::StrCat(start, " out of range ", def_.min, "-", def_.max));
    }
    if (end < def_.min || end > def_.max) {
      return Error(absl::StrCat(end, " out of range ", def_.min, "-", def_.max));
    }
    if (start > end) {
      return Error(absl::StrCat("range ", start, "-", end, " starts after it ends"));
    }
    if (step == 0)
      return Error(absl::StrCat("step in \"", std::string(part), "\" must be positive"));
    ParsedField out;
    for (int i = start; i <= end; i += step) out.bits |= uint64_t{1} << i;
    out.star = star;
    return out;
  }

  std::string_view spec_;
  const FieldDef& def_;
};

// Instants at which a civil minute occurs in tz: none (skipped), one, or two (repeated).
std::vector<absl::Time> InstantsOf(const absl::CivilMinute& m, const absl::TimeZone& tz) {
  const absl::TimeZone::TimeInfo ti = tz.At(absl::CivilSecond(m));
  switch (ti.kind) {
    case absl::TimeZone::TimeInfo::UNIQUE:
      return {ti.pre};
    case absl::TimeZone::TimeInfo::SKIPPED:
      return {};
    case absl::TimeZone::TimeInfo::REPEATED:
      return {std::min(ti.pre, ti.post), std::max(ti.pre, ti.post)};
  }
  return {};
}

bool Bit(uint64_t set, int i) { return (set >> i) & 1U; }

int SundayBasedWeekday(const absl::CivilDay& d) {
  // absl::Weekday starts at Monday = 0; cron counts Sunday = 0.
  return (static_cast<int>(absl::GetWeekday(d)) + 1) % 7;
}

}  // namespace

absl::StatusOr<CronSchedule> CronSchedule::Parse(std::string_view spec) {
  CronSchedule out;
  out.spec_ = std::string(spec);
  const std::string trimmed(
      absl::StripAsciiWhitespace(absl::string_view(spec.data(), spec.size())));
  if (trimmed.empty()) {
    return absl::InvalidArgumentError(
        "cron \"\": empty schedule; use 5 fields (e.g. \"0 2 * * *\") or @daily, @hourly, @every "
        "1h");
  }
  std::string body = trimmed;
  for (const char* prefix : {"CRON_TZ=", "TZ="}) {
    const std::string_view p(prefix);
    if (body.rfind(p, 0) != 0) continue;
    const size_t space = body.find_first_of(" \t");
    const std::string name =
        body.substr(p.size(), space == std::string::npos ? std::string::npos : space - p.size());
    auto tz = LoadZone(name);
    if (name.empty() || !tz.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cron \"", std::string(spec), "\": ", std::string(p.substr(0, p.size() - 1)),
                       " names an unknown time zone \"", name, "\" (use an IANA name such as ",
                       "Asia/Jakarta)"));
    }
    out.zone_ = *tz;
    body = space == std::string::npos
               ? std::string()
               : std::string(absl::StripAsciiWhitespace(absl::string_view(body).substr(space)));
    if (body.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cron \"", std::string(spec), "\": nothing follows the time zone prefix"));
    }
    break;
  }
  const std::string& trimmed_body = body;
  std::string fields_text = trimmed_body;
  if (trimmed_body[0] == '@') {
    const std::string lower = absl::AsciiStrToLower(trimmed_body);
    if (lower.rfind("@every", 0) == 0) {
      const std::string arg(absl::StripAsciiWhitespace(absl::string_view(trimmed_body).substr(6)));
      if (arg.empty() || trimmed_body.size() == 6 ||
          !absl::ascii_isspace(static_cast<unsigned char>(trimmed_body[6]))) {
        return absl::InvalidArgumentError(absl::StrCat(
            "cron \"", std::string(spec), "\": @every needs a duration, e.g. @every 1h30m"));
      }
      auto d = ParseGoDuration(arg);
      if (!d.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("cron \"", std::string(spec), "\": ", d.status().message()));
      }
      if (*d <= absl::ZeroDuration()) {
        return absl::InvalidArgumentError(
            absl::StrCat("cron \"", std::string(spec), "\": @every duration must be positive"));
      }
      // robfig: at least one second, and whole seconds only.
      absl::Duration every = absl::Trunc(*d, absl::Seconds(1));
      if (every < absl::Seconds(1)) every = absl::Seconds(1);
      out.every_ = every;
      return out;
    }
    if (lower == "@yearly" || lower == "@annually") {
      fields_text = "0 0 1 1 *";
    } else if (lower == "@monthly") {
      fields_text = "0 0 1 * *";
    } else if (lower == "@weekly") {
      fields_text = "0 0 * * 0";
    } else if (lower == "@daily" || lower == "@midnight") {
      fields_text = "0 0 * * *";
    } else if (lower == "@hourly") {
      fields_text = "0 * * * *";
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("cron \"", std::string(spec),
                       "\": unknown descriptor; use @yearly, @annually, @monthly, @weekly, @daily, "
                       "@midnight, @hourly or @every <duration>"));
    }
  }
  std::vector<std::string> fields =
      absl::StrSplit(fields_text, absl::ByAnyChar(" \t\n\r"), absl::SkipEmpty());
  if (fields.size() != 5) {
    return absl::InvalidArgumentError(absl::StrCat("cron \"", std::string(spec),
                                                   "\": expected exactly 5 fields (minute hour "
                                                   "day-of-month month day-of-week), found ",
                                                   fields.size()));
  }
  ParsedField parsed[5];
  for (size_t i = 0; i < 5; ++i) {
    auto f = FieldParser(spec, kFields[i]).Parse(fields[i]);
    if (!f.ok()) return f.status();
    parsed[i] = *f;
  }
  out.minutes_ = parsed[0].bits;
  out.hours_ = parsed[1].bits;
  out.dom_ = parsed[2].bits;
  out.dom_star_ = parsed[2].star;
  out.months_ = parsed[3].bits;
  out.dow_ = parsed[4].bits;
  out.dow_star_ = parsed[4].star;
  return out;
}

bool CronSchedule::DayMatches(const absl::CivilDay& d) const {
  const bool dom = Bit(dom_, d.day());
  const bool dow = Bit(dow_, SundayBasedWeekday(d));
  if (dom_star_ || dow_star_) return dom && dow;
  return dom || dow;
}

bool CronSchedule::Matches(const absl::CivilMinute& m) const {
  if (is_every()) return false;
  return Bit(months_, m.month()) && DayMatches(absl::CivilDay(m)) && Bit(hours_, m.hour()) &&
         Bit(minutes_, m.minute());
}

std::optional<absl::CivilMinute> CronSchedule::NextMatch(absl::CivilMinute c) const {
  const int64_t limit = c.year() + kMaxYears;
  while (c.year() <= limit) {
    if (!Bit(months_, c.month())) {
      c = absl::CivilMinute(absl::CivilMonth(c) + 1);
      continue;
    }
    if (!DayMatches(absl::CivilDay(c))) {
      c = absl::CivilMinute(absl::CivilDay(c) + 1);
      continue;
    }
    if (!Bit(hours_, c.hour())) {
      c = absl::CivilMinute(absl::CivilHour(c) + 1);
      continue;
    }
    if (!Bit(minutes_, c.minute())) {
      c += 1;
      continue;
    }
    return c;
  }
  return std::nullopt;
}

std::optional<absl::CivilMinute> CronSchedule::PrevMatch(absl::CivilMinute c) const {
  const int64_t limit = c.year() - kMaxYears;
  while (c.year() >= limit) {
    if (!Bit(months_, c.month())) {
      c = absl::CivilMinute(absl::CivilMonth(c)) - 1;
      continue;
    }
    if (!DayMatches(absl::CivilDay(c))) {
      c = absl::CivilMinute(absl::CivilDay(c)) - 1;
      continue;
    }
    if (!Bit(hours_, c.hour())) {
      c = absl::CivilMinute(absl::CivilHour(c)) - 1;
      continue;
    }
    if (!Bit(minutes_, c.minute())) {
      c -= 1;
      continue;
    }
    return c;
  }
  return std::nullopt;
}

std::optional<absl::Time> CronSchedule::Next(absl::Time t, const absl::TimeZone& zone) const {
  const absl::TimeZone& tz = zone_ ? *zone_ : zone;
  if (is_every()) {
    // robfig ConstantDelaySchedule: drop the sub-second part, then add the delay.
    const absl::Time whole =
        absl::UnixEpoch() + absl::Floor(t - absl::UnixEpoch(), absl::Seconds(1));
    return whole + every_;
  }
  // Local time can run backwards at a DST fall-back, so a civil minute a little before t's
  // civil minute may still be later in absolute time: start early and keep the smallest instant.
  absl::CivilMinute c = absl::CivilMinute(tz.At(t).cs) - kSlackMinutes;
  std::optional<absl::Time> best;
  std::optional<absl::CivilMinute> best_civil;
  while (true) {
    auto m = NextMatch(c);
    if (!m) break;
    if (best_civil && *m - *best_civil > 2 * kSlackMinutes) break;
    for (absl::Time inst : InstantsOf(*m, tz)) {
      if (inst > t && (!best || inst < *best)) {
        best = inst;
        best_civil = *m;
      }
    }
    c = *m + 1;
  }
  return best;
}

std::optional<absl::Time> CronSchedule::Prev(absl::Time t, const absl::TimeZone& zone) const {
  const absl::TimeZone& tz = zone_ ? *zone_ : zone;
  if (is_every()) {
    const absl::Time whole =
        absl::UnixEpoch() + absl::Floor(t - absl::UnixEpoch(), absl::Seconds(1));
    return whole - every_;
  }
  absl::CivilMinute c = absl::CivilMinute(tz.At(t).cs) + kSlackMinutes;
  std::optional<absl::Time> best;
  std::optional<absl::CivilMinute> best_civil;
  while (true) {
    auto m = PrevMatch(c);
    if (!m) break;
    if (best_civil && *best_civil - *m > 2 * kSlackMinutes) break;
    for (absl::Time inst : InstantsOf(*m, tz)) {
      if (inst < t && (!best || inst > *best)) {
        best = inst;
        best_civil = *m;
      }
    }
    c = *m - 1;
  }
  return best;
}

}  // namespace optimus::schedule
