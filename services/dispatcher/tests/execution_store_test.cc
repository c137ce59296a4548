// Executions on a real SQLite file: idempotent queueing, claim order and pools, fencing, lease
// expiry, deadlines, cancellation, and the event of every transition.
#include "optimus/dispatcher/execution_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "store_fixture.h"

namespace optimus::dispatcher {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class ExecutionStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = OpenDispatcherDb("sqlite:" + dir_.File("dispatcher.db"), "dispatcher");
    ASSERT_NE(db_, nullptr);
    store_ = std::make_unique<ExecutionStore>(*db_, outbox_, kLease);
  }

  core::v1::Execution Queue(NewExecution e, int64_t now = 1000) {
    auto q = store_->Enqueue(e, now);
    EXPECT_TRUE(q.ok()) << q.status();
    return q.ok() ? q->execution : core::v1::Execution{};
  }

  std::vector<std::string> ClaimNames(const std::string& executor, int max, int64_t now,
                                      std::vector<std::string> pools = {""}) {
    auto claimed = store_->Claim(executor, pools, max, now);
    EXPECT_TRUE(claimed.ok()) << claimed.status();
    std::vector<std::string> names;
    if (claimed.ok()) {
      for (const auto& e : *claimed) names.push_back(e.name());
    }
    return names;
  }

  static constexpr int64_t kLease = 1000;
  testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
  store::Outbox outbox_{"optimus/dispatcher"};
  std::unique_ptr<ExecutionStore> store_;
  int64_t seen_ = 0;
};

TEST_F(ExecutionStoreTest, QueueingIsIdempotentByRequestKey) {
  NewExecution e = ShellTask("t", "true");
  e.request_key = "k1";
  auto first = store_->Enqueue(e, 1000);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->execution.state(), "queued");
  EXPECT_EQ(first->execution.attempt(), 1);
  EXPECT_EQ(first->execution.log_prefix(), "logs/p/t/" + first->execution.id() + "/");
  auto again = store_->Enqueue(e, 2000);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->execution.id(), first->execution.id());
  EXPECT_THAT(Types(RunEvents(*db_, &seen_)), ElementsAre("execution_queued"));
}

TEST_F(ExecutionStoreTest, ClaimsTakeHighestPriorityThenOldestWithinPoolsAndLimit) {
  Queue(ShellTask("low-old", "true", 1));
  Queue(ShellTask("high", "true", 9));
  Queue(ShellTask("low-new", "true", 1));
  Queue(ShellTask("gpu-only", "true", 99, "gpu"));
  EXPECT_THAT(ClaimNames("e1", 2, 2000), ElementsAre("high", "low-old"));
  EXPECT_THAT(ClaimNames("e2", 5, 2000), ElementsAre("low-new"));  // not the gpu pool's
  EXPECT_THAT(ClaimNames("e3", 5, 2000, {"", "gpu"}), ElementsAre("gpu-only"));
  EXPECT_THAT(ClaimNames("e3", 5, 2000, {"", "gpu"}), IsEmpty());
  // Capacity counts what the executor holds already.
  Queue(ShellTask("more-1", "true"));
  Queue(ShellTask("more-2", "true"));
  auto capped = store_->Claim("e1", {""}, 5, 2000, /*capacity=*/3);
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->size(), 1u);  // e1 holds two
  auto none = store_->Claim("e1", {""}, 5, 2000, /*capacity=*/1);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());  // over capacity: nothing, not everything
  auto held = store_->HeldByExecutor();
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(held->at("e1"), 3);
}

TEST_F(ExecutionStoreTest, ALeaseIsFencedByExecutorAndEpoch) {
  const auto queued = Queue(ShellTask("t", "true"));
  auto claimed = store_->Claim("e1", {""}, 1, 2000);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  const int64_t epoch = claimed->front().epoch();
  EXPECT_EQ(epoch, 1);
  EXPECT_EQ(store_->Start(queued.id(), "e2", epoch, 2100).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->Start(queued.id(), "e1", epoch + 1, 2100).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store_->Start(queued.id(), "e1", epoch, 2100).ok());
  EXPECT_TRUE(store_->Start(queued.id(), "e1", epoch, 2150).ok());  // repeated: no change
  ASSERT_TRUE(store_->Finish(queued.id(), "e1", epoch, State::kSucceeded, 0, "", 2200).ok());
  EXPECT_TRUE(store_->Finish(queued.id(), "e1", epoch, State::kSucceeded, 0, "", 2300).ok());
  absl::Status late =
      store_->Finish(queued.id(), "e1", epoch, State::kFailed, 1, "", 2300).status();
  EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(late.message(), HasSubstr("has ended (succeeded)"));
  auto e = store_->Get("p", queued.id());
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->state(), "succeeded");
  EXPECT_TRUE(e->has_exit_code());
  EXPECT_EQ(e->exit_code(), 0);
  EXPECT_EQ(e->executor_id(), "e1");
  EXPECT_THAT(Types(RunEvents(*db_, &seen_)),
              ElementsAre("execution_queued", "execution_leased", "task_start", "job_success"));
}

