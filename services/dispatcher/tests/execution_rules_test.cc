// The execution state machine, fencing, claim order, pools and catalog arguments, pure.
#include "optimus/dispatcher/execution_rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

namespace optimus::dispatcher {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ExecutionRules, StatesRoundTripAndTerminalOnesNeverChange) {
  for (State s : {State::kQueued, State::kLeased, State::kRunning, State::kSucceeded,
                  State::kFailed, State::kCancelled, State::kTimedOut}) {
    EXPECT_EQ(ParseState(StateName(s)), s);
    if (IsTerminal(s)) {
      for (State to : {State::kQueued, State::kLeased, State::kRunning, State::kSucceeded}) {
        EXPECT_FALSE(CanTransition(s, to)) << StateName(s) << " -> " << StateName(to);
      }
    }
  }
  EXPECT_EQ(ParseState("done"), std::nullopt);
}

TEST(ExecutionRules, Transitions) {
  EXPECT_TRUE(CanTransition(State::kQueued, State::kLeased));
  EXPECT_TRUE(CanTransition(State::kQueued, State::kCancelled));
  EXPECT_FALSE(CanTransition(State::kQueued, State::kRunning));
  EXPECT_FALSE(CanTransition(State::kQueued, State::kSucceeded));
  EXPECT_TRUE(CanTransition(State::kLeased, State::kRunning));
  EXPECT_TRUE(CanTransition(State::kLeased, State::kQueued));  // expired lease
  EXPECT_TRUE(CanTransition(State::kRunning, State::kTimedOut));
  EXPECT_TRUE(CanTransition(State::kRunning, State::kQueued));
  EXPECT_FALSE(CanTransition(State::kRunning, State::kLeased));
  EXPECT_FALSE(CanTransition(State::kRunning, State::kRunning));
}

TEST(ExecutionRules, FencingRefusesStaleReportsAndSaysWhy) {
  const LeaseView held{.state = State::kRunning, .owner = "e1", .epoch = 4, .attempt = 2};
  EXPECT_TRUE(CheckLease("x", held, "e1", 4).ok());
  absl::Status old_epoch = CheckLease("x", held, "e1", 3);
  EXPECT_EQ(old_epoch.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(old_epoch.message(), HasSubstr("lease epoch 4"));
  EXPECT_THAT(old_epoch.message(), HasSubstr("carries epoch 3"));
  EXPECT_THAT(CheckLease("x", held, "e2", 4).message(), HasSubstr("on executor e1"));
  const LeaseView queued{.state = State::kQueued, .owner = "", .epoch = 4, .attempt = 3};
  EXPECT_THAT(CheckLease("x", queued, "e1", 4).message(), HasSubstr("queued again"));
  const LeaseView ended{.state = State::kSucceeded, .owner = "e1", .epoch = 4, .attempt = 2};
  EXPECT_THAT(CheckLease("x", ended, "e1", 4).message(), HasSubstr("has ended (succeeded)"));
}

TEST(ExecutionRules, ExpiredLeaseRequeuesUntilAttemptsRunOut) {
  EXPECT_EQ(AfterLeaseExpiry(1, 3, false), State::kQueued);
  EXPECT_EQ(AfterLeaseExpiry(2, 3, false), State::kQueued);
  EXPECT_EQ(AfterLeaseExpiry(3, 3, false), State::kFailed);
  EXPECT_EQ(AfterLeaseExpiry(1, 3, true), State::kCancelled);
}

TEST(ExecutionRules, ClaimOrderIsPriorityThenFifo) {
  std::vector<QueueEntry> q = {{10, 3}, {20, 5}, {10, 1}, {20, 2}};
  std::sort(q.begin(), q.end(), ClaimsBefore);
  std::vector<int64_t> seqs;
  for (const auto& e : q) seqs.push_back(e.seq);
  EXPECT_THAT(seqs, ElementsAre(2, 5, 1, 3));
}

TEST(ExecutionRules, PoolsComeFromThePoolLabel) {
  EXPECT_THAT(ServedPools({}), ElementsAre(""));
  EXPECT_THAT(ServedPools({{"pool", "etl, reports"}, {"zone", "a"}}),
              ElementsAre("", "etl", "reports"));
  EXPECT_TRUE(PoolMatches("", {}));
  EXPECT_FALSE(PoolMatches("etl", {}));
  EXPECT_TRUE(PoolMatches("etl", {{"pool", "etl"}}));
  EXPECT_FALSE(PoolMatches("gpu", {{"pool", "etl"}}));
}

TEST(ExecutionRules, EventsUseOptimusNamesWhereTheyExist) {
  EXPECT_EQ(EventType(State::kRunning, false), "task_start");
  EXPECT_EQ(EventType(State::kSucceeded, false), "job_success");
  EXPECT_EQ(EventType(State::kFailed, false), "failure");
  EXPECT_EQ(EventType(State::kQueued, true), "task_retry");
  EXPECT_EQ(EventType(State::kQueued, false), "execution_queued");
  EXPECT_EQ(RunState(State::kCancelled), "canceled");
  EXPECT_EQ(RunState(State::kSucceeded), "success");
}

TEST(ExecutionRules, CatalogArgumentsAreCheckedWhole) {
  const std::vector<ArgumentSpec> specs = {{"table", true, ""}, {"days", false, "7"}};
  auto env = CheckArguments("purge", specs, {{"TABLE", "t1"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->at("TABLE"), "t1");
  EXPECT_EQ(env->at("DAYS"), "7");
  auto bad = CheckArguments("purge", specs, {{"days", "1"}, {"colour", "red"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(),
            "task purge: missing required argument table; unknown argument colour (it takes: "
            "table, days)");
}

TEST(ExecutionRules, Names) {
  EXPECT_TRUE(CheckName("task", "purge-old.tables_2").ok());
  EXPECT_FALSE(CheckName("task", "").ok());
  EXPECT_FALSE(CheckName("task", "-x").ok());
  EXPECT_FALSE(CheckName("task", "a/b").ok());
  EXPECT_FALSE(CheckName("task", std::string("a\0b", 3)).ok());
  EXPECT_FALSE(CheckName("task", std::string(64, 'a')).ok());
  EXPECT_THAT(CheckName("task name", "a b").message(),
              HasSubstr("task name \"a b\" is not a name"));
}

}  // namespace
}  // namespace optimus::dispatcher
