// Tests for the Go-compatible time helpers: durations, AddDate, time.Date, RFC3339.
#include "optimus/schedule/time_util.h"

#include <gtest/gtest.h>

namespace optimus::schedule {
namespace {

absl::Time T(const char* rfc3339) { return *ParseRfc3339(rfc3339); }
absl::TimeZone Zone(const char* name) { return *LoadZone(name); }

TEST(ParseGoDuration, AcceptsGoSyntax) {
  EXPECT_EQ(*ParseGoDuration("24h"), absl::Hours(24));
  EXPECT_EQ(*ParseGoDuration("-1h30m"), -absl::Minutes(90));
  EXPECT_EQ(*ParseGoDuration("90m"), absl::Minutes(90));
  EXPECT_EQ(*ParseGoDuration("1.5h"), absl::Minutes(90));
  EXPECT_EQ(*ParseGoDuration("0"), absl::ZeroDuration());
  EXPECT_EQ(*ParseGoDuration("-0"), absl::ZeroDuration());
  EXPECT_EQ(*ParseGoDuration("+5s"), absl::Seconds(5));
  EXPECT_EQ(*ParseGoDuration(".5s"), absl::Milliseconds(500));
  EXPECT_EQ(*ParseGoDuration("1.s"), absl::Seconds(1));
  EXPECT_EQ(*ParseGoDuration("1h2m3s4ms5us6ns"), absl::Hours(1) + absl::Minutes(2) +
                                                     absl::Seconds(3) + absl::Milliseconds(4) +
                                                     absl::Microseconds(5) + absl::Nanoseconds(6));
  EXPECT_EQ(*ParseGoDuration("3\xC2\xB5s"), absl::Microseconds(3));  // µs
  EXPECT_EQ(*ParseGoDuration("3\xCE\xBCs"), absl::Microseconds(3));  // μs
  EXPECT_EQ(*ParseGoDuration("2562047h"), absl::Hours(2562047));
}

TEST(ParseGoDuration, RejectsWhatGoRejects) {
  for (const char* bad :
       {"", "1", "1d", "h", ".", "-", "+", "1h 2m", "1..5h", "9999999999h", "2562048h", "1M"}) {
    auto d = ParseGoDuration(bad);
    EXPECT_FALSE(d.ok()) << bad;
  }
  EXPECT_EQ(ParseGoDuration("1d").status().message(),
            "invalid Go duration \"1d\": unknown unit \"d\" (use ns, us, ms, s, m, h) (examples: "
            "24h, -1h30m, 90m, 1.5h)");
  EXPECT_NE(ParseGoDuration("10").status().message().find("missing unit"), std::string::npos);
}

TEST(ParseSizeDuration, SingleUnit) {
  auto d = *ParseSizeDuration("1d", "size");
  EXPECT_EQ(d.count, 1);
  EXPECT_EQ(d.unit, SizeUnit::kDay);
  d = *ParseSizeDuration("-2h", "shift_by");
  EXPECT_EQ(d.count, -2);
  EXPECT_EQ(d.unit, SizeUnit::kHour);
  EXPECT_EQ(ParseSizeDuration("3w", "size")->unit, SizeUnit::kWeek);
  EXPECT_EQ(ParseSizeDuration("1M", "size")->unit, SizeUnit::kMonth);
  EXPECT_EQ(ParseSizeDuration("1y", "size")->unit, SizeUnit::kYear);
  EXPECT_EQ(ParseSizeDuration("0d", "size")->count, 0);
  EXPECT_EQ(ParseSizeDuration("", "size")->unit, SizeUnit::kNone);
  EXPECT_EQ(ParseSizeDuration("None", "size")->unit, SizeUnit::kNone);
  EXPECT_EQ(ParseSizeDuration("none", "size")->unit, SizeUnit::kNone);
}

TEST(ParseSizeDuration, RejectsOtherForms) {
  for (const char* bad : {"0", "1", "d", "1.5d", "1D", "1m", "1h30m", "--1d", "-d", "1 d", "24x"}) {
    EXPECT_FALSE(ParseSizeDuration(bad, "size").ok()) << bad;
  }
  EXPECT_NE(ParseSizeDuration("0", "size").status().message().find("window size \"0\""),
            std::string::npos);
}

TEST(ParseSizeUnit, Units) {
  EXPECT_EQ(*ParseSizeUnit("h"), SizeUnit::kHour);
  EXPECT_EQ(*ParseSizeUnit("None"), SizeUnit::kNone);
  EXPECT_FALSE(ParseSizeUnit("m").ok());
  EXPECT_FALSE(ParseSizeUnit("").ok());
  EXPECT_EQ(SizeUnitName(SizeUnit::kMonth), "M");
}

TEST(GoAddDate, NormalisesLikeGo) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  EXPECT_EQ(GoAddDate(T("2023-03-31T00:00:00Z"), utc, 0, -1, 0), T("2023-03-03T00:00:00Z"));
  EXPECT_EQ(GoAddDate(T("2024-01-31T10:00:00Z"), utc, 0, 1, 0), T("2024-03-02T10:00:00Z"));
  EXPECT_EQ(GoAddDate(T("2023-12-31T00:00:00Z"), utc, 0, 0, 1), T("2024-01-01T00:00:00Z"));
  EXPECT_EQ(GoAddDate(T("2024-02-29T00:00:00Z"), utc, 1, 0, 0), T("2025-03-01T00:00:00Z"));
  EXPECT_EQ(GoAddDate(T("2023-01-01T00:00:00.25Z"), utc, 0, 0, -1), T("2022-12-31T00:00:00.25Z"));
}

TEST(GoAddDate, KeepsLocalClockAcrossDst) {
  // A calendar day across the Berlin spring-forward is 23 hours long.
  const absl::TimeZone berlin = Zone("Europe/Berlin");
  EXPECT_EQ(GoAddDate(T("2023-03-26T00:00:00+01:00"), berlin, 0, 0, 1),
            T("2023-03-27T00:00:00+02:00"));
}

TEST(GoDate, ResolvesSkippedTimesLikeGo) {
  // Go's time.Date picks different sides of the gap depending on the sign of the offset.
  EXPECT_EQ(GoDate(absl::CivilSecond(2023, 3, 12, 2, 30, 0), Zone("America/New_York")),
            T("2023-03-12T06:30:00Z"));
  EXPECT_EQ(GoDate(absl::CivilSecond(2023, 3, 26, 2, 30, 0), Zone("Europe/Berlin")),
            T("2023-03-26T01:30:00Z"));
  // Repeated time: the first occurrence (daylight time).
  EXPECT_EQ(GoDate(absl::CivilSecond(2023, 11, 5, 1, 30, 0), Zone("America/New_York")),
            T("2023-11-05T05:30:00Z"));
  // Denormalised fields roll over like Go's.
  EXPECT_EQ(GoDate(absl::CivilSecond(2023, 3, 0, 0, 0, 0), absl::UTCTimeZone()),
            T("2023-02-28T00:00:00Z"));
}

TEST(GoTruncate, UsesUtcBoundaries) {
  EXPECT_EQ(GoTruncate(T("2023-03-07T09:45:10+07:00"), absl::Hours(24)), T("2023-03-07T00:00:00Z"));
  EXPECT_EQ(GoTruncate(T("2023-03-07T02:59:59Z"), absl::Hours(1)), T("2023-03-07T02:00:00Z"));
  EXPECT_EQ(GoTruncate(T("1969-12-31T23:30:00Z"), absl::Hours(24)), T("1969-12-31T00:00:00Z"));
}

TEST(Format, Rfc3339LikeGo) {
  const absl::Time t = T("2023-11-29T03:00:00.9Z");
  EXPECT_EQ(FormatRfc3339(t, absl::UTCTimeZone()), "2023-11-29T03:00:00Z");
  EXPECT_EQ(FormatRfc3339(t, Zone("Asia/Jakarta")), "2023-11-29T10:00:00+07:00");
  EXPECT_EQ(FormatRfc3339(t, Zone("America/New_York")), "2023-11-28T22:00:00-05:00");
  EXPECT_EQ(FormatRfc3339(t, Zone("Europe/London")), "2023-11-29T03:00:00Z");
  EXPECT_EQ(FormatDate(t, Zone("Asia/Jakarta")), "2023-11-29");
  EXPECT_EQ(FormatDateTime(t, absl::UTCTimeZone()), "2023-11-29 03:00:00");
}

TEST(ParseRfc3339, AcceptsOffsetsAndRejectsJunk) {
  EXPECT_EQ(T("2023-03-07T09:00:00+07:00"), T("2023-03-07T02:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2023-03-07").ok());
  EXPECT_FALSE(ParseRfc3339("yesterday").ok());
}

TEST(LoadZone, IanaNames) {
  EXPECT_TRUE(LoadZone("").ok());
  EXPECT_TRUE(LoadZone("Asia/Jakarta").ok());
  auto bad = LoadZone("Mars/Olympus");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("Mars/Olympus"), std::string::npos);
}

}  // namespace
}  // namespace optimus::schedule
