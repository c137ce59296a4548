// Steps as real processes: output in order, exit codes, a clean environment, and a deadline or a
// cancellation that stops the whole process group.
#include "optimus/executor/process.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <thread>

#include "optimus/testing/testing.h"

namespace optimus::executor {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

struct Run {
  ProcessResult result;
  std::string output;
};

Run Go(ProcessSpec spec, const std::atomic<Stop>& stop) {
  Run r;
  r.result = RunProcess(
      spec, [&](std::string_view s) { r.output.append(s); }, stop);
  return r;
}

Run Go(ProcessSpec spec) {
  std::atomic<Stop> stop{Stop::kNo};
  return Go(std::move(spec), stop);
}

TEST(RunProcess, StreamsOutputAndReportsTheExitCode) {
  testing::TempDir dir;
  auto r = Go({.script = "echo out; echo err >&2; pwd; echo \"$GREETING\"; exit 3",
               .env = {{"GREETING", "hello there"}},
               .work_dir = dir.path().string()});
  EXPECT_EQ(r.result.end, ProcessResult::End::kExited);
  EXPECT_EQ(r.result.exit_code, 3);
  EXPECT_EQ(r.output, "out\nerr\n" + dir.path().string() + "\nhello there\n");
}

TEST(RunProcess, TheEnvironmentIsOnlyWhatTheStepGets) {
  setenv("OPTIMUS_SHOULD_NOT_LEAK", "x", 1);
  auto r = Go({.script = "echo \"[$OPTIMUS_SHOULD_NOT_LEAK]\""});
  EXPECT_EQ(r.output, "[]\n");
}

TEST(RunProcess, AMissingCommandIs127AndAMissingShellIsNotStarted) {
  auto r = Go({.script = "no-such-command-here"});
  EXPECT_EQ(r.result.end, ProcessResult::End::kExited);
  EXPECT_EQ(r.result.exit_code, 127);
  EXPECT_THAT(r.output, HasSubstr("not found"));
  auto none = Go({.shell = "/no/such/shell", .script = "true"});
  EXPECT_EQ(none.result.end, ProcessResult::End::kNotStarted);
  EXPECT_THAT(none.result.error, HasSubstr("/no/such/shell does not exist"));
  auto nowhere = Go({.script = "true", .work_dir = "/no/such/dir"});
  EXPECT_EQ(nowhere.result.end, ProcessResult::End::kNotStarted);
}

TEST(RunProcess, TheDeadlineStopsTheWholeGroup) {
  testing::TempDir dir;
  const std::string pid_file = dir.File("child.pid");
  // A background child that would outlive its shell, and ignores SIGTERM.
  auto r = Go({.script = "(trap '' TERM; sleep 30) & echo $! > " + pid_file + "; sleep 30",
               .deadline = Clock::now() + std::chrono::milliseconds(300),
               .kill_grace = std::chrono::milliseconds(300)});
  EXPECT_EQ(r.result.end, ProcessResult::End::kTimedOut);
  std::ifstream in(pid_file);
  pid_t child = 0;
  in >> child;
  ASSERT_GT(child, 0);
  // Killed: gone, or a zombie until init reaps it; it must not be running on.
  const auto dead = [](pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string pid_field, name, state;
    if (!(stat >> pid_field >> name >> state)) return true;
    return state == "Z" || state == "X";
  };
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = dead(child);
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(gone) << "the background child " << child << " survived";
}

TEST(RunProcess, StoppingCancels) {
  std::atomic<Stop> stop{Stop::kNo};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop = Stop::kGracefully;
  });
  auto r =
      Go({.script = "trap 'echo stopping; exit 143' TERM; echo started; sleep 30 & wait"}, stop);
  stopper.join();
  EXPECT_EQ(r.result.end, ProcessResult::End::kCancelled);
  EXPECT_EQ(r.output, "started\nstopping\n");  // SIGTERM first: the script may clean up
}

TEST(RunProcess, ALostLeaseKillsAtOnceWithoutGrace) {
  std::atomic<Stop> stop{Stop::kNo};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop = Stop::kNow;
  });
  const auto started = Clock::now();
  auto r =
      Go({.script = "trap '' TERM; echo started; sleep 30", .kill_grace = std::chrono::seconds(60)},
         stop);
  stopper.join();
  EXPECT_EQ(r.result.end, ProcessResult::End::kCancelled);
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(30));  // not the minute's grace
}

}  // namespace
}  // namespace optimus::executor
