// Tests for `optimus window` (tools/cli/window_command.cc): every reference §4.3 example
// through the command, JSON output, and the one-line errors with exit status 2.
#include "window_command.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "optimus/testing/testing.h"

namespace optimus::cli {
namespace {

struct Result {
  int code;
  std::string out;
  std::string err;
};

Result RunCli(std::vector<std::string> args) {
  args.insert(args.begin(), "window");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::ostringstream out, err;
  const int code = RunWindowCommand(static_cast<int>(args.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

std::string Ok(std::vector<std::string> args) {
  Result r = RunCli(std::move(args));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  return r.out;
}

constexpr char kAt[] = "--scheduled-at=2023-03-07T02:00:00Z";

std::string V3Text(const std::string& dstart, const std::string& dend, const std::string& sd,
                   const std::string& ed, const std::string& schedule = "2023-03-07T02:00:00Z") {
  return "DSTART=" + dstart + "\nDEND=" + dend + "\nSTART_DATE=" + sd + "\nEND_DATE=" + ed +
         "\nSCHEDULE_TIME=" + schedule + "\nSCHEDULE_DATE=" + schedule.substr(0, 10) +
         "\nEXECUTION_TIME=" + schedule.substr(0, 10) + " " + schedule.substr(11, 8) + "\n";
}

TEST(WindowCommand, V3ReferenceExamples) {
  EXPECT_EQ(Ok({kAt, "--size", "1d"}),
            V3Text("2023-03-06T00:00:00Z", "2023-03-07T00:00:00Z", "2023-03-06", "2023-03-07"));
  EXPECT_EQ(Ok({kAt, "--version", "3", "--size", "1d", "--shift-by", "-1d"}),
            V3Text("2023-03-05T00:00:00Z", "2023-03-06T00:00:00Z", "2023-03-05", "2023-03-06"));
  EXPECT_EQ(Ok({kAt, "--size=24h"}),
            V3Text("2023-03-06T02:00:00Z", "2023-03-07T02:00:00Z", "2023-03-06", "2023-03-07"));
  EXPECT_EQ(Ok({kAt, "--size", "1M"}),
            V3Text("2023-02-01T00:00:00Z", "2023-03-01T00:00:00Z", "2023-02-01", "2023-03-01"));
  EXPECT_EQ(Ok({"--scheduled-at", "2023-12-01T03:00:00Z", "--size", "1d", "--shift-by", "-1d",
                "--truncate-to", "h", "--location", "Asia/Jakarta"}),
            V3Text("2023-11-29T10:00:00+07:00", "2023-11-30T10:00:00+07:00", "2023-11-29",
                   "2023-11-30", "2023-12-01T03:00:00Z"));
  // Empty v3 window: DSTART = DEND = scheduled time.
  EXPECT_EQ(Ok({kAt}),
            V3Text("2023-03-07T02:00:00Z", "2023-03-07T02:00:00Z", "2023-03-07", "2023-03-07"));
}

TEST(WindowCommand, V2ReferenceExamples) {
  EXPECT_EQ(Ok({kAt, "--version", "2", "--truncate-to", "d", "--offset", "-24h", "--size", "24h"}),
            "DSTART=2023-03-05T00:00:00Z\nDEND=2023-03-06T00:00:00Z\n");
  EXPECT_EQ(Ok({kAt, "--version", "2", "--truncate-to", "M", "--offset", "-1M", "--size", "1M"}),
            "DSTART=2023-01-01T00:00:00Z\nDEND=2023-02-01T00:00:00Z\n");
}

TEST(WindowCommand, V1ReferenceExamples) {
  EXPECT_EQ(Ok({"--scheduled-at", "2023-03-08T02:00:00Z", "--version", "1", "--truncate-to", "w",
                "--size", "168h"}),
            "DSTART=2023-03-05T00:00:00Z\nDEND=2023-03-12T00:00:00Z\n");
  EXPECT_EQ(Ok({kAt, "--version", "1", "--truncate-to", "M", "--size", "720h", "--offset", "0"}),
            "DSTART=2023-03-01T00:00:00Z\nDEND=2023-03-31T00:00:00Z\n");
  EXPECT_EQ(
      Ok({kAt, "--version", "1", "--truncate-to", "M", "--size", "720h", "--offset", "-720h"}),
      "DSTART=2023-02-01T00:00:00Z\nDEND=2023-02-28T00:00:00Z\n");
  EXPECT_EQ(Ok({kAt, "--version", "1", "--truncate-to", "d"}),
            "DSTART=2023-03-06T00:00:00Z\nDEND=2023-03-07T00:00:00Z\n");
}

TEST(WindowCommand, JsonOutput) {
  EXPECT_EQ(Ok({kAt, "--size", "1d", "--output", "json"}),
            "{\"version\":3,\"DSTART\":\"2023-03-06T00:00:00Z\",\"DEND\":\"2023-03-07T00:00:00Z\","
            "\"START_DATE\":\"2023-03-06\",\"END_DATE\":\"2023-03-07\",\"SCHEDULE_TIME\":"
            "\"2023-03-07T02:00:00Z\",\"SCHEDULE_DATE\":\"2023-03-07\",\"EXECUTION_TIME\":"
            "\"2023-03-07 02:00:00\"}\n");
  EXPECT_EQ(
      Ok({kAt, "--version=2", "--truncate-to=d", "--offset=-24h", "--size=24h", "--output=json"}),
      "{\"version\":2,\"DSTART\":\"2023-03-05T00:00:00Z\",\"DEND\":\"2023-03-06T00:00:00Z\"}\n");
}

TEST(WindowCommand, Help) {
  Result r = RunCli({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("Usage: optimus window"), std::string::npos);
  EXPECT_NE(r.out.find("--shift-by"), std::string::npos);
  EXPECT_EQ(RunCli({"-h"}).code, 0);
}

TEST(WindowCommand, BadInputIsOneLineAndExit2) {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"--size", "1d"},
      {kAt, "--size"},
      {kAt, "--bogus", "1"},
      {kAt, "positional"},
      {"--scheduled-at", "yesterday"},
      {kAt, "--version", "4"},
      {kAt, "--size", "0"},
      {kAt, "--size", "-1d"},
      {kAt, "--truncate-to", "q"},
      {kAt, "--location", "Nowhere/Land"},
      {kAt, "--output", "yaml"},
      {kAt, "--offset", "-24h"},
      {kAt, "--version", "2", "--shift-by", "-1d"},
      {kAt, "--version", "2", "--size", "1d"},
      {kAt, "--size", "1d", "--size", "2d"},
  };
  for (const auto& args : cases) {
    Result r = RunCli(args);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(r.code, 2) << joined;
    EXPECT_EQ(r.out, "") << joined;
    ASSERT_FALSE(r.err.empty()) << joined;
    EXPECT_EQ(r.err.rfind("optimus window: ", 0), 0u) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  }
  EXPECT_EQ(RunCli({kAt, "--size", "-1d"}).err,
            "optimus window: window v3 size \"-1d\": size cannot be negative (see 'optimus "
            "window --help')\n");
  EXPECT_EQ(RunCli({"--size", "1d"}).err,
            "optimus window: --scheduled-at is required (see 'optimus window --help')\n");
}

TEST(WindowCommandTest, JobWindowWithThisYamlAndPresets) {
  testing::TempDir dir;
  namespace fs = std::filesystem;
  fs::create_directories(dir.path() / "ns/jobs/team/daily");
  fs::create_directories(dir.path() / "ns/jobs/team/weekly");
  std::ofstream(dir.File("optimus.yaml"))
      << "version: 1\nhost: localhost:9100\nproject:\n  name: p\n  preset_path: preset.yaml\n"
         "  config: {storage_path: 'file://dags', scheduler_host: 'http://a:8080'}\n"
         "namespaces:\n- name: ns\n  job: {path: ns/jobs}\n";
  std::ofstream(dir.File("preset.yaml"))
      << "presets:\n  yesterday:\n    description: the day before\n"
         "    window: {size: 1d, shift_by: -1d}\n";
  // The window comes from the namespace's this.yaml; the job only sets its version.
  std::ofstream(dir.File("ns/jobs/this.yaml")) << "task:\n  window:\n    size: 1d\n";
  std::ofstream(dir.File("ns/jobs/team/daily/job.yaml"))
      << "version: 3\nname: p.daily\nowner: o\nschedule: {start_date: '2024-01-01'}\n"
         "task: {name: bq2bq}\n";
  std::ofstream(dir.File("ns/jobs/team/weekly/job.yaml"))
      << "version: 1\nname: p.weekly\nowner: o\nschedule: {start_date: '2024-01-01'}\n"
         "task: {name: bq2bq, window: {preset: Yesterday}}\n";
  EXPECT_EQ(Ok({"--job", dir.File("ns/jobs/team/daily"), "--scheduled-at", "2023-03-07T02:00:00Z"}),
            Ok({"--size", "1d", "--scheduled-at", "2023-03-07T02:00:00Z"}));
  // A preset is a version 3 window whatever the job's version.
  EXPECT_EQ(Ok({"--job", dir.File("ns/jobs/team/weekly/job.yaml"), "--scheduled-at",
                "2023-03-07T02:00:00Z"}),
            Ok({"--size", "1d", "--shift-by", "-1d", "--scheduled-at", "2023-03-07T02:00:00Z"}));
  Result mixed = RunCli({"--job", dir.File("ns/jobs/team/daily"), "--size", "2d", "--scheduled-at",
                         "2023-03-07T02:00:00Z"});
  EXPECT_EQ(mixed.code, 2);
  EXPECT_NE(mixed.err.find("--job takes the window from the job; drop --size"), std::string::npos);
  Result missing = RunCli({"--job", dir.File("nope"), "--scheduled-at", "2023-03-07T02:00:00Z"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("no such job folder or file"), std::string::npos);
  std::ofstream(dir.File("ns/jobs/team/weekly/job.yaml"))
      << "version: 3\nname: p.weekly\nowner: o\nschedule: {start_date: '2024-01-01'}\n"
         "task: {name: bq2bq, window: {preset: nosuch}}\n";
  Result unknown =
      RunCli({"--job", dir.File("ns/jobs/team/weekly"), "--scheduled-at", "2023-03-07T02:00:00Z"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.err.find("p.weekly: window preset \"nosuch\" is not defined"),
            std::string::npos)
      << unknown.err;
}

}  // namespace
}  // namespace optimus::cli
