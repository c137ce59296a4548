// Tests of Go time layouts (format and parse) and Go durations.
#include "optimus/template/go_time.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/time/civil_time.h"

namespace optimus::tmpl {
namespace {

using ::testing::HasSubstr;

absl::TimeZone Zone(const char* name) {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone(name, &tz)) << name;
  return tz;
}

// Go's reference time, 2006-01-02T15:04:05.123456789-07:00, in a zone without a name.
GoTime Reference() {
  absl::TimeZone z = absl::FixedTimeZone(-7 * 3600);
  return GoTime{
      absl::FromCivil(absl::CivilSecond(2006, 1, 2, 15, 4, 5), z) + absl::Nanoseconds(123456789),
      z};
}

TEST(GoTimeFormat, ReferenceElements) {
  GoTime t = Reference();
  EXPECT_EQ(FormatGoTime(t, "2006-01-02T15:04:05Z07:00"), "2006-01-02T15:04:05-07:00");
  EXPECT_EQ(FormatGoTime(t, "2006-01-02 15:04:05"), "2006-01-02 15:04:05");
  EXPECT_EQ(FormatGoTime(t, "Mon Jan _2 15:04:05 2006"), "Mon Jan  2 15:04:05 2006");
  EXPECT_EQ(FormatGoTime(t, "Monday, January 2 3:4:5 PM pm"), "Monday, January 2 3:4:5 PM pm");
  EXPECT_EQ(FormatGoTime(t, "06 01 1 02 03 04 05 002 __2"), "06 01 1 02 03 04 05 002   2");
  EXPECT_EQ(FormatGoTime(t, "05.000 05.999999999 05,00 05.9"), "05.123 05.123456789 05,12 05.1");
  EXPECT_EQ(FormatGoTime(t, "-0700 -07:00 -07 Z0700 Z07 -07:00:00"),
            "-0700 -07:00 -07 -0700 -07 -07:00:00");
  EXPECT_EQ(FormatGoTime(t, "MST"), "-0700");                // No zone name: Go prints the offset.
  EXPECT_EQ(FormatGoTime(t, "Janet Month"), "Janet Month");  // "Jan" + lower case is literal.
  EXPECT_EQ(GoTimeString(t), "2006-01-02 15:04:05.123456789 -0700 -0700");
}

TEST(GoTimeFormat, NamedZonesAndUtc) {
  absl::Time instant = absl::FromUnixSeconds(1678154400);  // 2023-03-07T02:00:00Z
  EXPECT_EQ(FormatGoTime({instant, absl::UTCTimeZone()}, std::string(kRfc3339)),
            "2023-03-07T02:00:00Z");
  EXPECT_EQ(FormatGoTime({instant, absl::UTCTimeZone()}, "MST 05.999"), "UTC 00");
  EXPECT_EQ(FormatGoTime({instant, Zone("Asia/Jakarta")}, "2006-01-02T15:04:05Z07:00 MST"),
            "2023-03-07T09:00:00+07:00 WIB");
  EXPECT_EQ(FormatGoTime({instant, Zone("Asia/Jakarta")}, "3PM"), "9AM");
  EXPECT_EQ(FormatGoTime({absl::FromUnixSeconds(0), absl::UTCTimeZone()}, "Mon 3 PM"), "Thu 12 AM");
}

TEST(GoTimeParse, Rfc3339AndOffsets) {
  auto t = ParseGoTime(kRfc3339, "2023-03-07T02:00:00Z", Zone("Asia/Jakarta"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(absl::ToUnixSeconds(t->instant), 1678154400);
  EXPECT_EQ(FormatGoTime(*t, "MST"), "UTC");
  t = ParseGoTime(kRfc3339, "2023-03-07T09:00:00+07:00", absl::UTCTimeZone());
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(absl::ToUnixSeconds(t->instant), 1678154400);
  EXPECT_EQ(FormatGoTime(*t, std::string(kRfc3339)), "2023-03-07T09:00:00+07:00");
  // The offset of the local zone keeps the local zone (and its name).
  t = ParseGoTime(kRfc3339, "2023-03-07T09:00:00+07:00", Zone("Asia/Jakarta"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(FormatGoTime(*t, "MST"), "WIB");
  // A fraction after the seconds is accepted although the layout has none.
  t = ParseGoTime(kRfc3339, "2023-03-07T02:00:00.5Z", absl::UTCTimeZone());
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(absl::ToUnixMillis(t->instant), 1678154400500);
}

TEST(GoTimeParse, LocalLayoutsAndNames) {
  absl::TimeZone jakarta = Zone("Asia/Jakarta");
  auto t = ParseGoTime("2006-01-02 15:04:05", "2023-03-07 09:00:00", jakarta);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(absl::ToUnixSeconds(t->instant), 1678154400);
  t = ParseGoTime("Jan _2, 2006 3:04PM", "mar  7, 2023 1:30PM", absl::UTCTimeZone());
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(FormatGoTime(*t, "2006-01-02 15:04"), "2023-03-07 13:30");
  t = ParseGoTime("Monday January 2 06 3pm", "Tuesday March 7 23 12am", absl::UTCTimeZone());
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(FormatGoTime(*t, "2006-01-02 15"), "2023-03-07 00");
  t = ParseGoTime("15:04", "10:30", absl::UTCTimeZone());
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(FormatGoTime(*t, "2006-01-02 15:04"), "0000-01-01 10:30");
  t = ParseGoTime("2006 002", "2024 060", absl::UTCTimeZone());
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(FormatGoTime(*t, "01-02"), "02-29");
  t = ParseGoTime("2006-01-02 MST", "2023-03-07 WIB", jakarta);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(FormatGoTime(*t, std::string(kRfc3339)), "2023-03-07T00:00:00+07:00");
}

TEST(GoTimeParse, ErrorsUseGoWording) {
  auto t = ParseGoTime("2006-01-02", "x", absl::UTCTimeZone());
  EXPECT_EQ(t.status().message(),
            "parsing time \"x\" as \"2006-01-02\": cannot parse \"x\" as \"2006\"");
  t = ParseGoTime(kRfc3339, "2023-03-07", absl::UTCTimeZone());
  EXPECT_EQ(t.status().message(),
            "parsing time \"2023-03-07\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"\" as "
            "\"T\"");
  EXPECT_EQ(ParseGoTime("2006-01-02", "2023-13-01", absl::UTCTimeZone()).status().message(),
            "parsing time \"2023-13-01\": month out of range");
  EXPECT_EQ(ParseGoTime("2006-01-02", "2023-02-29", absl::UTCTimeZone()).status().message(),
            "parsing time \"2023-02-29\": day out of range");
  EXPECT_EQ(ParseGoTime("2006-01-02", "2023-02-01x", absl::UTCTimeZone()).status().message(),
            "parsing time \"2023-02-01x\": extra text: \"x\"");
  EXPECT_THAT(ParseGoTime("15:04", "25:00", absl::UTCTimeZone()).status().message(),
              HasSubstr("hour out of range"));
}

}  // namespace
}  // namespace optimus::tmpl
