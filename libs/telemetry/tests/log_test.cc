// Tests of structured log lines: valid JSON, fields, levels, redaction, trace ids, text format.
#include "optimus/telemetry/log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "optimus/telemetry/trace.h"

namespace optimus::telemetry {
namespace {

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = CurrentLogConfig();
    LogConfig config;
    config.service = "ingest";
    config.level = LogLevel::kInfo;
    ConfigureLogging(config);
  }
  void TearDown() override { ConfigureLogging(saved_); }

  LogConfig saved_;
};

TEST_F(LogTest, JsonLineHasFixedKeysAndFields) {
  LogCapture capture;
  std::string id = "dep-42";
  LOG_INFO("deployment accepted", {{"deployment_id", id},
                                   {"jobs", 12},
                                   {"ratio", 0.5},
                                   {"ok", true},
                                   {"bytes", size_t{7}},
                                   {"none", nullptr}});
  auto lines = capture.Lines();
  ASSERT_EQ(lines.size(), 1u);
  auto json = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(json["msg"], "deployment accepted");
  EXPECT_EQ(json["level"], "info");
  EXPECT_EQ(json["service"], "ingest");
  EXPECT_EQ(json["deployment_id"], "dep-42");
  EXPECT_EQ(json["jobs"], 12);
  EXPECT_EQ(json["ratio"], 0.5);
  EXPECT_EQ(json["ok"], true);
  EXPECT_EQ(json["bytes"], 7);
  EXPECT_TRUE(json["none"].is_null());
  EXPECT_FALSE(json.contains("trace_id")) << "no trace scope is active";
  std::regex rfc3339_ms(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");
  EXPECT_TRUE(std::regex_match(json["ts"].get<std::string>(), rfc3339_ms)) << json["ts"];
  // The fixed keys come first, in the documented order.
  EXPECT_EQ(lines[0].rfind("{\"ts\":", 0), 0u);
  EXPECT_LT(lines[0].find("\"level\""), lines[0].find("\"msg\""));
  EXPECT_LT(lines[0].find("\"msg\""), lines[0].find("\"service\""));
}

TEST_F(LogTest, EscapesAndRepairsTextSoLinesStayValidJson) {
  LogCapture capture;
  std::string nasty = "quote\" back\\slash\nnewline\ttab\x01 bad\xff utf8 \xc3\xa9";
  LOG_ERROR(nasty, {{"path", nasty}, {"level", "shadowed"}});
  auto lines = capture.Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].find('\n'), std::string::npos);
  auto json = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(json["msg"], "quote\" back\\slash\nnewline\ttab\x01 bad\xEF\xBF\xBD utf8 \xc3\xa9");
  EXPECT_EQ(json["level"], "error") << "a field cannot overwrite the level";
  EXPECT_EQ(json["field_level"], "shadowed");
}

TEST_F(LogTest, LevelFilteringSkipsBuildingFields) {
  LogCapture capture;
  int evaluated = 0;
  auto expensive = [&] {
    ++evaluated;
    return std::string("x");
  };
  LOG_DEBUG("hidden", {{"value", expensive()}});
  EXPECT_EQ(evaluated, 0) << "fields of a disabled level must not be evaluated";
  EXPECT_TRUE(capture.Lines().empty());

  LogConfig config = CurrentLogConfig();
  config.level = LogLevel::kDebug;
  ConfigureLogging(config);
  LOG_DEBUG("shown", {{"value", expensive()}});
  EXPECT_EQ(evaluated, 1);
  ASSERT_EQ(capture.Lines().size(), 1u);

  config.level = LogLevel::kError;
  ConfigureLogging(config);
  LOG_WARN("hidden");
  LOG_ERROR("shown");
  ASSERT_EQ(capture.Lines().size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(capture.Lines()[1])["level"], "error");
}

TEST_F(LogTest, RedactedNeverPrintsTheSecret) {
  LogCapture capture;
  Redacted token(std::string("s3cr3t-token"));
  LOG_WARN("token rejected", {{"token", token}, {"literal", Redacted("hunter2")}});
  auto lines = capture.Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].find("s3cr3t"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[0].find("hunter2"), std::string::npos) << lines[0];
  auto json = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(json["token"], "***");
  EXPECT_EQ(json["literal"], "***");

  std::ostringstream stream;
  stream << token;
  EXPECT_EQ(stream.str(), "***");
  EXPECT_EQ(token.value(), "s3cr3t-token");
}

TEST_F(LogTest, CarriesTheScopedTraceId) {
  LogCapture capture;
  std::string trace = NewTraceId();
  {
    ScopedTraceId scope(trace);
    LOG_INFO("inside");
    {
      ScopedTraceId inner("inner-trace");
      LOG_INFO("nested");
    }
    LOG_INFO("restored");
  }
  LOG_INFO("outside");
  auto lines = capture.Lines();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["trace_id"], trace);
  EXPECT_EQ(nlohmann::json::parse(lines[1])["trace_id"], "inner-trace");
  EXPECT_EQ(nlohmann::json::parse(lines[2])["trace_id"], trace);
  EXPECT_FALSE(nlohmann::json::parse(lines[3]).contains("trace_id"));
}

TEST_F(LogTest, StatusFieldsShowCodeAndMessage) {
  LogCapture capture;
  absl::Status status = absl::NotFoundError("job \"a\" not found");
  LOG_ERROR("lookup failed", {{"error", status}, {"ok", absl::OkStatus()}});
  auto json = nlohmann::json::parse(capture.Lines().at(0));
  EXPECT_EQ(json["error"], "NOT_FOUND: job \"a\" not found");
  EXPECT_EQ(json["ok"], "OK");
}

TEST_F(LogTest, TextFormatIsOneReadableLine) {
  std::string line = FormatLogLine(LogFormat::kText, LogLevel::kWarn, "ingest", "abc123",
                                   "slow request", {{"route", "/api/v1"}, {"note", "two words"}});
  std::regex expected(
      R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z WARN  ingest: slow request route=/api/v1 )"
      R"(note="two words" trace_id=abc123)");
  EXPECT_TRUE(std::regex_match(line, expected)) << line;
}

TEST_F(LogTest, ParsesLevelsAndFormats) {
  EXPECT_EQ(*ParseLogLevel("DEBUG"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("warning"), LogLevel::kWarn);
  EXPECT_EQ(*ParseLogFormat("Text"), LogFormat::kText);
  auto bad = ParseLogLevel("verbose");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("verbose"), absl::string_view::npos);
  EXPECT_FALSE(ParseLogFormat("xml").ok());
}

TEST_F(LogTest, WritesWholeLinesToTheConfiguredFd) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  LogConfig config = CurrentLogConfig();
  config.fd = fds[1];
  ConfigureLogging(config);
  constexpr int kThreads = 4;
  constexpr int kLines = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kLines; ++i) LOG_INFO("concurrent", {{"thread", t}, {"i", i}});
    });
  }
  for (auto& thread : threads) thread.join();
  ConfigureLogging(saved_);
  close(fds[1]);
  std::string all;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fds[0], buffer, sizeof(buffer))) > 0) all.append(buffer, static_cast<size_t>(n));
  close(fds[0]);
  std::istringstream in(all);
  std::string line;
  int count = 0;
  while (std::getline(in, line)) {
    auto json = nlohmann::json::parse(line);  // throws (fails the test) on an interleaved line
    EXPECT_EQ(json["msg"], "concurrent");
    ++count;
  }
  EXPECT_EQ(count, kThreads * kLines);
}

}  // namespace
}  // namespace optimus::telemetry
