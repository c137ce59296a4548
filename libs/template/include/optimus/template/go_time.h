// Go time layouts ("2006-01-02T15:04:05Z07:00") and durations ("-24h", "1h30m") on absl time.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "optimus/template/value.h"

namespace optimus::tmpl {

inline constexpr std::string_view kRfc3339 = "2006-01-02T15:04:05Z07:00";
inline constexpr std::string_view kIsoDate = "2006-01-02";

// time.Time.Format: the layout's reference elements (2006 06 01 1 Jan January 02 2 _2 002 15
// 03 3 04 4 05 5 PM pm MST -0700 -07:00 -07 Z0700 Z07:00 Z07 .000 .999 ,000 Mon Monday) are
// replaced by t's fields in t.zone; everything else is copied.
std::string FormatGoTime(const GoTime& t, std::string_view layout);

// time.ParseInLocation: parses value by layout. Without a zone in the value the time is in
// `zone`; with an offset the time keeps that offset (or `zone` when it has the same offset
// then); "Z" means UTC. Errors follow Go's wording: parsing time "x" as "layout": cannot
// parse "rest" as "elem".
absl::StatusOr<GoTime> ParseGoTime(std::string_view layout, std::string_view value,
                                   absl::TimeZone zone);

// Time.String(): "2006-01-02 15:04:05.999999999 -0700 MST".
std::string GoTimeString(const GoTime& t);

}  // namespace optimus::tmpl
