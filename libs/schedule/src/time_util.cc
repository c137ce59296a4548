// Go-compatible time helpers: ParseDuration, AddDate, time.Date, Truncate and RFC3339 output.
#include "optimus/schedule/time_util.h"

#include <cmath>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace optimus::schedule {
namespace {

constexpr uint64_t kMaxDurationNs = uint64_t{1} << 63;

absl::Status InvalidDuration(std::string_view orig, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid Go duration \"", std::string(orig),
                                                 "\": ", std::string(why),
                                                 " (examples: 24h, -1h30m, 90m, 1.5h)"));
}

// Nanoseconds per Go unit, or 0 for an unknown unit.
uint64_t GoUnit(std::string_view u) {
  if (u == "ns") return 1;
  if (u == "us" || u == "\xC2\xB5s" || u == "\xCE\xBCs")
    return 1000;  // us, µs (U+00B5), μs (U+03BC)
  if (u == "ms") return 1000 * 1000;
  if (u == "s") return 1000 * 1000 * 1000;
  if (u == "m") return uint64_t{60} * 1000 * 1000 * 1000;
  if (u == "h") return uint64_t{3600} * 1000 * 1000 * 1000;
  return 0;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

absl::StatusOr<absl::Duration> ParseGoDuration(std::string_view text) {
  const std::string_view orig = text;
  std::string_view s = text;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return absl::ZeroDuration();
  if (s.empty()) return InvalidDuration(orig, "empty");
  uint64_t total = 0;
  while (!s.empty()) {
    if (!(s[0] == '.' || IsDigit(s[0]))) return InvalidDuration(orig, "expected a number");
    // Integer part.
    uint64_t v = 0;
    size_t i = 0;
    for (; i < s.size() && IsDigit(s[i]); ++i) {
      if (v > (kMaxDurationNs - 1) / 10) return InvalidDuration(orig, "number too large");
      v = v * 10 + static_cast<uint64_t>(s[i] - '0');
      if (v > kMaxDurationNs) return InvalidDuration(orig, "number too large");
    }
    const bool pre = i > 0;
    s.remove_prefix(i);
    // Fraction part: Go keeps consuming digits after it stops accumulating them.
    uint64_t f = 0;
    double scale = 1;
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      size_t j = 0;
      bool overflow = false;
      for (; j < s.size() && IsDigit(s[j]); ++j) {
        if (overflow) continue;
        if (f > (std::numeric_limits<int64_t>::max() - 9) / 10) {
          overflow = true;
          continue;
        }
        f = f * 10 + static_cast<uint64_t>(s[j] - '0');
        scale *= 10;
      }
      post = j > 0;
      s.remove_prefix(j);
    }
    if (!pre && !post) return InvalidDuration(orig, "expected digits around '.'");
    size_t u = 0;
    while (u < s.size() && s[u] != '.' && !IsDigit(s[u])) ++u;
    if (u == 0) return InvalidDuration(orig, "missing unit");
    const std::string_view unit_text = s.substr(0, u);
    s.remove_prefix(u);
    const uint64_t unit = GoUnit(unit_text);
    if (unit == 0) {
      return InvalidDuration(orig, absl::StrCat("unknown unit \"", std::string(unit_text),
                                                "\" (use ns, us, ms, s, m, h)"));
    }
    if (v > kMaxDurationNs / unit) return InvalidDuration(orig, "out of range");
    v *= unit;
    if (f > 0) {
      v += static_cast<uint64_t>(static_cast<double>(f) * (static_cast<double>(unit) / scale));
      if (v > kMaxDurationNs) return InvalidDuration(orig, "out of range");
    }
    total += v;
    if (total > kMaxDurationNs) return InvalidDuration(orig, "out of range");
  }
  if (neg) {
    if (total == kMaxDurationNs) return absl::Nanoseconds(std::numeric_limits<int64_t>::min());
    return -absl::Nanoseconds(static_cast<int64_t>(total));
  }
  if (total > kMaxDurationNs - 1) return InvalidDuration(orig, "out of range");
  return absl::Nanoseconds(static_cast<int64_t>(total));
}

absl::StatusOr<SizeUnit> ParseSizeUnit(std::string_view text) {
  if (text == "h") return SizeUnit::kHour;
  if (text == "d") return SizeUnit::kDay;
  if (text == "w") return SizeUnit::kWeek;
  if (text == "M") return SizeUnit::kMonth;
  if (text == "y") return SizeUnit::kYear;
  if (text == "None") return SizeUnit::kNone;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown unit \"", std::string(text), "\": use one of h, d, w, M, y or None"));
}

std::string SizeUnitName(SizeUnit unit) {
  switch (unit) {
    case SizeUnit::kHour:
      return "h";
    case SizeUnit::kDay:
      return "d";
    case SizeUnit::kWeek:
      return "w";
    case SizeUnit::kMonth:
      return "M";
    case SizeUnit::kYear:
      return "y";
    case SizeUnit::kNone:
      break;
  }
  return "None";
}

