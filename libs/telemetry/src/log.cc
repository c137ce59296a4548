// Formatting and writing of structured log lines (JSON or text), one write(2) per line.
#include "optimus/telemetry/log.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "optimus/telemetry/trace.h"

namespace optimus::telemetry {
namespace internal {
std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};

// Lines collected by a LogCapture; shared so a line being formatted keeps it alive.
struct CaptureBuffer {
  std::mutex mu;
  std::vector<std::string> lines;
};
}  // namespace internal

using internal::CaptureBuffer;

namespace {

// What every line needs besides its own fields; replaced as a whole so a line never sees half of
// a reconfiguration.
struct Sink {
  LogConfig config;
  std::string service;  // config.service, or the program name
  std::shared_ptr<CaptureBuffer> capture;
};

// Serialises writers of the sink (configuration, captures); readers load it atomically.
std::mutex& StateMutex() {
  static std::mutex mu;
  return mu;
}

std::string ProgramName() {
  // glibc keeps the basename of argv[0] (declared by <errno.h>); "optimus" when it is unavailable.
  if (program_invocation_short_name != nullptr && *program_invocation_short_name != '\0') {
    return program_invocation_short_name;
  }
  return "optimus";
}

std::atomic<std::shared_ptr<const Sink>>& CurrentSink() {
  static std::atomic<std::shared_ptr<const Sink>> sink = [] {
    auto s = std::make_shared<Sink>();
    s->service = ProgramName();
    return std::shared_ptr<const Sink>(std::move(s));
  }();
  return sink;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// RFC 3339 UTC with milliseconds, e.g. 2024-05-01T12:34:56.789Z.
void AppendTimestamp(std::string& out) {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  time_t seconds = static_cast<time_t>(ms / 1000);
  struct tm tm_utc;
  gmtime_r(&seconds, &tm_utc);
  char buffer[32];
  int n = std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                        tm_utc.tm_year + 1900, tm_utc.tm_mon + 1, tm_utc.tm_mday, tm_utc.tm_hour,
                        tm_utc.tm_min, tm_utc.tm_sec, static_cast<int>(ms % 1000));
  out.append(buffer, static_cast<size_t>(n));
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 when the bytes are not valid UTF-8.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t len;
  std::uint32_t min;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  std::uint32_t code = c & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code = (code << 6) | (byte(i + k) & 0x3F);
  }
  if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  return len;
}

// A JSON string body: quotes, backslashes and control characters escaped, invalid UTF-8 replaced
// by U+FFFD so that every line stays parseable whatever bytes a message carries.
void AppendJsonEscaped(std::string& out, std::string_view s) {
  constexpr char kHex[] = "0123456789abcdef";
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out.append("\\\"");
        ++i;
        continue;
      case '\\':
        out.append("\\\\");
        ++i;
        continue;
      case '\n':
        out.append("\\n");
        ++i;
        continue;
      case '\r':
        out.append("\\r");
        ++i;
        continue;
      case '\t':
        out.append("\\t");
        ++i;
        continue;
      default:
        break;
    }
    if (c < 0x20 || c == 0x7F) {
      out.append("\\u00");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0F]);
      ++i;
      continue;
    }
    size_t len = Utf8SequenceLength(s, i);
    if (len == 0) {
      out.append("\xEF\xBF\xBD");
      ++i;
      continue;
    }
    out.append(s.data() + i, len);
    i += len;
  }
}

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  AppendJsonEscaped(out, s);
  out.push_back('"');
}

void AppendDouble(std::string& out, double value) {
  char buffer[32];
  auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, result.ptr);
}

std::string StatusText(const absl::Status& status) {
  if (status.ok()) return "OK";
  std::string text = absl::StatusCodeToString(status.code());
  text.append(": ").append(status.message().data(), status.message().size());
  return text;
}

void AppendJsonValue(std::string& out, const LogValue& value) {
  switch (value.kind()) {
    case LogValue::Kind::kNull:
      out.append("null");
      break;
    case LogValue::Kind::kBool:
      out.append(value.as_bool() ? "true" : "false");
      break;
    case LogValue::Kind::kInt:
      out.append(std::to_string(value.as_int()));
      break;
    case LogValue::Kind::kUint:
      out.append(std::to_string(value.as_uint()));
      break;
    case LogValue::Kind::kDouble:
      // JSON has no NaN or infinity; a string keeps the line valid and the value readable.
      if (std::isfinite(value.as_double())) {
        AppendDouble(out, value.as_double());
      } else {
        out.push_back('"');
        AppendDouble(out, value.as_double());
        out.push_back('"');
      }
      break;
    case LogValue::Kind::kString:
      AppendJsonString(out, value.as_string());
      break;
    case LogValue::Kind::kStatus:
      AppendJsonString(out, StatusText(value.as_status()));
      break;
    case LogValue::Kind::kRedacted:
      AppendJsonString(out, Redacted<int>::kMask);
      break;
  }
}

// Text values are bare when they are simple words, quoted (JSON-escaped) otherwise.
void AppendTextString(std::string& out, std::string_view s) {
  bool bare = !s.empty();
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || c == '"' || c == '=' || c == '\\' || u == 0x7F) {
      bare = false;
      break;
    }
  }
  if (bare) {
    AppendJsonEscaped(out, s);
  } else {
    AppendJsonString(out, s);
  }
}

