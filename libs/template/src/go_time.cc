// Go's time.Format / time.Parse layouts and time.ParseDuration on top of absl::Time.
#include "optimus/template/go_time.h"

#include <cstdint>
#include <cstdlib>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "go_fmt.h"

namespace optimus::tmpl {
namespace {

enum class Std {
  kNone,
  kLongMonth,
  kMonth,
  kNumMonth,
  kZeroMonth,
  kLongWeekDay,
  kWeekDay,
  kDay,
  kUnderDay,
  kZeroDay,
  kUnderYearDay,
  kZeroYearDay,
  kHour,
  kHour12,
  kZeroHour12,
  kMinute,
  kZeroMinute,
  kSecond,
  kZeroSecond,
  kLongYear,
  kYear,
  kPM,
  kpm,
  kTZ,
  kISO8601TZ,
  kISO8601SecondsTZ,
  kISO8601ShortTZ,
  kISO8601ColonTZ,
  kISO8601ColonSecondsTZ,
  kNumTZ,
  kNumSecondsTz,
  kNumShortTZ,
  kNumColonTZ,
  kNumColonSecondsTZ,
  kFrac0,
  kFrac9
};

// One layout element found at layout[start, start+len) after the literal prefix.
struct Chunk {
  size_t start = 0;
  size_t len = 0;
  Std std = Std::kNone;
  int frac_digits = 0;
  char frac_sep = '.';
};

bool StartsWithLower(std::string_view s) { return !s.empty() && s[0] >= 'a' && s[0] <= 'z'; }
bool IsDigitAt(std::string_view s, size_t i) { return i < s.size() && s[i] >= '0' && s[i] <= '9'; }

// Finds the next reference element at or after `from` (Go's nextStdChunk).
Chunk NextStd(std::string_view layout, size_t from) {
  auto has = [&](size_t i, std::string_view p) { return layout.substr(i, p.size()) == p; };
  for (size_t i = from; i < layout.size(); ++i) {
    auto found = [&](Std s, size_t n) { return Chunk{i, n, s}; };
    switch (layout[i]) {
      case 'J':
        if (has(i, "Jan")) {
          if (has(i, "January")) return found(Std::kLongMonth, 7);
          if (!StartsWithLower(layout.substr(i + 3))) return found(Std::kMonth, 3);
        }
        break;
      case 'M':
        if (has(i, "Mon")) {
          if (has(i, "Monday")) return found(Std::kLongWeekDay, 6);
          if (!StartsWithLower(layout.substr(i + 3))) return found(Std::kWeekDay, 3);
        }
        if (has(i, "MST")) return found(Std::kTZ, 3);
        break;
      case '0':
        if (i + 1 < layout.size() && layout[i + 1] >= '1' && layout[i + 1] <= '6') {
          static constexpr Std k0x[] = {Std::kZeroMonth,  Std::kZeroDay,    Std::kZeroHour12,
                                        Std::kZeroMinute, Std::kZeroSecond, Std::kYear};
          return found(k0x[layout[i + 1] - '1'], 2);
        }
        if (has(i, "002")) return found(Std::kZeroYearDay, 3);
        break;
      case '1':
        if (has(i, "15")) return found(Std::kHour, 2);
        return found(Std::kNumMonth, 1);
      case '2':
        if (has(i, "2006")) return found(Std::kLongYear, 4);
        return found(Std::kDay, 1);
      case '_':
        if (has(i, "_2")) {
          if (has(i, "_2006")) return Chunk{i + 1, 4, Std::kLongYear};
          return found(Std::kUnderDay, 2);
        }
        if (has(i, "__2")) return found(Std::kUnderYearDay, 3);
        break;
      case '3':
        return found(Std::kHour12, 1);
      case '4':
        return found(Std::kMinute, 1);
      case '5':
        return found(Std::kSecond, 1);
      case 'P':
        if (has(i, "PM")) return found(Std::kPM, 2);
        break;
      case 'p':
        if (has(i, "pm")) return found(Std::kpm, 2);
        break;
      case '-':
        if (has(i, "-070000")) return found(Std::kNumSecondsTz, 7);
        if (has(i, "-07:00:00")) return found(Std::kNumColonSecondsTZ, 9);
        if (has(i, "-0700")) return found(Std::kNumTZ, 5);
        if (has(i, "-07:00")) return found(Std::kNumColonTZ, 6);
        if (has(i, "-07")) return found(Std::kNumShortTZ, 3);
        break;
      case 'Z':
        if (has(i, "Z070000")) return found(Std::kISO8601SecondsTZ, 7);
        if (has(i, "Z07:00:00")) return found(Std::kISO8601ColonSecondsTZ, 9);
        if (has(i, "Z0700")) return found(Std::kISO8601TZ, 5);
        if (has(i, "Z07:00")) return found(Std::kISO8601ColonTZ, 6);
        if (has(i, "Z07")) return found(Std::kISO8601ShortTZ, 3);
        break;
      case '.':
      case ',':
        if (i + 1 < layout.size() && (layout[i + 1] == '0' || layout[i + 1] == '9')) {
          char ch = layout[i + 1];
          size_t j = i + 1;
          while (j < layout.size() && layout[j] == ch) ++j;
          if (!IsDigitAt(layout, j)) {
            Chunk c{i, j - i, ch == '0' ? Std::kFrac0 : Std::kFrac9};
            c.frac_digits = static_cast<int>(j - i - 1);
            c.frac_sep = layout[i];
            return c;
          }
        }
        break;
      default:
        break;
    }
  }
  return Chunk{layout.size(), 0, Std::kNone};
}

constexpr const char* kLongMonths[] = {"January",   "February", "March",    "April",
                                       "May",       "June",     "July",     "August",
                                       "September", "October",  "November", "December"};
constexpr const char* kLongDays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                     "Thursday", "Friday", "Saturday"};

void AppendInt(std::string& b, int64_t x, int width) {
  if (x < 0) {
    b += '-';
    x = -x;
  }
  std::string digits = std::to_string(x);
  if (static_cast<int>(digits.size()) < width) b.append(width - digits.size(), '0');
  b += digits;
}

int WeekdayIndex(absl::Weekday w) {
  switch (w) {
    case absl::Weekday::sunday:
      return 0;
    case absl::Weekday::monday:
      return 1;
    case absl::Weekday::tuesday:
      return 2;
    case absl::Weekday::wednesday:
      return 3;
    case absl::Weekday::thursday:
      return 4;
    case absl::Weekday::friday:
      return 5;
    case absl::Weekday::saturday:
      return 6;
  }
  return 0;
}

absl::Status ParseError(std::string_view layout, std::string_view value, std::string_view elem,
                        std::string_view rest, std::string_view msg = "") {
  using internal::GoQuote;
  if (!msg.empty())
    return absl::InvalidArgumentError(
        absl::StrCat("parsing time ", GoQuote(value), std::string(msg)));
  return absl::InvalidArgumentError(absl::StrCat("parsing time ", GoQuote(value), " as ",
                                                 GoQuote(layout), ": cannot parse ", GoQuote(rest),
                                                 " as ", GoQuote(elem)));
}

// Go's getnum: one or two digits; exactly two when fixed.
bool GetNum(std::string_view& v, bool fixed, int* out) {
  if (!IsDigitAt(v, 0)) return false;
  if (!IsDigitAt(v, 1)) {
    if (fixed) return false;
    *out = v[0] - '0';
    v.remove_prefix(1);
    return true;
  }
  *out = (v[0] - '0') * 10 + (v[1] - '0');
  v.remove_prefix(2);
  return true;
}

bool GetNum3(std::string_view& v, bool fixed, int* out) {
  int n = 0, i = 0;
  for (; i < 3 && IsDigitAt(v, i); ++i) n = n * 10 + (v[i] - '0');
  if (i == 0 || (fixed && i != 3)) return false;
  *out = n;
  v.remove_prefix(i);
  return true;
}

// Case-insensitive prefix match of one of `names`; returns its index or -1.
int Lookup(std::string_view& v, const char* const* names, int count, size_t only_len) {
  for (int i = 0; i < count; ++i) {
    std::string_view name = names[i];
    if (only_len) name = name.substr(0, only_len);
    if (v.size() < name.size()) continue;
    bool ok = true;
    for (size_t k = 0; k < name.size() && ok; ++k) {
      char a = v[k], b = name[k];
      if (a >= 'A' && a <= 'Z') a += 32;
      if (b >= 'A' && b <= 'Z') b += 32;
      ok = a == b;
    }
    if (ok) {
      v.remove_prefix(name.size());
      return i;
    }
  }
  return -1;
}

// Go's parseTimeZone: length of a zone abbreviation at the start of v, or 0.
size_t ZoneAbbrevLen(std::string_view v) {
  if (v.size() < 3) return 0;
  if (v.substr(0, 3) == "GMT") {
    size_t n = 3;
    if (n < v.size() && (v[n] == '+' || v[n] == '-')) {
      size_t k = n + 1;
      while (IsDigitAt(v, k)) ++k;
      if (k > n + 1) n = k;
    }
    return n;
  }
  if (v[0] == '+' || v[0] == '-') {
    size_t k = 1;
    while (IsDigitAt(v, k)) ++k;
    return k > 1 ? k : 0;
  }
  size_t upper = 0;
  while (upper < v.size() && upper < 6 && v[upper] >= 'A' && v[upper] <= 'Z') ++upper;
  if (upper == 3) return 3;
  if (upper == 4 && (v[3] == 'T' || v.substr(0, 4) == "WITA")) return 4;
  if (upper == 5 && v[4] == 'T') return 5;
  return 0;
}

int DaysIn(int month, int64_t year) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))) return 29;
  return kDays[month - 1];
}

}  // namespace

