// Trace ids compatible with W3C Trace Context, and the per-thread trace id that logs carry.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace optimus::telemetry {

// A new trace id: 16 random bytes as 32 lowercase hex digits, never all zeros.
std::string NewTraceId();

// A new span (parent) id: 8 random bytes as 16 lowercase hex digits, never all zeros.
std::string NewSpanId();

// True for 32 lowercase hex digits that are not all zeros (the W3C rule for trace-id).
bool IsValidTraceId(std::string_view trace_id);

// The fields of a W3C `traceparent` header: version-traceid-parentid-flags.
struct TraceContext {
  std::string trace_id;   // 32 lowercase hex digits
  std::string parent_id;  // 16 lowercase hex digits
  std::uint8_t flags = 0;

  bool sampled() const { return (flags & 0x01) != 0; }
};

// Parses a `traceparent` header value. Returns nullopt for anything the W3C spec says to ignore
// (wrong lengths, upper-case hex, all-zero ids, version ff); the caller then starts a new trace.
std::optional<TraceContext> ParseTraceparent(std::string_view header);

// Formats a version-00 `traceparent` header value.
std::string FormatTraceparent(std::string_view trace_id, std::string_view span_id, bool sampled);

// The trace id set on this thread by the innermost live ScopedTraceId, or "" when none.
const std::string& CurrentTraceId();

// Sets the calling thread's trace id for its lifetime (log lines carry it), then restores the
// previous one. Create it on the thread that does the work; it does not follow hand-offs to
// other threads, so pass the id along explicitly there.
class ScopedTraceId {
 public:
  explicit ScopedTraceId(std::string trace_id);
  ~ScopedTraceId();
  ScopedTraceId(const ScopedTraceId&) = delete;
  ScopedTraceId& operator=(const ScopedTraceId&) = delete;

 private:
  std::string previous_;
};

}  // namespace optimus::telemetry
