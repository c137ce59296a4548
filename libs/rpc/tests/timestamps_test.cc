// Times a request may carry (timestamps.h): any Timestamp in a request, however nested.
#include "optimus/rpc/timestamps.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "optimus/core/v1/dispatch.pb.h"

namespace optimus::rpc {
namespace {

using ::testing::HasSubstr;

TEST(Timestamps, TimesOfTheSupportedYearsPass) {
  core::v1::ExecuteJobRequest r;
  EXPECT_TRUE(CheckTimestamps(r).ok()) << "unset times are not checked";
  r.mutable_scheduled_at()->set_seconds(1709776800);  // 2024-03-07T02:00:00Z
  EXPECT_TRUE(CheckTimestamps(r).ok());
  r.mutable_scheduled_at()->set_seconds(kLatestSeconds - 1);
  EXPECT_TRUE(CheckTimestamps(r).ok());
  EXPECT_TRUE(CheckTime(absl::FromUnixSeconds(0), "t").ok());
}

TEST(Timestamps, TimesThatWouldWrapAreRefusedByTheirFieldsPath) {
  core::v1::ExecuteJobRequest r;
  r.mutable_scheduled_at()->set_seconds(253402300799);  // 9999-12-31T23:59:59Z
  EXPECT_THAT(CheckTimestamps(r).message(),
              HasSubstr("scheduled_at 9999-12-31T23:59:59Z is outside the supported times"));
  r.mutable_scheduled_at()->set_seconds(-9'000'000'000'000'000'000);
  EXPECT_EQ(CheckTimestamps(r).code(), absl::StatusCode::kInvalidArgument);
  r.mutable_scheduled_at()->set_seconds(0);
  r.mutable_scheduled_at()->set_nanos(-1);
  EXPECT_THAT(CheckTimestamps(r).message(), HasSubstr("scheduled_at: nanos -1"));

  core::v1::ListExecutionsResponse nested;
  nested.add_executions()->mutable_created_at()->set_seconds(10);
  nested.add_executions()->mutable_ended_at()->set_seconds(kLatestSeconds);
  EXPECT_THAT(CheckTimestamps(nested).message(),
              HasSubstr("executions[1].ended_at 2200-01-01T00:00:00Z is outside"));
  EXPECT_THAT(CheckTimestamps(nested.executions(1).ended_at(), "scheduled_at").message(),
              HasSubstr("scheduled_at 2200-01-01T00:00:00Z"));
  EXPECT_THAT(CheckTime(absl::FromUnixSeconds(-1), "reference_time").message(),
              HasSubstr("reference_time 1969-12-31T23:59:59Z is outside"));
}

}  // namespace
}  // namespace optimus::rpc