std::string FormatGoTime(const GoTime& t, std::string_view layout) {
  absl::TimeZone::CivilInfo ci = t.zone.At(t.instant);
  const absl::CivilSecond& cs = ci.cs;
  int64_t nanos = absl::ToInt64Nanoseconds(ci.subsecond);
  std::string b;
  size_t pos = 0;
  while (pos < layout.size()) {
    Chunk c = NextStd(layout, pos);
    b.append(layout.substr(pos, c.start - pos));
    if (c.std == Std::kNone) break;
    pos = c.start + c.len;
    int hour = cs.hour();
    switch (c.std) {
      case Std::kNone:
        break;
      case Std::kYear:
        AppendInt(b, ((cs.year() % 100) + 100) % 100, 2);
        break;
      case Std::kLongYear:
        AppendInt(b, cs.year(), 4);
        break;
      case Std::kMonth:
        b.append(kLongMonths[cs.month() - 1], 3);
        break;
      case Std::kLongMonth:
        b += kLongMonths[cs.month() - 1];
        break;
      case Std::kNumMonth:
        AppendInt(b, cs.month(), 0);
        break;
      case Std::kZeroMonth:
        AppendInt(b, cs.month(), 2);
        break;
      case Std::kWeekDay:
        b.append(kLongDays[WeekdayIndex(absl::GetWeekday(absl::CivilDay(cs)))], 3);
        break;
      case Std::kLongWeekDay:
        b += kLongDays[WeekdayIndex(absl::GetWeekday(absl::CivilDay(cs)))];
        break;
      case Std::kDay:
        AppendInt(b, cs.day(), 0);
        break;
      case Std::kUnderDay:
        if (cs.day() < 10) b += ' ';
        AppendInt(b, cs.day(), 0);
        break;
      case Std::kZeroDay:
        AppendInt(b, cs.day(), 2);
        break;
      case Std::kUnderYearDay: {
        int yd = absl::GetYearDay(absl::CivilDay(cs));
        if (yd < 100) b += ' ';
        if (yd < 10) b += ' ';
        AppendInt(b, yd, 0);
        break;
      }
      case Std::kZeroYearDay:
        AppendInt(b, absl::GetYearDay(absl::CivilDay(cs)), 3);
        break;
      case Std::kHour:
        AppendInt(b, hour, 2);
        break;
      case Std::kHour12:
        AppendInt(b, hour % 12 == 0 ? 12 : hour % 12, 0);
        break;
      case Std::kZeroHour12:
        AppendInt(b, hour % 12 == 0 ? 12 : hour % 12, 2);
        break;
      case Std::kMinute:
        AppendInt(b, cs.minute(), 0);
        break;
      case Std::kZeroMinute:
        AppendInt(b, cs.minute(), 2);
        break;
      case Std::kSecond:
        AppendInt(b, cs.second(), 0);
        break;
      case Std::kZeroSecond:
        AppendInt(b, cs.second(), 2);
        break;
      case Std::kPM:
        b += hour >= 12 ? "PM" : "AM";
        break;
      case Std::kpm:
        b += hour >= 12 ? "pm" : "am";
        break;
      case Std::kTZ:
        if (!ci.zone_abbr || ci.zone_abbr[0] == '\0' || ci.zone_abbr[0] == '+' ||
            ci.zone_abbr[0] == '-') {
          // No name for this zone: Go prints the offset as -0700.
          int zone = ci.offset / 60;
          b += zone < 0 ? '-' : '+';
          zone = std::abs(zone);
          AppendInt(b, zone / 60, 2);
          AppendInt(b, zone % 60, 2);
        } else {
          b += ci.zone_abbr;
        }
        break;
      case Std::kISO8601TZ:
      case Std::kISO8601ColonTZ:
      case Std::kISO8601SecondsTZ:
      case Std::kISO8601ShortTZ:
      case Std::kISO8601ColonSecondsTZ:
      case Std::kNumTZ:
      case Std::kNumSecondsTz:
      case Std::kNumShortTZ:
      case Std::kNumColonTZ:
      case Std::kNumColonSecondsTZ: {
        bool iso = c.std == Std::kISO8601TZ || c.std == Std::kISO8601ColonTZ ||
                   c.std == Std::kISO8601SecondsTZ || c.std == Std::kISO8601ShortTZ ||
                   c.std == Std::kISO8601ColonSecondsTZ;
        if (iso && ci.offset == 0) {
          b += 'Z';
          break;
        }
        int zone = ci.offset / 60;
        int absoffset = std::abs(ci.offset);
        b += zone < 0 ? '-' : '+';
        zone = std::abs(zone);
        AppendInt(b, zone / 60, 2);
        bool colon = c.std == Std::kISO8601ColonTZ || c.std == Std::kNumColonTZ ||
                     c.std == Std::kISO8601ColonSecondsTZ || c.std == Std::kNumColonSecondsTZ;
        bool short_tz = c.std == Std::kISO8601ShortTZ || c.std == Std::kNumShortTZ;
        if (!short_tz) {
          if (colon) b += ':';
          AppendInt(b, zone % 60, 2);
        }
        if (c.std == Std::kISO8601SecondsTZ || c.std == Std::kNumSecondsTz ||
            c.std == Std::kNumColonSecondsTZ || c.std == Std::kISO8601ColonSecondsTZ) {
          if (colon) b += ':';
          AppendInt(b, absoffset % 60, 2);
        }
        break;
      }
      case Std::kFrac0:
      case Std::kFrac9: {
        std::string digits = std::to_string(nanos);
        digits.insert(0, 9 - digits.size(), '0');
        digits.resize(c.frac_digits > 9 ? 9 : c.frac_digits);
        if (c.std == Std::kFrac9) {
          while (!digits.empty() && digits.back() == '0') digits.pop_back();
          if (digits.empty()) break;
        }
        b += c.frac_sep;
        b += digits;
        break;
      }
    }
  }
  return b;
}

