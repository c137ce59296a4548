// Tests of W3C trace-context ids and traceparent parsing.
#include "optimus/telemetry/trace.h"

#include <gtest/gtest.h>

#include <set>

namespace optimus::telemetry {
namespace {

TEST(TraceTest, NewIdsAreLowerHexOfTheRightLengthAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string trace = NewTraceId();
    EXPECT_TRUE(IsValidTraceId(trace)) << trace;
    EXPECT_TRUE(seen.insert(trace).second) << "duplicate " << trace;
  }
  std::string span = NewSpanId();
  EXPECT_EQ(span.size(), 16u);
  EXPECT_EQ(span.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(TraceTest, ParsesAValidTraceparent) {
  auto context = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(context.has_value());
  EXPECT_EQ(context->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(context->parent_id, "00f067aa0ba902b7");
  EXPECT_TRUE(context->sampled());
  auto unsampled = ParseTraceparent(" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00 ");
  ASSERT_TRUE(unsampled.has_value());
  EXPECT_FALSE(unsampled->sampled());
}

TEST(TraceTest, AcceptsFutureVersionsWithExtraFields) {
  auto context = ParseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra");
  ASSERT_TRUE(context.has_value());
  EXPECT_EQ(context->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST(TraceTest, RejectsInvalidTraceparents) {
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",       // no flags
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",    // upper case
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",    // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    // zero parent id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // forbidden version
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // v00 with extra
           "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",    // separators
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",    // not hex
       }) {
    EXPECT_FALSE(ParseTraceparent(bad).has_value()) << bad;
  }
}

TEST(TraceTest, FormatRoundTrips) {
  std::string trace = NewTraceId();
  std::string span = NewSpanId();
  std::string header = FormatTraceparent(trace, span, true);
  auto context = ParseTraceparent(header);
  ASSERT_TRUE(context.has_value()) << header;
  EXPECT_EQ(context->trace_id, trace);
  EXPECT_EQ(context->parent_id, span);
  EXPECT_TRUE(context->sampled());
}

TEST(TraceTest, ScopedTraceIdIsPerThread) {
  ScopedTraceId scope("main-thread");
  std::string seen_elsewhere = "unset";
  std::thread([&] { seen_elsewhere = CurrentTraceId(); }).join();
  EXPECT_EQ(CurrentTraceId(), "main-thread");
  EXPECT_EQ(seen_elsewhere, "");
}

}  // namespace
}  // namespace optimus::telemetry