TEST_F(ExecutionStoreTest, AnExpiredLeaseIsQueuedAgainAndTheStaleExecutorIsRefused) {
  const auto queued = Queue(ShellTask("t", "true"));
  auto first = store_->Claim("e1", {""}, 1, 2000);
  ASSERT_TRUE(first.ok() && first->size() == 1);
  ASSERT_TRUE(store_->Start(queued.id(), "e1", 1, 2000).ok());
  // Renewed once, then silent.
  auto renewal = store_->Renew("e1", {{queued.id(), 1}}, 2500);
  ASSERT_TRUE(renewal.ok());
  EXPECT_THAT(renewal->renewed, ElementsAre(queued.id()));
  auto nothing = store_->ExpireLeases(3400);  // lease runs to 3500
  ASSERT_TRUE(nothing.ok());
  EXPECT_EQ(nothing->requeued, 0);
  auto expired = store_->ExpireLeases(3600);
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(expired->requeued, 1);
  auto second = store_->Claim("e2", {""}, 1, 3700);
  ASSERT_TRUE(second.ok() && second->size() == 1);
  EXPECT_EQ(second->front().attempt(), 2);
  EXPECT_EQ(second->front().epoch(), 2);
  // The first executor wakes up: every report of its lease is refused.
  absl::Status stale =
      store_->Finish(queued.id(), "e1", 1, State::kSucceeded, 0, "", 3800).status();
  EXPECT_EQ(stale.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(stale.message(), HasSubstr("lease no longer held"));
  auto lost = store_->Renew("e1", {{queued.id(), 1}}, 3800);
  ASSERT_TRUE(lost.ok());
  EXPECT_THAT(lost->lost, ElementsAre(queued.id()));
  ASSERT_TRUE(store_->Finish(queued.id(), "e2", 2, State::kFailed, 3, "boom", 3900).ok());
  auto events = RunEvents(*db_, &seen_);
  EXPECT_THAT(Types(events), ElementsAre("execution_queued", "execution_leased", "task_start",
                                         "task_retry", "execution_leased", "failure"));
  EXPECT_EQ(events.back().exit_code(), 3);
  EXPECT_EQ(events.back().executor_id(), "e2");
  EXPECT_EQ(events.back().attempt(), 2);
}

TEST_F(ExecutionStoreTest, TheLastAttemptFailsAndAskedCancellationsEnd) {
  NewExecution once = ShellTask("once", "true");
  once.max_attempts = 1;
  const auto a = Queue(once);
  const auto b = Queue(ShellTask("b", "true"));
  ASSERT_EQ(ClaimNames("e1", 2, 2000).size(), 2u);
  auto cancel = store_->Cancel("p", b.id(), 2100);
  ASSERT_TRUE(cancel.ok()) << cancel.status();
  EXPECT_TRUE(cancel->cancel_requested());
  EXPECT_EQ(cancel->state(), "leased");
  auto renewal = store_->Renew("e1", {{a.id(), 1}, {b.id(), 1}}, 2200);
  ASSERT_TRUE(renewal.ok());
  EXPECT_THAT(renewal->cancel, ElementsAre(b.id()));
  auto expired = store_->ExpireLeases(9000);
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(expired->failed, 1);
  EXPECT_EQ(expired->cancelled, 1);
  EXPECT_EQ(store_->Get("p", a.id())->state(), "failed");
  EXPECT_THAT(store_->Get("p", a.id())->message(), HasSubstr("attempt 1 of 1"));
  EXPECT_EQ(store_->Get("p", b.id())->state(), "cancelled");
}

TEST_F(ExecutionStoreTest, CancellingAQueuedExecutionEndsIt) {
  const auto a = Queue(ShellTask("a", "true"));
  auto cancelled = store_->Cancel("p", a.id(), 1500);
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->state(), "cancelled");
  EXPECT_THAT(ClaimNames("e1", 1, 2000), IsEmpty());
  EXPECT_EQ(store_->Cancel("p", a.id(), 1600).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->Cancel("other", a.id(), 1600).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ExecutionStoreTest, ARunPastItsDeadlineTimesOutWhenItsExecutorDoesNotStopIt) {
  NewExecution e = ShellTask("slow", "sleep 100");
  e.timeout_ms = 500;
  const auto queued = Queue(e);
  ASSERT_EQ(ClaimNames("e1", 1, 2000).size(), 1u);
  ASSERT_TRUE(store_->Start(queued.id(), "e1", 1, 2000).ok());
  // Heartbeats keep the lease; the deadline (2500) plus a lease passes.
  ASSERT_TRUE(store_->Renew("e1", {{queued.id(), 1}}, 3000).ok());
  ASSERT_TRUE(store_->Renew("e1", {{queued.id(), 1}}, 3400).ok());
  auto expired = store_->ExpireLeases(3600);
  ASSERT_TRUE(expired.ok());
  EXPECT_EQ(expired->timed_out, 1);
  EXPECT_EQ(store_->Get("p", queued.id())->state(), "timed_out");
}

TEST_F(ExecutionStoreTest, ListsNewestFirstWithFilters) {
  Queue(ShellTask("a", "true"));
  const auto b = Queue(ShellTask("b", "true"));
  const auto c = Queue(ShellTask("a", "true"));
  ASSERT_TRUE(store_->Cancel("p", b.id(), 1500).ok());
  auto all = store_->List({.project = "p"});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ(all->front().id(), c.id());
  EXPECT_EQ(store_->List({.project = "p", .name = "a"})->size(), 2u);
  EXPECT_EQ(store_->List({.project = "p", .states = {"cancelled"}})->size(), 1u);
  EXPECT_EQ(store_->List({.project = "p", .before_id = c.id()})->size(), 2u);
  EXPECT_EQ(store_->List({.project = "q"})->size(), 0u);
  EXPECT_EQ(store_->List({.project = "p", .states = {"done"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace optimus::dispatcher
