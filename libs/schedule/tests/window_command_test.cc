// Tests for `optimus window` (tools/cli/window_command.cc): every reference §4.3 example
// through the command, JSON output, and the one-line errors with exit status 2.
#include "window_command.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

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

}  // namespace
}  // namespace optimus::cli