std::string GoTimeString(const GoTime& t) {
  return FormatGoTime(t, "2006-01-02 15:04:05.999999999 -0700 MST");
}

absl::StatusOr<GoTime> ParseGoTime(std::string_view layout, std::string_view value_in,
                                   absl::TimeZone zone) {
  std::string_view value = value_in;
  int64_t year = 0;
  int month = -1, day = -1, yday = -1, hour = 0, min = 0, sec = 0;
  int64_t nsec = 0;
  bool pm_set = false, am_set = false, utc = false;
  int zone_offset = std::numeric_limits<int>::min();
  std::string zone_name;
  size_t pos = 0;
  while (true) {
    Chunk c = NextStd(layout, pos);
    std::string_view prefix = layout.substr(pos, c.start - pos);
    // Literal text: a space in the layout matches one or more spaces in the value.
    while (!prefix.empty()) {
      if (prefix[0] == ' ') {
        if (!value.empty() && value[0] != ' ') return ParseError(layout, value_in, prefix, value);
        while (!prefix.empty() && prefix[0] == ' ') prefix.remove_prefix(1);
        while (!value.empty() && value[0] == ' ') value.remove_prefix(1);
        continue;
      }
      if (value.empty() || value[0] != prefix[0])
        return ParseError(layout, value_in, layout.substr(pos, c.start - pos), value);
      prefix.remove_prefix(1);
      value.remove_prefix(1);
    }
    if (c.std == Std::kNone) {
      if (!value.empty())
        return ParseError(layout, value_in, "", "",
                          absl::StrCat(": extra text: ", internal::GoQuote(value)));
      break;
    }
    std::string_view elem = layout.substr(c.start, c.len);
    pos = c.start + c.len;
    std::string_view hold = value;
    bool ok = true;
    std::string range_err;
    switch (c.std) {
      case Std::kNone:
        break;
      case Std::kYear: {
        int y;
        ok = value.size() >= 2 && GetNum(value, true, &y);
        if (ok) year = y >= 69 ? y + 1900 : y + 2000;
        break;
      }
      case Std::kLongYear:
        ok = value.size() >= 4 && IsDigitAt(value, 0) && IsDigitAt(value, 1) &&
             IsDigitAt(value, 2) && IsDigitAt(value, 3);
        if (ok) {
          year = std::atoi(std::string(value.substr(0, 4)).c_str());
          value.remove_prefix(4);
        }
        break;
      case Std::kMonth:
      case Std::kLongMonth: {
        int m = Lookup(value, kLongMonths, 12, c.std == Std::kMonth ? 3 : 0);
        ok = m >= 0;
        month = m + 1;
        break;
      }
      case Std::kNumMonth:
      case Std::kZeroMonth:
        ok = GetNum(value, c.std == Std::kZeroMonth, &month);
        if (ok && (month <= 0 || month > 12)) range_err = "month";
        break;
      case Std::kWeekDay:
      case Std::kLongWeekDay:
        ok = Lookup(value, kLongDays, 7, c.std == Std::kWeekDay ? 3 : 0) >= 0;
        break;
      case Std::kDay:
      case Std::kUnderDay:
      case Std::kZeroDay:
        if (c.std == Std::kUnderDay && !value.empty() && value[0] == ' ') value.remove_prefix(1);
        ok = GetNum(value, c.std == Std::kZeroDay, &day);
        break;
      case Std::kUnderYearDay:
      case Std::kZeroYearDay:
        for (int i = 0; i < 2 && c.std == Std::kUnderYearDay && !value.empty() && value[0] == ' ';
             ++i)
          value.remove_prefix(1);
        ok = GetNum3(value, c.std == Std::kZeroYearDay, &yday);
        if (ok && (yday < 1 || yday > 366)) range_err = "day-of-year";
        break;
      case Std::kHour:
        ok = GetNum(value, false, &hour);
        if (ok && (hour < 0 || hour >= 24)) range_err = "hour";
        break;
      case Std::kHour12:
      case Std::kZeroHour12:
        ok = GetNum(value, c.std == Std::kZeroHour12, &hour);
        if (ok && (hour < 0 || hour > 12)) range_err = "hour";
        break;
      case Std::kMinute:
      case Std::kZeroMinute:
        ok = GetNum(value, c.std == Std::kZeroMinute, &min);
        if (ok && (min < 0 || min >= 60)) range_err = "minute";
        break;
      case Std::kSecond:
      case Std::kZeroSecond: {
        ok = GetNum(value, c.std == Std::kZeroSecond, &sec);
        if (!ok) break;
        if (sec < 0 || sec >= 60) {
          range_err = "second";
          break;
        }
        // A fraction after the seconds is accepted even when the layout has none.
        if (value.size() >= 2 && (value[0] == '.' || value[0] == ',') && IsDigitAt(value, 1)) {
          Chunk next = NextStd(layout, pos);
          if (next.start == pos && (next.std == Std::kFrac0 || next.std == Std::kFrac9)) break;
          size_t n = 2;
          while (IsDigitAt(value, n)) ++n;
          std::string frac(value.substr(1, std::min<size_t>(n - 1, 9)));
          frac.append(9 - frac.size(), '0');
          nsec = std::atoll(frac.c_str());
          value.remove_prefix(n);
        }
        break;
      }
      case Std::kPM:
      case Std::kpm: {
        std::string_view p = value.substr(0, 2);
        bool upper = c.std == Std::kPM;
        ok = value.size() >= 2;
        if (ok && p == (upper ? "PM" : "pm"))
          pm_set = true;
        else if (ok && p == (upper ? "AM" : "am"))
          am_set = true;
        else
          ok = false;
        if (ok) value.remove_prefix(2);
        break;
      }
      case Std::kISO8601TZ:
      case Std::kISO8601ColonTZ:
      case Std::kISO8601SecondsTZ:
      case Std::kISO8601ShortTZ:
      case Std::kISO8601ColonSecondsTZ:
      case Std::kNumTZ:
      case Std::kNumShortTZ:
      case Std::kNumColonTZ:
      case Std::kNumSecondsTz:
      case Std::kNumColonSecondsTZ: {
        bool iso = c.std == Std::kISO8601TZ || c.std == Std::kISO8601ColonTZ ||
                   c.std == Std::kISO8601SecondsTZ || c.std == Std::kISO8601ShortTZ ||
                   c.std == Std::kISO8601ColonSecondsTZ;
        if (iso && !value.empty() && value[0] == 'Z') {
          value.remove_prefix(1);
          utc = true;
          break;
        }
        bool colon = c.std == Std::kISO8601ColonTZ || c.std == Std::kNumColonTZ ||
                     c.std == Std::kISO8601ColonSecondsTZ || c.std == Std::kNumColonSecondsTZ;
        bool seconds = c.std == Std::kISO8601SecondsTZ || c.std == Std::kNumSecondsTz ||
                       c.std == Std::kISO8601ColonSecondsTZ || c.std == Std::kNumColonSecondsTZ;
        bool short_tz = c.std == Std::kISO8601ShortTZ || c.std == Std::kNumShortTZ;
        if (value.empty() || (value[0] != '+' && value[0] != '-')) {
          ok = false;
          break;
        }
        char sign = value[0];
        value.remove_prefix(1);
        int hh = 0, mm = 0, ss = 0;
        ok = GetNum(value, true, &hh);
        if (ok && !short_tz) {
          if (colon) ok = !value.empty() && value[0] == ':' && (value.remove_prefix(1), true);
          ok = ok && GetNum(value, true, &mm);
        }
        if (ok && seconds) {
          if (colon) ok = !value.empty() && value[0] == ':' && (value.remove_prefix(1), true);
          ok = ok && GetNum(value, true, &ss);
        }
        if (ok && (hh > 24 || mm > 60 || ss > 60)) range_err = "time zone offset";
        zone_offset = (hh * 3600 + mm * 60 + ss) * (sign == '-' ? -1 : 1);
        break;
      }
      case Std::kTZ: {
        if (value.substr(0, 3) == "UTC") {
          value.remove_prefix(3);
          utc = true;
          break;
        }
        size_t n = ZoneAbbrevLen(value);
        ok = n > 0;
        if (ok) {
          zone_name = std::string(value.substr(0, n));
          value.remove_prefix(n);
        }
        break;
      }
      case Std::kFrac0: {
        size_t ndigit = 1 + c.frac_digits;
        ok = value.size() >= ndigit && (value[0] == '.' || value[0] == ',');
        for (size_t i = 1; ok && i < ndigit; ++i) ok = IsDigitAt(value, i);
        if (ok) {
          std::string frac(value.substr(1, std::min<size_t>(ndigit - 1, 9)));
          frac.append(9 - frac.size(), '0');
          nsec = std::atoll(frac.c_str());
          value.remove_prefix(ndigit);
        }
        break;
      }
      case Std::kFrac9: {
        if (value.size() < 2 || (value[0] != '.' && value[0] != ',') || !IsDigitAt(value, 1))
          break;  // Optional fraction absent.
        size_t n = 1;
        while (IsDigitAt(value, n)) ++n;
        std::string frac(value.substr(1, std::min<size_t>(n - 1, 9)));
        frac.append(9 - frac.size(), '0');
        nsec = std::atoll(frac.c_str());
        value.remove_prefix(n);
        break;
      }
    }
    if (!range_err.empty())
      return ParseError(layout, value_in, "", "", absl::StrCat(": ", range_err, " out of range"));
    if (!ok) return ParseError(layout, value_in, elem, hold);
  }
  if (pm_set && hour < 12) hour += 12;
  if (am_set && hour == 12) hour = 0;
  if (yday >= 0) {
    absl::CivilDay d = absl::CivilDay(year, 1, 1) + (yday - 1);
    if (d.year() != year) return ParseError(layout, value_in, "", "", ": day-of-year out of range");
    if (month >= 0 && month != d.month())
      return ParseError(layout, value_in, "", "", ": day-of-year does not match month");
    if (day >= 0 && day != d.day())
      return ParseError(layout, value_in, "", "", ": day-of-year does not match day");
    month = d.month();
    day = d.day();
  }
  if (month < 0) month = 1;
  if (day < 0) day = 1;
  if (day < 1 || day > DaysIn(month, year))
    return ParseError(layout, value_in, "", "", ": day out of range");
  absl::CivilSecond civil(year, month, day, hour, min, sec);
  absl::Duration frac = absl::Nanoseconds(nsec);
  if (utc) {
    return GoTime{absl::FromCivil(civil, absl::UTCTimeZone()) + frac, absl::UTCTimeZone()};
  }
  if (zone_offset != std::numeric_limits<int>::min()) {
    absl::Time t = absl::FromCivil(civil, absl::UTCTimeZone()) - absl::Seconds(zone_offset) + frac;
    if (zone.At(t).offset == zone_offset) return GoTime{t, zone};
    return GoTime{t, absl::FixedTimeZone(zone_offset)};
  }
  if (!zone_name.empty()) {
    // A known abbreviation of `zone` at that time keeps the zone; others get offset 0 (Go).
    absl::Time guess = absl::FromCivil(civil, zone);
    absl::TimeZone::CivilInfo ci = zone.At(guess);
    if (ci.zone_abbr && zone_name == ci.zone_abbr) return GoTime{guess + frac, zone};
    int offset = 0;
    if (zone_name.size() > 3 && zone_name.substr(0, 3) == "GMT")
      offset = std::atoi(zone_name.c_str() + 3) * 3600;
    return GoTime{absl::FromCivil(civil, absl::UTCTimeZone()) + frac,
                  offset == 0 ? absl::UTCTimeZone() : absl::FixedTimeZone(offset)};
  }
  return GoTime{absl::FromCivil(civil, zone) + frac, zone};
}

}  // namespace optimus::tmpl
