// Structured logs: one JSON object (or one human-readable line) per event on stderr.
//
//   LOG_INFO("deployment accepted", {{"deployment_id", id}, {"jobs", 12}});
//   LOG_WARN("token rejected", {{"token", telemetry::Redacted(token)}});
//
// The macros test the level first, so a disabled line costs one relaxed atomic load: no field
// is built and nothing is allocated.
#pragma once

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <atomic>
#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace optimus::telemetry {

enum class LogLevel : int { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// json: one object per line for log collectors; text: aligned lines for a terminal.
enum class LogFormat { kJson, kText };

struct LogConfig {
  LogLevel level = LogLevel::kInfo;
  LogFormat format = LogFormat::kJson;
  // The "service" field of every line; empty means the program's name.
  std::string service;
  // Where lines go; stderr unless a test or a main redirects it.
  int fd = 2;
};

// "debug" | "info" | "warn" (or "warning") | "error", case-insensitive.
absl::StatusOr<LogLevel> ParseLogLevel(std::string_view text);
// "json" | "text", case-insensitive.
absl::StatusOr<LogFormat> ParseLogFormat(std::string_view text);
std::string_view LogLevelName(LogLevel level);

// Applies `config` to every later line of every thread.
void ConfigureLogging(const LogConfig& config);
LogConfig CurrentLogConfig();

// Holds a secret so it cannot be printed by accident: logs, streams and formatters see "***".
// Reach the value only through value(), which makes every use visible in review.
template <typename T>
class Redacted {
 public:
  static constexpr std::string_view kMask = "***";

  Redacted() = default;
  explicit Redacted(T value) : value_(std::move(value)) {}

  const T& value() const { return value_; }
  bool empty() const requires requires(const T& v) { v.empty(); }
  { return value_.empty(); }

  friend std::ostream& operator<<(std::ostream& out, const Redacted&) { return out << kMask; }

 private:
  T value_{};
};
template <typename T>
Redacted(T) -> Redacted<T>;
Redacted(const char*)->Redacted<std::string>;

// One field value of a log line. It only refers to its argument, which lives until the end of
// the logging statement.
class LogValue {
 public:
  enum class Kind { kNull, kBool, kInt, kUint, kDouble, kString, kStatus, kRedacted };

  LogValue(std::nullptr_t) : kind_(Kind::kNull) {}
  LogValue(bool value) : kind_(Kind::kBool) { scalar_.b = value; }
  template <std::signed_integral T>
  LogValue(T value) : kind_(Kind::kInt) {
    scalar_.i = value;
  }
  template <std::unsigned_integral T>
  requires(!std::same_as<T, bool>) LogValue(T value) : kind_(Kind::kUint) { scalar_.u = value; }
  template <std::floating_point T>
  LogValue(T value) : kind_(Kind::kDouble) {
    scalar_.d = static_cast<double>(value);
  }
  LogValue(const char* value) : kind_(Kind::kString), text_(value == nullptr ? "" : value) {}
  LogValue(std::string_view value) : kind_(Kind::kString), text_(value) {}
  LogValue(const std::string& value) : kind_(Kind::kString), text_(value) {}
  LogValue(const absl::Status& status) : kind_(Kind::kStatus), status_(&status) {}
  template <typename T>
  LogValue(const Redacted<T>&) : kind_(Kind::kRedacted) {}

  Kind kind() const { return kind_; }
  bool as_bool() const { return scalar_.b; }
  std::int64_t as_int() const { return scalar_.i; }
  std::uint64_t as_uint() const { return scalar_.u; }
  double as_double() const { return scalar_.d; }
  std::string_view as_string() const { return text_; }
  const absl::Status& as_status() const { return *status_; }

 private:
  Kind kind_;
  union {
    bool b;
    std::int64_t i;
    std::uint64_t u;
    double d;
  } scalar_{};
  std::string_view text_;
  const absl::Status* status_ = nullptr;
};

struct LogField {
  std::string_view key;
  LogValue value;
};

namespace internal {
extern std::atomic<int> g_min_level;
}  // namespace internal

inline bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= internal::g_min_level.load(std::memory_order_relaxed);
}

// Formats and writes one line (one write(2)) if `level` is enabled. Prefer the macros, which skip
// building the fields when it is not.
void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});

// The line Log() would write, without its trailing newline (exposed for tests and tools).
std::string FormatLogLine(LogFormat format, LogLevel level, std::string_view service,
                          std::string_view trace_id, std::string_view msg,
                          std::initializer_list<LogField> fields);

namespace internal {
struct CaptureBuffer;
}  // namespace internal

// Test helper: while alive, lines of every thread are collected here instead of being written.
// Captures nest; the innermost one receives the lines.
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // The lines so far, without newlines.
  std::vector<std::string> Lines() const;

 private:
  std::shared_ptr<internal::CaptureBuffer> buffer_;
  std::shared_ptr<internal::CaptureBuffer> previous_;
};

}  // namespace optimus::telemetry

#define OPTIMUS_LOG(level, ...)                      \
  do {                                               \
    if (::optimus::telemetry::LogEnabled(level)) {   \
      ::optimus::telemetry::Log(level, __VA_ARGS__); \
    }                                                \
  } while (false)

#define LOG_DEBUG(...) OPTIMUS_LOG(::optimus::telemetry::LogLevel::kDebug, __VA_ARGS__)
#define LOG_INFO(...) OPTIMUS_LOG(::optimus::telemetry::LogLevel::kInfo, __VA_ARGS__)
#define LOG_WARN(...) OPTIMUS_LOG(::optimus::telemetry::LogLevel::kWarn, __VA_ARGS__)
#define LOG_ERROR(...) OPTIMUS_LOG(::optimus::telemetry::LogLevel::kError, __VA_ARGS__)