absl::StatusOr<SizeDuration> ParseSizeDuration(std::string_view text, std::string_view what) {
  if (text.empty() || (text.size() == 4 && (text[0] == 'N' || text[0] == 'n') &&
                       (text[1] == 'O' || text[1] == 'o') && (text[2] == 'N' || text[2] == 'n') &&
                       (text[3] == 'E' || text[3] == 'e'))) {
    return SizeDuration{};
  }
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "window ", std::string(what), " \"", std::string(text), "\": ", std::string(why),
        "; use a signed count and one unit of h, d, w, M, y (e.g. 1d, -2h, 1M) or None"));
  };
  const std::string_view digits = text.substr(0, text.size() - 1);
  std::string_view body = digits;
  bool neg = false;
  if (!body.empty() && body[0] == '-') {
    neg = true;
    body.remove_prefix(1);
  }
  if (body.empty()) return bad("missing count");
  int64_t count = 0;
  for (char c : body) {
    if (!IsDigit(c)) return bad("not a single-unit duration");
    if (count > (std::numeric_limits<int32_t>::max() - 9) / 10) return bad("count too large");
    count = count * 10 + (c - '0');
  }
  auto unit = ParseSizeUnit(text.substr(text.size() - 1));
  if (!unit.ok() || *unit == SizeUnit::kNone) return bad("unknown unit");
  return SizeDuration{neg ? -count : count, *unit};
}

absl::Time GoDate(const absl::CivilSecond& civil, const absl::TimeZone& tz) {
  // Go: treat the civil time as UTC, look up the zone offset at that instant, and if the
  // resulting instant falls outside that zone period use the offset in force there instead.
  const absl::Time as_utc = absl::FromCivil(civil, absl::UTCTimeZone());
  const int off1 = tz.At(as_utc).offset;
  int off = off1;
  if (off1 != 0) {
    const int off2 = tz.At(as_utc - absl::Seconds(off1)).offset;
    if (off2 != off1) off = off2;
  }
  return as_utc - absl::Seconds(off);
}

absl::Time GoAddDate(absl::Time t, const absl::TimeZone& tz, int64_t years, int64_t months,
                     int64_t days) {
  const absl::TimeZone::CivilInfo info = tz.At(t);
  const absl::CivilSecond cs = info.cs;
  const absl::CivilSecond moved(cs.year() + years, cs.month() + months, cs.day() + days, cs.hour(),
                                cs.minute(), cs.second());
  return GoDate(moved, tz) + info.subsecond;
}

absl::Time AddSizeDuration(absl::Time t, const absl::TimeZone& tz, const SizeDuration& d,
                           int sign) {
  const int64_t n = d.count * sign;
  switch (d.unit) {
    case SizeUnit::kHour:
      return t + absl::Hours(n);
    case SizeUnit::kDay:
      return GoAddDate(t, tz, 0, 0, n);
    case SizeUnit::kWeek:
      return GoAddDate(t, tz, 0, 0, 7 * n);
    case SizeUnit::kMonth:
      return GoAddDate(t, tz, 0, n, 0);
    case SizeUnit::kYear:
      return GoAddDate(t, tz, n, 0, 0);
    case SizeUnit::kNone:
      break;
  }
  return t;
}

absl::Time GoTruncate(absl::Time t, absl::Duration d) {
  // Go's zero time (0001-01-01 UTC) is a whole number of days before the Unix epoch, so
  // flooring relative to the epoch gives the same result for hours and days.
  return absl::UnixEpoch() + absl::Floor(t - absl::UnixEpoch(), d);
}

std::string FormatRfc3339(absl::Time t, const absl::TimeZone& tz) {
  std::string s = absl::FormatTime("%Y-%m-%d%ET%H:%M:%S%Ez", t, tz);
  constexpr std::string_view kZero = "+00:00";
  if (s.size() > kZero.size() && std::string_view(s).substr(s.size() - kZero.size()) == kZero) {
    s.replace(s.size() - kZero.size(), kZero.size(), "Z");
  }
  return s;
}

std::string FormatDate(absl::Time t, const absl::TimeZone& tz) {
  return absl::FormatTime("%Y-%m-%d", t, tz);
}

std::string FormatDateTime(absl::Time t, const absl::TimeZone& tz) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", t, tz);
}

absl::StatusOr<absl::Time> ParseRfc3339(std::string_view text) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, absl::string_view(text.data(), text.size()), &t, &err)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid RFC3339 time \"", std::string(text), "\": ", err,
                     " (expected e.g. 2023-03-07T02:00:00Z or 2023-03-07T09:00:00+07:00)"));
  }
  return t;
}

absl::StatusOr<absl::TimeZone> LoadZone(std::string_view name) {
  if (name.empty() || name == "UTC") return absl::UTCTimeZone();
  absl::TimeZone tz;
  if (!absl::LoadTimeZone(absl::string_view(name.data(), name.size()), &tz)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown time zone \"", std::string(name),
                     "\": use an IANA name such as Asia/Jakarta or Europe/Berlin (read from "
                     "/usr/share/zoneinfo)"));
  }
  return tz;
}

}  // namespace optimus::schedule
