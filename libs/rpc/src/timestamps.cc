// Times a request may carry (see timestamps.h).
#include "optimus/rpc/timestamps.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/timestamp.pb.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace optimus::rpc {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

std::string Shown(int64_t seconds, int32_t nanos) {
  // absl formats any year; a wrapped nanosecond count never reaches it.
  return absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(seconds), absl::UTCTimeZone()),
      nanos != 0 ? absl::StrCat(" (+", nanos, " ns)") : "");
}

absl::Status CheckIn(const Message& message, const std::string& path, int depth) {
  if (depth > 32) return absl::OkStatus();  // protobuf's own recursion limit is lower
  const auto* descriptor = message.GetDescriptor();
  const auto* reflection = message.GetReflection();
  if (descriptor->full_name() == "google.protobuf.Timestamp") {
    const std::string what = path.empty() ? "the time" : path;
    const int64_t seconds = reflection->GetInt64(message, descriptor->FindFieldByNumber(1));
    const int32_t nanos = reflection->GetInt32(message, descriptor->FindFieldByNumber(2));
    if (nanos < 0 || nanos > 999'999'999) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": nanos ", nanos, " is not within 0 to 999999999"));
    }
    if (seconds < kEarliestSeconds || seconds >= kLatestSeconds) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " ", Shown(seconds, nanos),
                       " is outside the supported times (1970-01-01 to 2199-12-31)"));
    }
    return absl::OkStatus();
  }
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    const std::string at = path.empty() ? field->name() : path + "." + field->name();
    if (field->is_repeated()) {
      const int n = reflection->FieldSize(message, field);
      for (int i = 0; i < n; ++i) {
        const std::string item = absl::StrCat(at, "[", i, "]");
        if (auto s = CheckIn(reflection->GetRepeatedMessage(message, field, i), item, depth + 1);
            !s.ok()) {
          return s;
        }
      }
    } else if (auto s = CheckIn(reflection->GetMessage(message, field), at, depth + 1); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckTime(absl::Time t, std::string_view what) {
  if (t >= absl::FromUnixSeconds(kEarliestSeconds) && t < absl::FromUnixSeconds(kLatestSeconds)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      std::string(what), " ", absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone()),
      " is outside the supported times (1970-01-01 to 2199-12-31)"));
}

absl::Status CheckTimestamps(const Message& message, std::string_view name) {
  return CheckIn(message, std::string(name), 0);
}

}  // namespace optimus::rpc