void AppendTextValue(std::string& out, const LogValue& value) {
  switch (value.kind()) {
    case LogValue::Kind::kString:
      AppendTextString(out, value.as_string());
      break;
    case LogValue::Kind::kStatus:
      AppendTextString(out, StatusText(value.as_status()));
      break;
    case LogValue::Kind::kDouble:
      AppendDouble(out, value.as_double());
      break;
    default:
      AppendJsonValue(out, value);
      break;
  }
}

bool IsReservedKey(std::string_view key) {
  return key == "ts" || key == "level" || key == "msg" || key == "service" || key == "trace_id";
}

void FormatInto(std::string& out, LogFormat format, LogLevel level, std::string_view service,
                std::string_view trace_id, std::string_view msg,
                std::initializer_list<LogField> fields) {
  if (format == LogFormat::kJson) {
    out.append("{\"ts\":\"");
    AppendTimestamp(out);
    out.append("\",\"level\":\"").append(LogLevelName(level)).append("\",\"msg\":");
    AppendJsonString(out, msg);
    out.append(",\"service\":");
    AppendJsonString(out, service);
    if (!trace_id.empty()) {
      out.append(",\"trace_id\":");
      AppendJsonString(out, trace_id);
    }
    for (const LogField& field : fields) {
      out.push_back(',');
      // A field must not shadow the fixed keys collectors index on; it keeps a prefix instead.
      out.append(IsReservedKey(field.key) ? "\"field_" : "\"");
      AppendJsonEscaped(out, field.key);
      out.append("\":");
      AppendJsonValue(out, field.value);
    }
    out.push_back('}');
    return;
  }
  AppendTimestamp(out);
  out.push_back(' ');
  switch (level) {
    case LogLevel::kDebug:
      out.append("DEBUG");
      break;
    case LogLevel::kInfo:
      out.append("INFO ");
      break;
    case LogLevel::kWarn:
      out.append("WARN ");
      break;
    case LogLevel::kError:
      out.append("ERROR");
      break;
  }
  out.push_back(' ');
  out.append(service).append(": ");
  AppendJsonEscaped(out, msg);
  for (const LogField& field : fields) {
    out.push_back(' ');
    AppendJsonEscaped(out, field.key);
    out.push_back('=');
    AppendTextValue(out, field.value);
  }
  if (!trace_id.empty()) {
    out.append(" trace_id=").append(trace_id);
  }
}

// Writes all of `data` to `fd` in one write(2) unless the kernel takes it in parts.
void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // Nowhere left to report a broken stderr.
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

absl::StatusOr<LogLevel> ParseLogLevel(std::string_view text) {
  std::string lower = Lower(text);
  if (lower == "debug") return LogLevel::kDebug;
  if (lower == "info") return LogLevel::kInfo;
  if (lower == "warn" || lower == "warning") return LogLevel::kWarn;
  if (lower == "error") return LogLevel::kError;
  return absl::InvalidArgumentError("log level \"" + std::string(text) +
                                    "\" is not one of debug, info, warn, error");
}

absl::StatusOr<LogFormat> ParseLogFormat(std::string_view text) {
  std::string lower = Lower(text);
  if (lower == "json") return LogFormat::kJson;
  if (lower == "text") return LogFormat::kText;
  return absl::InvalidArgumentError("log format \"" + std::string(text) +
                                    "\" is not one of json, text");
}

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "unknown";
}

void ConfigureLogging(const LogConfig& config) {
  std::lock_guard<std::mutex> lock(StateMutex());
  auto sink = std::make_shared<Sink>();
  sink->config = config;
  sink->service = config.service.empty() ? ProgramName() : config.service;
  sink->capture = CurrentSink().load()->capture;
  CurrentSink().store(std::move(sink));
  internal::g_min_level.store(static_cast<int>(config.level), std::memory_order_relaxed);
}

LogConfig CurrentLogConfig() {
  std::shared_ptr<const Sink> sink = CurrentSink().load();
  LogConfig config = sink->config;
  config.service = sink->service;
  return config;
}

std::string FormatLogLine(LogFormat format, LogLevel level, std::string_view service,
                          std::string_view trace_id, std::string_view msg,
                          std::initializer_list<LogField> fields) {
  std::string out;
  FormatInto(out, format, level, service, trace_id, msg, fields);
  return out;
}

void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (!LogEnabled(level)) return;
  std::shared_ptr<const Sink> sink = CurrentSink().load();
  // Reused per thread, so steady-state logging does not allocate for the line itself.
  thread_local std::string line;
  line.clear();
  FormatInto(line, sink->config.format, level, sink->service, CurrentTraceId(), msg, fields);
  if (sink->capture != nullptr) {
    std::lock_guard<std::mutex> lock(sink->capture->mu);
    sink->capture->lines.push_back(line);
    return;
  }
  line.push_back('\n');
  WriteAll(sink->config.fd, line);
}

LogCapture::LogCapture() : buffer_(std::make_shared<CaptureBuffer>()) {
  std::lock_guard<std::mutex> lock(StateMutex());
  std::shared_ptr<const Sink> current = CurrentSink().load();
  previous_ = current->capture;
  auto sink = std::make_shared<Sink>(*current);
  sink->capture = buffer_;
  CurrentSink().store(std::move(sink));
}

LogCapture::~LogCapture() {
  std::lock_guard<std::mutex> lock(StateMutex());
  auto sink = std::make_shared<Sink>(*CurrentSink().load());
  sink->capture = previous_;
  CurrentSink().store(std::move(sink));
}

std::vector<std::string> LogCapture::Lines() const {
  std::lock_guard<std::mutex> lock(buffer_->mu);
  return buffer_->lines;
}

}  // namespace optimus::telemetry
