// W3C trace-context ids: generation, parsing and the thread-local current trace id.
#include "optimus/telemetry/trace.h"

#include <array>
#include <random>
#include <utility>

namespace optimus::telemetry {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// Seeded once per thread from the OS so ids of concurrent threads and processes differ.
std::mt19937_64& ThreadRandom() {
  thread_local std::mt19937_64 engine([] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }());
  return engine;
}

// `bytes` random bytes as lowercase hex; redrawn when all zero because W3C forbids that id.
std::string RandomHex(int bytes) {
  std::string out(static_cast<size_t>(bytes) * 2, '0');
  for (;;) {
    bool all_zero = true;
    for (int i = 0; i < bytes; i += 8) {
      std::uint64_t word = ThreadRandom()();
      for (int j = 0; j < 8 && i + j < bytes; ++j) {
        auto byte = static_cast<std::uint8_t>(word >> (8 * j));
        if (byte != 0) all_zero = false;
        out[2 * (i + j)] = kHexDigits[byte >> 4];
        out[2 * (i + j) + 1] = kHexDigits[byte & 0x0f];
      }
    }
    if (!all_zero) return out;
  }
}

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool IsAllZeros(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

int HexValue(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

std::string& ThreadTraceId() {
  thread_local std::string trace_id;
  return trace_id;
}

}  // namespace

std::string NewTraceId() { return RandomHex(16); }

std::string NewSpanId() { return RandomHex(8); }

bool IsValidTraceId(std::string_view trace_id) {
  return trace_id.size() == 32 && IsLowerHex(trace_id) && !IsAllZeros(trace_id);
}

std::optional<TraceContext> ParseTraceparent(std::string_view header) {
  // Surrounding whitespace may come from header folding; the value itself has none.
  while (!header.empty() && (header.front() == ' ' || header.front() == '\t')) {
    header.remove_prefix(1);
  }
  while (!header.empty() && (header.back() == ' ' || header.back() == '\t')) {
    header.remove_suffix(1);
  }
  // 2 version + 1 + 32 trace id + 1 + 16 parent id + 1 + 2 flags.
  constexpr size_t kVersion00Size = 55;
  if (header.size() < kVersion00Size) return std::nullopt;
  std::string_view version = header.substr(0, 2);
  if (!IsLowerHex(version) || version == "ff") return std::nullopt;
  // Version 00 has exactly these fields; later versions may append "-..." fields we skip.
  if (version == "00" ? header.size() != kVersion00Size
                      : (header.size() > kVersion00Size && header[kVersion00Size] != '-')) {
    return std::nullopt;
  }
  if (header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
  std::string_view trace_id = header.substr(3, 32);
  std::string_view parent_id = header.substr(36, 16);
  std::string_view flags = header.substr(53, 2);
  if (!IsValidTraceId(trace_id)) return std::nullopt;
  if (!IsLowerHex(parent_id) || IsAllZeros(parent_id)) return std::nullopt;
  if (!IsLowerHex(flags)) return std::nullopt;
  TraceContext context;
  context.trace_id = std::string(trace_id);
  context.parent_id = std::string(parent_id);
  context.flags = static_cast<std::uint8_t>(HexValue(flags[0]) * 16 + HexValue(flags[1]));
  return context;
}

std::string FormatTraceparent(std::string_view trace_id, std::string_view span_id, bool sampled) {
  std::string out;
  out.reserve(55);
  out.append("00-").append(trace_id).append("-").append(span_id).append(sampled ? "-01" : "-00");
  return out;
}

const std::string& CurrentTraceId() { return ThreadTraceId(); }

ScopedTraceId::ScopedTraceId(std::string trace_id) : previous_(std::move(trace_id)) {
  ThreadTraceId().swap(previous_);
}

ScopedTraceId::~ScopedTraceId() { ThreadTraceId().swap(previous_); }

}  // namespace optimus::telemetry
