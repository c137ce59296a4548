// The replay and run commands: bad flags are refused before any server is asked; the run
// timeline lays runs out by job and scheduled time.
#include "replay_command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace optimus::cli {
namespace {

using ::testing::HasSubstr;

int Invoke(int (*command)(int, char**, std::ostream&, std::ostream&), std::vector<std::string> args,
           std::string* err) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::ostringstream out, errs;
  const int code = command(static_cast<int>(argv.size()), argv.data(), out, errs);
  *err = errs.str();
  return code;
}

TEST(ReplayCommands, RefuseBadArgumentsBeforeAskingTheServer) {
  std::string err;
  EXPECT_EQ(Invoke(RunReplayCommand, {"replay", "create", "job"}, &err), 2);
  EXPECT_THAT(err, HasSubstr("give the job and the range"));
  EXPECT_EQ(Invoke(RunReplayCommand, {"replay", "create", "job", "yesterday"}, &err), 2);
  EXPECT_THAT(err, HasSubstr("\"yesterday\" is not a date (2024-03-07) or an RFC 3339 time"));
  EXPECT_EQ(Invoke(RunReplayCommand, {"replay", "status"}, &err), 2);
  EXPECT_THAT(err, HasSubstr("give the replay's id"));
  EXPECT_EQ(Invoke(RunReplayCommand, {"replay", "undo", "x"}, &err), 2);
  EXPECT_THAT(err, HasSubstr("unknown command 'undo'"));
  EXPECT_EQ(Invoke(RunJobRunsCommand, {"runs", "--limit", "0"}, &err), 2);
  EXPECT_THAT(err, HasSubstr("--limit takes a whole number from 1"));
}

TEST(RunTimeline, OneLinePerJobOneColumnPerScheduledTime) {
  core::v1::ListScheduledRunsResponse runs;
  const auto add = [&](const std::string& job, int64_t seconds, const std::string& state,
                       int generation) {
    auto* r = runs.add_runs();
    r->set_job(job);
    r->mutable_scheduled_at()->set_seconds(seconds);
    r->set_state(state);
    r->set_generation(generation);
  };
  // Newest first, as the server answers: 2024-01-02 and 2024-01-01 at midnight.
  add("b", 1704153600, "waiting", 1);
  add("a", 1704153600, "succeeded", 2);
  add("a", 1704067200, "failed", 1);
  EXPECT_EQ(RunTimeline(runs),
            "JOB  01-01T00:00  01-02T00:00\n"
            "a    FAILED       ok+1\n"
            "b    -            waiting\n");
}

}  // namespace
}  // namespace optimus::cli
