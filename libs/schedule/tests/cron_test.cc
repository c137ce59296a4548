// Tests for CronSchedule: parsing errors, robfig day semantics, macros, @every and DST.
#include "optimus/schedule/cron.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "optimus/schedule/time_util.h"

namespace optimus::schedule {
namespace {

absl::Time T(const char* rfc3339) { return *ParseRfc3339(rfc3339); }
absl::TimeZone Zone(const char* name) { return *LoadZone(name); }
CronSchedule Cron(const char* spec) {
  auto c = CronSchedule::Parse(spec);
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}
std::string ParseError(const char* spec) {
  auto c = CronSchedule::Parse(spec);
  return c.ok() ? "<parsed>" : std::string(c.status().message());
}
std::string NextIn(const char* spec, const char* after, const char* zone) {
  auto n = Cron(spec).Next(T(after), Zone(zone));
  return n ? FormatRfc3339(*n, Zone(zone)) : "<none>";
}
std::string PrevIn(const char* spec, const char* before, const char* zone) {
  auto p = Cron(spec).Prev(T(before), Zone(zone));
  return p ? FormatRfc3339(*p, Zone(zone)) : "<none>";
}

TEST(CronParse, ErrorsNameFieldAndValue) {
  EXPECT_EQ(ParseError("0 25 * * *"), "cron \"0 25 * * *\": hour 25 out of range 0-23");
  EXPECT_EQ(ParseError("60 * * * *"), "cron \"60 * * * *\": minute 60 out of range 0-59");
  EXPECT_EQ(ParseError("0 0 0 * *"), "cron \"0 0 0 * *\": day-of-month 0 out of range 1-31");
  EXPECT_EQ(ParseError("0 0 * 13 *"), "cron \"0 0 * 13 *\": month 13 out of range 1-12");
  EXPECT_EQ(ParseError("0 0 * * 7"), "cron \"0 0 * * 7\": day-of-week 7 out of range 0-6");
  EXPECT_EQ(ParseError("0 0 * * 1-9"), "cron \"0 0 * * 1-9\": day-of-week 9 out of range 0-6");
  EXPECT_EQ(ParseError("0 0 * * FOO"),
            "cron \"0 0 * * FOO\": day-of-week value \"FOO\" is not a number or a name");
  EXPECT_EQ(ParseError("x * * * *"), "cron \"x * * * *\": minute value \"x\" is not a number");
  EXPECT_EQ(ParseError("5-1 * * * *"),
            "cron \"5-1 * * * *\": minute range 5-1 starts after it ends");
  EXPECT_EQ(ParseError("*/0 * * * *"),
            "cron \"*/0 * * * *\": minute step in \"*/0\" must be positive");
  EXPECT_NE(ParseError("*/x * * * *").find("minute step \"x\""), std::string::npos);
  EXPECT_NE(ParseError("1/2/3 * * * *").find("too many slashes"), std::string::npos);
  EXPECT_NE(ParseError("0 0 * *").find("expected exactly 5 fields"), std::string::npos);
  EXPECT_NE(ParseError("0 0 0 * * *").find("found 6"), std::string::npos);
  EXPECT_NE(ParseError("").find("empty schedule"), std::string::npos);
  EXPECT_NE(ParseError("@fortnightly").find("unknown descriptor"), std::string::npos);
  EXPECT_NE(ParseError("@every").find("needs a duration"), std::string::npos);
  EXPECT_NE(ParseError("@every 1d").find("unknown unit \"d\""), std::string::npos);
  EXPECT_NE(ParseError("@every -1h").find("must be positive"), std::string::npos);
  EXPECT_NE(ParseError("0 0 1,,2 * *").find("empty value"), std::string::npos);
}

TEST(CronParse, ListsRangesStepsNames) {
  const CronSchedule c = Cron("0,30 9-17/2 * jan-MAR Mon-fri");
  EXPECT_TRUE(c.Matches(absl::CivilMinute(2023, 3, 7, 9, 30)));  // Tuesday
  EXPECT_TRUE(c.Matches(absl::CivilMinute(2023, 3, 7, 17, 0)));
  EXPECT_FALSE(c.Matches(absl::CivilMinute(2023, 3, 7, 10, 0)));  // 10 not in 9-17/2
  EXPECT_FALSE(c.Matches(absl::CivilMinute(2023, 3, 11, 9, 0)));  // Saturday
  EXPECT_FALSE(c.Matches(absl::CivilMinute(2023, 4, 4, 9, 0)));   // April
  // "N/step" means N-max/step; "?" is "*".
  const CronSchedule s = Cron("50/5 * ? * ?");
  EXPECT_TRUE(s.Matches(absl::CivilMinute(2023, 1, 1, 0, 55)));
  EXPECT_FALSE(s.Matches(absl::CivilMinute(2023, 1, 1, 0, 5)));
  EXPECT_EQ(Cron("  0   2 * * *  ").spec(), "  0   2 * * *  ");
}

TEST(CronDays, DomAndDowBothRestrictedMeansEither) {
  // 2023-01-06 is a Friday; the 13th of January 2023 is also a Friday.
  EXPECT_EQ(NextIn("0 0 13 * FRI", "2023-01-01T00:00:00Z", "UTC"), "2023-01-06T00:00:00Z");
  EXPECT_EQ(NextIn("0 0 13 * FRI", "2023-01-06T00:00:00Z", "UTC"), "2023-01-13T00:00:00Z");
  EXPECT_EQ(NextIn("0 0 1 * 1", "2023-01-01T00:00:00Z", "UTC"), "2023-01-02T00:00:00Z");
  // A * (or */1) in either field means both must match.
  EXPECT_EQ(NextIn("0 0 13 * *", "2023-01-01T00:00:00Z", "UTC"), "2023-01-13T00:00:00Z");
  EXPECT_EQ(NextIn("0 0 * * FRI", "2023-01-07T00:00:00Z", "UTC"), "2023-01-13T00:00:00Z");
  EXPECT_EQ(NextIn("0 0 13 * */1", "2023-01-01T00:00:00Z", "UTC"), "2023-01-13T00:00:00Z");
  // A step above 1 makes * a restriction (robfig drops the star bit): day 13 OR even weekday.
  EXPECT_EQ(NextIn("0 0 13 * */2", "2023-01-01T00:00:00Z", "UTC"), "2023-01-03T00:00:00Z");
}

TEST(CronNext, BasicUtc) {
  EXPECT_EQ(NextIn("0 2 * * *", "2023-03-07T02:00:00Z", "UTC"), "2023-03-08T02:00:00Z");
  EXPECT_EQ(NextIn("0 2 * * *", "2023-03-07T01:59:59.5Z", "UTC"), "2023-03-07T02:00:00Z");
  EXPECT_EQ(NextIn("*/15 * * * *", "2023-03-07T02:00:00Z", "UTC"), "2023-03-07T02:15:00Z");
  EXPECT_EQ(NextIn("0 0 29 2 *", "2023-03-01T00:00:00Z", "UTC"), "2024-02-29T00:00:00Z");
  EXPECT_EQ(NextIn("0 0 30 2 *", "2023-03-01T00:00:00Z", "UTC"), "<none>");
  EXPECT_EQ(NextIn("59 23 31 12 *", "2023-12-31T23:59:00Z", "UTC"), "2024-12-31T23:59:00Z");
}

TEST(CronPrev, BasicUtc) {
  EXPECT_EQ(PrevIn("0 2 * * *", "2023-03-07T02:00:00Z", "UTC"), "2023-03-06T02:00:00Z");
  EXPECT_EQ(PrevIn("0 2 * * *", "2023-03-07T02:00:00.5Z", "UTC"), "2023-03-07T02:00:00Z");
  EXPECT_EQ(PrevIn("0 0 29 2 *", "2023-06-01T00:00:00Z", "UTC"), "2020-02-29T00:00:00Z");
  EXPECT_EQ(PrevIn("0 0 1 1 *", "2023-01-01T00:00:00Z", "UTC"), "2022-01-01T00:00:00Z");
  EXPECT_EQ(PrevIn("0 0 30 2 *", "2023-03-01T00:00:00Z", "UTC"), "<none>");
}

TEST(CronNext, NextAndPrevAreInverse) {
  const CronSchedule c = Cron("17 */3 * * 1-5");
  const absl::TimeZone tz = Zone("Europe/Berlin");
  absl::Time t = T("2023-03-20T00:00:00Z");
  for (int i = 0; i < 200; ++i) {
    const absl::Time n = *c.Next(t, tz);
    ASSERT_GT(n, t);
    EXPECT_EQ(*c.Prev(n + absl::Seconds(1), tz), n);
    EXPECT_EQ(*c.Next(*c.Prev(n, tz), tz), n);
    t = n;
  }
}

TEST(CronZone, AsiaJakartaHasNoDst) {
  EXPECT_EQ(NextIn("0 2 * * *", "2023-03-07T00:00:00Z", "Asia/Jakarta"),
            "2023-03-08T02:00:00+07:00");
  EXPECT_EQ(*Cron("0 2 * * *").Next(T("2023-03-07T00:00:00Z"), Zone("Asia/Jakarta")),
            T("2023-03-07T19:00:00Z"));
  EXPECT_EQ(PrevIn("0 2 * * *", "2023-03-07T19:00:00Z", "Asia/Jakarta"),
            "2023-03-07T02:00:00+07:00");
}

TEST(CronZone, NewYorkSpringForwardSkipsTheMissingHour) {
  // 2023-03-12 02:00 EST jumps to 03:00 EDT: 02:30 does not exist that day.
  EXPECT_EQ(NextIn("30 2 * * *", "2023-03-11T12:00:00Z", "America/New_York"),
            "2023-03-13T02:30:00-04:00");
  EXPECT_EQ(NextIn("0 * * * *", "2023-03-12T06:00:00Z", "America/New_York"),
            "2023-03-12T03:00:00-04:00");
  EXPECT_EQ(PrevIn("30 2 * * *", "2023-03-13T00:00:00Z", "America/New_York"),
            "2023-03-11T02:30:00-05:00");
  // Midnight daily runs are 23 hours apart across the jump.
  const CronSchedule daily = Cron("@daily");
  const absl::TimeZone ny = Zone("America/New_York");
  const absl::Time a = *daily.Next(T("2023-03-11T12:00:00Z"), ny);
  EXPECT_EQ(*daily.Next(a, ny) - a, absl::Hours(23));
}

TEST(CronZone, NewYorkFallBackRepeatsTheHour) {
  // 2023-11-05 02:00 EDT falls back to 01:00 EST: 01:30 happens twice (robfig fires twice).
  EXPECT_EQ(NextIn("30 1 * * *", "2023-11-05T04:00:00Z", "America/New_York"),
            "2023-11-05T01:30:00-04:00");
  EXPECT_EQ(NextIn("30 1 * * *", "2023-11-05T05:45:00Z", "America/New_York"),
            "2023-11-05T01:30:00-05:00");
  EXPECT_EQ(NextIn("30 1 * * *", "2023-11-05T06:30:00Z", "America/New_York"),
            "2023-11-06T01:30:00-05:00");
  EXPECT_EQ(PrevIn("30 1 * * *", "2023-11-05T06:40:00Z", "America/New_York"),
            "2023-11-05T01:30:00-05:00");
  EXPECT_EQ(PrevIn("30 1 * * *", "2023-11-05T06:29:00Z", "America/New_York"),
            "2023-11-05T01:30:00-04:00");
  EXPECT_EQ(NextIn("0 * * * *", "2023-11-05T05:00:00Z", "America/New_York"),
            "2023-11-05T01:00:00-05:00");
  EXPECT_EQ(NextIn("0 * * * *", "2023-11-05T06:00:00Z", "America/New_York"),
            "2023-11-05T02:00:00-05:00");
}

TEST(CronZone, EuropeBerlinTransitions) {
  // Spring: 2023-03-26 02:00 CET -> 03:00 CEST.
  EXPECT_EQ(NextIn("30 2 * * *", "2023-03-25T12:00:00Z", "Europe/Berlin"),
            "2023-03-27T02:30:00+02:00");
  // Autumn: 2023-10-29 03:00 CEST -> 02:00 CET, 02:30 happens twice.
  EXPECT_EQ(NextIn("30 2 * * *", "2023-10-29T00:00:00Z", "Europe/Berlin"),
            "2023-10-29T02:30:00+02:00");
  EXPECT_EQ(NextIn("30 2 * * *", "2023-10-29T00:30:00Z", "Europe/Berlin"),
            "2023-10-29T02:30:00+01:00");
  EXPECT_EQ(NextIn("30 2 * * *", "2023-10-29T01:30:00Z", "Europe/Berlin"),
            "2023-10-30T02:30:00+01:00");
  EXPECT_EQ(PrevIn("30 2 * * *", "2023-10-29T01:30:00Z", "Europe/Berlin"),
            "2023-10-29T02:30:00+02:00");
}

TEST(CronMacros, Descriptors) {
  const char* after = "2023-03-07T02:00:00Z";  // a Tuesday
  EXPECT_EQ(NextIn("@daily", after, "UTC"), "2023-03-08T00:00:00Z");
  EXPECT_EQ(NextIn("@midnight", after, "UTC"), "2023-03-08T00:00:00Z");
  EXPECT_EQ(NextIn("@hourly", after, "UTC"), "2023-03-07T03:00:00Z");
  EXPECT_EQ(NextIn("@weekly", after, "UTC"), "2023-03-12T00:00:00Z");
  EXPECT_EQ(NextIn("@monthly", after, "UTC"), "2023-04-01T00:00:00Z");
  EXPECT_EQ(NextIn("@yearly", after, "UTC"), "2024-01-01T00:00:00Z");
  EXPECT_EQ(NextIn("@annually", after, "UTC"), "2024-01-01T00:00:00Z");
  EXPECT_EQ(NextIn("@DAILY", after, "UTC"), "2023-03-08T00:00:00Z");
  EXPECT_EQ(NextIn("@daily", after, "Asia/Jakarta"), "2023-03-08T00:00:00+07:00");
}

TEST(CronEvery, ConstantDelay) {
  const CronSchedule c = Cron("@every 1h30m");
  EXPECT_TRUE(c.is_every());
  EXPECT_EQ(c.every(), absl::Minutes(90));
  EXPECT_FALSE(c.Matches(absl::CivilMinute(2023, 1, 1, 0, 0)));
  const absl::TimeZone utc = absl::UTCTimeZone();
  // robfig drops the sub-second part of the reference time.
  EXPECT_EQ(*c.Next(T("2023-03-07T02:00:00.5Z"), utc), T("2023-03-07T03:30:00Z"));
  EXPECT_EQ(*c.Prev(T("2023-03-07T02:00:00Z"), utc), T("2023-03-07T00:30:00Z"));
  EXPECT_EQ(*c.Next(*c.Prev(T("2023-03-07T02:00:00Z"), utc), utc), T("2023-03-07T02:00:00Z"));
  EXPECT_EQ(Cron("@every 500ms").every(), absl::Seconds(1));
  EXPECT_EQ(Cron("@every 1500ms").every(), absl::Seconds(1));
  EXPECT_EQ(Cron("@every 24h").every(), absl::Hours(24));
}

// Next/Prev chains must visit exactly the instants whose local minute matches, found here by
// walking every minute in absolute time across the 2023 DST transitions.
TEST(CronBruteForce, MatchesMinuteByMinuteWalkAcrossDst) {
  struct Range {
    const char* zone;
    const char* from;
  };
  const Range ranges[] = {{"America/New_York", "2023-03-11T00:00:00Z"},
                          {"America/New_York", "2023-11-04T00:00:00Z"},
                          {"Europe/Berlin", "2023-03-25T00:00:00Z"},
                          {"Europe/Berlin", "2023-10-28T00:00:00Z"},
                          {"Asia/Jakarta", "2023-03-25T00:00:00Z"}};
  for (const char* spec :
       {"30 1 * * *", "0 * * * *", "*/20 2 * * *", "30 2 * * *", "0 0 * * *", "15 1-3 * * 0"}) {
    const CronSchedule c = Cron(spec);
    for (const Range& r : ranges) {
      const absl::TimeZone tz = Zone(r.zone);
      const absl::Time from = T(r.from);
      const absl::Time to = from + absl::Hours(72);
      std::vector<absl::Time> expected;
      for (absl::Time t = from + absl::Minutes(1); t < to; t += absl::Minutes(1)) {
        if (c.Matches(absl::CivilMinute(tz.At(t).cs))) expected.push_back(t);
      }
      ASSERT_FALSE(expected.empty()) << spec << " " << r.zone;
      std::vector<absl::Time> forward;
      for (absl::Time t = *c.Next(from, tz); t < to; t = *c.Next(t, tz)) forward.push_back(t);
      EXPECT_EQ(forward, expected) << spec << " " << r.zone << " " << r.from;
      std::vector<absl::Time> backward;
      for (absl::Time t = *c.Prev(to, tz); t > from; t = *c.Prev(t, tz)) backward.push_back(t);
      std::reverse(backward.begin(), backward.end());
      EXPECT_EQ(backward, expected) << spec << " " << r.zone << " " << r.from;
    }
  }
}

TEST(CronZonePrefix, OverridesTheZoneArgument) {
  // robfig's own DST test cases, with the zone given in the spec.
  const CronSchedule c = Cron("TZ=America/New_York 30 2 11 Mar *");
  ASSERT_TRUE(c.zone().has_value());
  EXPECT_EQ(FormatRfc3339(*c.Next(T("2012-03-11T00:00:00-05:00"), absl::UTCTimeZone()),
                          Zone("America/New_York")),
            "2013-03-11T02:30:00-04:00");
  const CronSchedule d = Cron("CRON_TZ=America/New_York 30 1 4 Nov *");
  EXPECT_EQ(FormatRfc3339(*d.Next(T("2012-11-04T01:45:00-04:00"), absl::UTCTimeZone()),
                          Zone("America/New_York")),
            "2012-11-04T01:30:00-05:00");
  EXPECT_EQ(
      *Cron("CRON_TZ=Asia/Jakarta @daily").Next(T("2023-03-07T02:00:00Z"), absl::UTCTimeZone()),
      T("2023-03-07T17:00:00Z"));
  EXPECT_FALSE(Cron("0 2 * * *").zone().has_value());
  EXPECT_NE(ParseError("CRON_TZ=Nowhere/Land 0 2 * * *").find("unknown time zone \"Nowhere/Land\""),
            std::string::npos);
  EXPECT_NE(ParseError("TZ=UTC").find("nothing follows"), std::string::npos);
}

}  // namespace
}  // namespace optimus::schedule
