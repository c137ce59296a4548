// Tests for the window maths: every example of reference §4.3 for v1, v2 and v3, plus edges.
#include "optimus/schedule/window.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "optimus/schedule/time_util.h"

namespace optimus::schedule {
namespace {

absl::Time T(const char* rfc3339) { return *ParseRfc3339(rfc3339); }

WindowSpec V3(std::string size, std::string shift_by = "", std::string truncate_to = "",
              std::string location = "") {
  WindowSpec s;
  s.version = 3;
  s.size = std::move(size);
  s.shift_by = std::move(shift_by);
  s.truncate_to = std::move(truncate_to);
  s.location = std::move(location);
  return s;
}

WindowSpec Legacy(int version, std::string truncate_to, std::string offset, std::string size) {
  WindowSpec s;
  s.version = version;
  s.truncate_to = std::move(truncate_to);
  s.offset = std::move(offset);
  s.size = std::move(size);
  return s;
}

// "DSTART .. DEND" as the templates would see them.
std::string Window(const WindowSpec& spec, const char* scheduled_at) {
  auto v = Compute(spec, T(scheduled_at));
  if (!v.ok()) return "error: " + std::string(v.status().message());
  return v->dstart + " .. " + v->dend;
}

std::string Error(const WindowSpec& spec) {
  absl::Status s = ValidateWindow(spec);
  return s.ok() ? "<ok>" : std::string(s.message());
}

constexpr char kRef[] = "2023-03-07T02:00:00Z";  // a Tuesday

// ---- v3: reference §4.3 examples --------------------------------------------------------

TEST(WindowV3, ReferenceExamples) {
  EXPECT_EQ(Window(V3("1d"), kRef), "2023-03-06T00:00:00Z .. 2023-03-07T00:00:00Z");
  EXPECT_EQ(Window(V3("1d", "-1d"), kRef), "2023-03-05T00:00:00Z .. 2023-03-06T00:00:00Z");
  EXPECT_EQ(Window(V3("24h"), kRef), "2023-03-06T02:00:00Z .. 2023-03-07T02:00:00Z");
  EXPECT_EQ(Window(V3("1M"), kRef), "2023-02-01T00:00:00Z .. 2023-03-01T00:00:00Z");
  EXPECT_EQ(Window(V3("1d", "-1d", "h", "Asia/Jakarta"), "2023-12-01T03:00:00Z"),
            "2023-11-29T10:00:00+07:00 .. 2023-11-30T10:00:00+07:00");
}

TEST(WindowV3, EmptyWindowIsTheScheduledTime) {
  EXPECT_EQ(Window(V3(""), kRef), "2023-03-07T02:00:00Z .. 2023-03-07T02:00:00Z");
  EXPECT_EQ(Window(V3("None", "None", "None"), kRef),
            "2023-03-07T02:00:00Z .. 2023-03-07T02:00:00Z");
}

TEST(WindowV3, TruncationDefaultsToTheUnitOfSize) {
  EXPECT_EQ(Window(V3("1w"), kRef), "2023-02-27T00:00:00Z .. 2023-03-06T00:00:00Z");  // Monday
  EXPECT_EQ(Window(V3("1w"), "2023-03-12T23:00:00Z"),  // Sunday belongs to the week before
            "2023-02-27T00:00:00Z .. 2023-03-06T00:00:00Z");
  EXPECT_EQ(Window(V3("1y"), kRef), "2022-01-01T00:00:00Z .. 2023-01-01T00:00:00Z");
  EXPECT_EQ(Window(V3("2h"), "2023-03-07T02:45:00Z"),
            "2023-03-07T00:00:00Z .. 2023-03-07T02:00:00Z");
  EXPECT_EQ(Window(V3("1d", "", "None"), kRef), "2023-03-06T02:00:00Z .. 2023-03-07T02:00:00Z");
  EXPECT_EQ(Window(V3("1d", "", "M"), kRef), "2023-02-28T00:00:00Z .. 2023-03-01T00:00:00Z");
  EXPECT_EQ(Window(V3("", "", "d"), kRef), "2023-03-07T00:00:00Z .. 2023-03-07T00:00:00Z");
}

TEST(WindowV3, CalendarArithmeticUsesGoNormalisation) {
  // Mar 31 minus one month is "Feb 31", which Go normalises to Mar 3.
  EXPECT_EQ(Window(V3("1M", "", "d"), "2023-03-31T05:00:00Z"),
            "2023-03-03T00:00:00Z .. 2023-03-31T00:00:00Z");
  // The size is taken back from the shifted end (Optimus: size.SubtractFrom(end)).
  EXPECT_EQ(Window(V3("1M", "-1d"), "2023-03-07T00:00:00Z"),
            "2023-01-28T00:00:00Z .. 2023-02-28T00:00:00Z");
  EXPECT_EQ(Window(V3("1d", "2h"), kRef), "2023-03-06T02:00:00Z .. 2023-03-07T02:00:00Z");
}

TEST(WindowV3, DaysFollowTheLocalCalendarAcrossDst) {
  // 2023-03-26 in Berlin has 23 hours: 1d is the calendar day, 24h is 24 hours.
  EXPECT_EQ(Window(V3("1d", "", "", "Europe/Berlin"), "2023-03-27T12:00:00Z"),
            "2023-03-26T00:00:00+01:00 .. 2023-03-27T00:00:00+02:00");
  EXPECT_EQ(Window(V3("24h", "", "d", "Europe/Berlin"), "2023-03-27T12:00:00Z"),
            "2023-03-25T23:00:00+01:00 .. 2023-03-27T00:00:00+02:00");
  EXPECT_EQ(Window(V3("1d", "", "", "America/New_York"), "2023-11-06T12:00:00Z"),
            "2023-11-05T00:00:00-04:00 .. 2023-11-06T00:00:00-05:00");
}

TEST(WindowV3, ExtrasAreInTheWindowZoneAndUtc) {
  auto v = *Compute(V3("1d", "-1d", "h", "Asia/Jakarta"), T("2023-12-01T03:00:00Z"));
  EXPECT_EQ(*v.start_date, "2023-11-29");
  EXPECT_EQ(*v.end_date, "2023-11-30");
  EXPECT_EQ(*v.schedule_time, "2023-12-01T03:00:00Z");
  EXPECT_EQ(*v.schedule_date, "2023-12-01");
  EXPECT_EQ(*v.execution_time, "2023-12-01 03:00:00");
  EXPECT_EQ(v.interval.start, T("2023-11-29T03:00:00Z"));
  EXPECT_EQ(v.interval.end, T("2023-11-30T03:00:00Z"));
  // Near midnight the local date differs from the UTC date.
  auto late = *Compute(V3("1d", "", "", "Asia/Jakarta"), T("2023-12-01T18:00:00Z"));
  EXPECT_EQ(*late.start_date, "2023-12-01");
  EXPECT_EQ(*late.end_date, "2023-12-02");
  EXPECT_EQ(*late.schedule_date, "2023-12-01");
}

TEST(WindowV3, Validation) {
  EXPECT_EQ(Error(V3("1d", "-1d", "h", "Asia/Jakarta")), "<ok>");
  EXPECT_EQ(Error(V3("-1d")), "window v3 size \"-1d\": size cannot be negative");
  EXPECT_NE(Error(V3("0")).find("window size \"0\""), std::string::npos);
  EXPECT_NE(Error(V3("24h30m")).find("window size \"24h30m\""), std::string::npos);
  EXPECT_NE(Error(V3("1d", "1.5d")).find("window shift_by \"1.5d\""), std::string::npos);
  EXPECT_EQ(Error(V3("1d", "", "m")),
            "window v3 truncate_to \"m\": use one of h, d, w, M, y, None, or leave it empty for "
            "the unit of size");
  EXPECT_NE(Error(V3("1d", "", "", "Asia/Atlantis")).find("unknown time zone \"Asia/Atlantis\""),
            std::string::npos);
  WindowSpec with_offset = V3("1d");
  with_offset.offset = "not even parsed";  // deprecated for v3 and ignored
  EXPECT_EQ(Error(with_offset), "<ok>");
  WindowSpec bad_version = V3("1d");
  bad_version.version = 4;
  EXPECT_EQ(Error(bad_version), "window version 4 is not supported: use 1, 2 or 3");
  WindowSpec preset = V3("");
  preset.preset = "yesterday";
  EXPECT_EQ(ComputeInterval(preset, T(kRef)).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// ---- v2 -------------------------------------------------------------------------------

TEST(WindowV2, ReferenceExamples) {
  EXPECT_EQ(Window(Legacy(2, "d", "-24h", "24h"), kRef),
            "2023-03-05T00:00:00Z .. 2023-03-06T00:00:00Z");
  EXPECT_EQ(Window(Legacy(2, "M", "-1M", "1M"), kRef),
            "2023-01-01T00:00:00Z .. 2023-02-01T00:00:00Z");
}

TEST(WindowV2, Truncation) {
  EXPECT_EQ(Window(Legacy(2, "h", "", "1h"), "2023-03-07T02:45:00Z"),
            "2023-03-07T01:00:00Z .. 2023-03-07T02:00:00Z");
  EXPECT_EQ(Window(Legacy(2, "w", "", "168h"), kRef),
            "2023-02-27T00:00:00Z .. 2023-03-06T00:00:00Z");
  EXPECT_EQ(Window(Legacy(2, "w", "", "168h"), "2023-03-12T10:00:00Z"),  // Sunday
            "2023-02-27T00:00:00Z .. 2023-03-06T00:00:00Z");
  EXPECT_EQ(Window(Legacy(2, "", "", "24h"), kRef), "2023-03-06T02:00:00Z .. 2023-03-07T02:00:00Z");
  // The day boundary is UTC's whatever zone the scheduled time was written in.
  EXPECT_EQ(Window(Legacy(2, "d", "", "24h"), "2023-03-07T05:00:00+07:00"),
            "2023-03-05T00:00:00Z .. 2023-03-06T00:00:00Z");
}

TEST(WindowV2, EmptySizeAndMonthOffsets) {
  EXPECT_EQ(Window(Legacy(2, "d", "", ""), kRef), "2023-03-07T00:00:00Z .. 2023-03-07T00:00:00Z");
  // "-1M24h" is -1 month and -24h: the end moves back 24h, then a month.
  EXPECT_EQ(Window(Legacy(2, "d", "-1M24h", "24h"), kRef),
            "2023-02-05T00:00:00Z .. 2023-02-06T00:00:00Z");
  EXPECT_EQ(Window(Legacy(2, "M", "", "2M"), kRef), "2023-01-01T00:00:00Z .. 2023-03-01T00:00:00Z");
  // Calendar months with Go normalisation: Mar 31 minus one month is Mar 3.
  EXPECT_EQ(Window(Legacy(2, "d", "", "1M"), "2023-03-31T05:00:00Z"),
            "2023-03-03T00:00:00Z .. 2023-03-31T00:00:00Z");
}

TEST(WindowV2, Validation) {
  EXPECT_EQ(Error(Legacy(2, "y", "", "")),
            "window v2 truncate_to \"y\": use one of h, d, w, M or leave it empty");
  EXPECT_EQ(Error(Legacy(2, "d", "", "-24h")), "window v2 size \"-24h\": size cannot be negative");
  EXPECT_EQ(Error(Legacy(2, "d", "", "-1M")), "window v2 size \"-1M\": size cannot be negative");
  EXPECT_NE(Error(Legacy(2, "d", "1d", "")).find("window v2 offset \"1d\""), std::string::npos);
  EXPECT_NE(Error(Legacy(2, "d", "", "xM")).find("window v2 size \"xM\""), std::string::npos);
}

TEST(WindowV2, DurationSplit) {
  auto a = *ParseV2Duration("-1M24h", "offset");
  EXPECT_EQ(a.months, -1);
  EXPECT_EQ(a.rest, -absl::Hours(24));
  auto b = *ParseV2Duration("2M", "size");
  EXPECT_EQ(b.months, 2);
  EXPECT_EQ(b.rest, absl::ZeroDuration());
  auto c = *ParseV2Duration("36h", "size");
  EXPECT_EQ(c.months, 0);
  EXPECT_EQ(c.rest, absl::Hours(36));
  EXPECT_FALSE(ParseV2Duration("-1M-24h", "offset").ok());  // becomes "--24h", as in Optimus
}

// ---- v1 -------------------------------------------------------------------------------

TEST(WindowV1, ReferenceExamples) {
  // Weekly: the Sun-Sat week containing the reference (end = next Sunday, maybe in the future).
  EXPECT_EQ(Window(Legacy(1, "w", "", "168h"), "2023-03-08T02:00:00Z"),
            "2023-03-05T00:00:00Z .. 2023-03-12T00:00:00Z");
  // Monthly: DEND is the last day of the month at 00:00.
  EXPECT_EQ(Window(Legacy(1, "M", "0", "720h"), kRef),
            "2023-03-01T00:00:00Z .. 2023-03-31T00:00:00Z");
  EXPECT_EQ(Window(Legacy(1, "M", "-720h", "720h"), kRef),
            "2023-02-01T00:00:00Z .. 2023-02-28T00:00:00Z");
  // Defaults: size 24h, offset 0.
  EXPECT_EQ(Window(Legacy(1, "d", "", ""), kRef), "2023-03-06T00:00:00Z .. 2023-03-07T00:00:00Z");
  EXPECT_EQ(Window(Legacy(1, "d", "0", "24h"), kRef),
            "2023-03-06T00:00:00Z .. 2023-03-07T00:00:00Z");
}

TEST(WindowV1, WeeklyFromSundayMovesAWholeWeek) {
  EXPECT_EQ(Window(Legacy(1, "w", "", "168h"), "2023-03-12T02:00:00Z"),
            "2023-03-12T00:00:00Z .. 2023-03-19T00:00:00Z");
  EXPECT_EQ(Window(Legacy(1, "w", "", "168h"), "2023-03-11T23:00:00Z"),  // Saturday
            "2023-03-05T00:00:00Z .. 2023-03-12T00:00:00Z");
}

TEST(WindowV1, MonthTokensAndOtherTruncations) {
  EXPECT_EQ(Window(Legacy(1, "M", "-1M", "2M"), kRef),
            "2023-01-01T00:00:00Z .. 2023-02-28T00:00:00Z");
  EXPECT_EQ(Window(Legacy(1, "M", "", "24h"), kRef),
            "2023-03-01T00:00:00Z .. 2023-03-31T00:00:00Z");
  EXPECT_EQ(Window(Legacy(1, "d", "", "1M"), kRef), "2023-02-05T00:00:00Z .. 2023-03-07T00:00:00Z");
  EXPECT_EQ(Window(Legacy(1, "h", "-1h", "2h"), "2023-03-07T02:45:00Z"),
            "2023-03-06T23:00:00Z .. 2023-03-07T01:00:00Z");
  EXPECT_EQ(Window(Legacy(1, "", "", ""), kRef), "2023-03-06T02:00:00Z .. 2023-03-07T02:00:00Z");
}

TEST(WindowV1, DurationParsing) {
  EXPECT_EQ(*ParseV1Duration("1M", "size"), absl::Hours(720));
  EXPECT_EQ(*ParseV1Duration("-1M", "offset"), -absl::Hours(720));
  EXPECT_EQ(*ParseV1Duration("1M24h", "size"), absl::Hours(744));
  EXPECT_EQ(*ParseV1Duration("-1M24h", "offset"), -absl::Hours(696));  // Optimus quirk
  EXPECT_EQ(*ParseV1Duration("24h", "size"), absl::Hours(24));
  EXPECT_EQ(*ParseV1Duration("-45m", "offset"), -absl::Minutes(45));
  EXPECT_FALSE(ParseV1Duration("1d", "size").ok());
  EXPECT_NE(Error(Legacy(1, "d", "", "abc")).find("window v1 size \"abc\""), std::string::npos);
  EXPECT_EQ(Error(Legacy(1, "y", "", "")),
            "window v1 truncate_to \"y\": use one of h, d, w, M or leave it empty");
}

}  // namespace
}  // namespace optimus::schedule

namespace optimus::schedule {
namespace {

TEST(WindowIncremental, PreviousTickToScheduledTime) {
  const CronSchedule daily = *CronSchedule::Parse("0 2 * * *");
  const absl::TimeZone utc = absl::UTCTimeZone();
  auto at_tick = *ComputeIncremental(daily, T("2023-03-07T02:00:00Z"), utc);
  EXPECT_EQ(at_tick.start, T("2023-03-06T02:00:00Z"));
  EXPECT_EQ(at_tick.end, T("2023-03-07T02:00:00Z"));
  // Not on a tick: the end is the next tick.
  auto between = *ComputeIncremental(daily, T("2023-03-07T05:00:00Z"), utc);
  EXPECT_EQ(between.start, T("2023-03-07T02:00:00Z"));
  EXPECT_EQ(between.end, T("2023-03-08T02:00:00Z"));
  auto jakarta = *ComputeIncremental(daily, T("2023-03-07T19:00:00Z"), *LoadZone("Asia/Jakarta"));
  EXPECT_EQ(jakarta.start, T("2023-03-06T19:00:00Z"));
  EXPECT_EQ(jakarta.end, T("2023-03-07T19:00:00Z"));
  auto every =
      *ComputeIncremental(*CronSchedule::Parse("@every 6h"), T("2023-03-07T02:00:00Z"), utc);
  EXPECT_EQ(every.start, T("2023-03-06T20:00:00Z"));
  EXPECT_EQ(every.end, T("2023-03-07T02:00:00Z"));
  EXPECT_FALSE(
      ComputeIncremental(*CronSchedule::Parse("0 0 30 2 *"), T("2023-03-07T02:00:00Z"), utc).ok());
}

TEST(WindowBounds, WindowsOfMoreThanTenYearsOrShiftedFurtherAreRefused) {
  EXPECT_EQ(Error(V3("3660d")), "<ok>");
  EXPECT_THAT(Error(V3("99999999h")), ::testing::HasSubstr("at most 3660 days"));
  EXPECT_THAT(Error(Legacy(1, "", "0", "90000h")), ::testing::HasSubstr("3750 days long"));
  EXPECT_THAT(Error(V3("1d", "-8000d")), ::testing::HasSubstr("shifted more than 7320 days"));
  EXPECT_THAT(Window(V3("99999999h"), kRef), ::testing::HasSubstr("error: the window is"));
}

}  // namespace
}  // namespace optimus::schedule
