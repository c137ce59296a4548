// libFuzzer target: any bytes as a cron spec; a parsed schedule must answer Next/Prev sanely.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "absl/time/time.h"
#include "optimus/schedule/cron.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view spec(reinterpret_cast<const char*>(data), size);
  auto schedule = optimus::schedule::CronSchedule::Parse(spec);
  if (!schedule.ok()) return 0;
  const absl::Time t = absl::FromUnixSeconds(1700000000);
  const absl::TimeZone tz = absl::UTCTimeZone();
  if (auto next = schedule->Next(t, tz); next.has_value() && *next <= t) std::abort();
  if (auto prev = schedule->Prev(t, tz); prev.has_value() && *prev >= t) std::abort();
  return 0;
}
