// Times a request may carry. Run times are kept in nanoseconds (int64, which ends in 2262) and
// windows reach back from them, so a time far outside the years schedules use would wrap to
// another date. Every google.protobuf.Timestamp of a request is checked where it comes in.
#pragma once

#include <google/protobuf/message.h>

#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace optimus::rpc {

// The times a request may name: from 1970-01-01T00:00:00Z to before 2200-01-01T00:00:00Z.
inline constexpr int64_t kEarliestSeconds = 0;
inline constexpr int64_t kLatestSeconds = 7258118400;  // 2200-01-01T00:00:00Z, excluded

// InvalidArgument naming `what` and the time when `t` is outside the supported years.
absl::Status CheckTime(absl::Time t, std::string_view what);

// Checks every google.protobuf.Timestamp in `message` (nested and repeated ones too): seconds
// within the supported years, nanos within 0..999,999,999. The error names the field's path,
// under `name` (a bare Timestamp is named `name`, or "the time").
absl::Status CheckTimestamps(const google::protobuf::Message& message, std::string_view name = "");

}  // namespace optimus::rpc
