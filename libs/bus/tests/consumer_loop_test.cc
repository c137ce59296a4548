// Unit tests of ConsumerLoop against an in-memory consumer and publisher: order, retries,
// dead-lettering, commit timing, interruption.
#include "optimus/bus/consumer_loop.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <thread>

namespace optimus::bus {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using Clock = std::chrono::steady_clock;

Message Record(std::string payload, int32_t partition, int64_t offset,
               std::vector<Header> headers = {}) {
  Message m;
  m.topic = "orders";
  m.key = "k" + std::to_string(partition);
  m.payload = std::move(payload);
  m.partition = partition;
  m.offset = offset;
  m.headers = std::move(headers);
  return m;
}

// Hands out scripted poll results and records commits.
class ScriptedConsumer : public Consumer {
 public:
  void AddBatch(std::vector<Message> batch) { script_.emplace_back(std::move(batch)); }
  void AddError(absl::Status error) { script_.emplace_back(std::move(error)); }

  absl::Status Subscribe(const std::vector<std::string>&) override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<Message>> Poll(std::chrono::milliseconds timeout,
                                            size_t max_messages) override {
    ++polls;
    last_max = max_messages;
    if (script_.empty()) {
      std::this_thread::sleep_for(std::min(timeout, std::chrono::milliseconds(1)));
      return std::vector<Message>{};
    }
    auto next = std::move(script_.front());
    script_.pop_front();
    return next;
  }
  absl::Status Commit(const Message& message) override {
    if (!commit_error.ok()) return commit_error;
    commits.emplace_back(message.partition, message.offset);
    return absl::OkStatus();
  }
  void Close() override {}

  int polls = 0;
  size_t last_max = 0;
  absl::Status commit_error;
  std::vector<std::pair<int32_t, int64_t>> commits;  // (partition, offset) in commit order

 private:
  std::deque<absl::StatusOr<std::vector<Message>>> script_;
};

// Records what was published; fails the first `failures` calls.
class RecordingPublisher : public Publisher {
 public:
  absl::Status PublishBatch(const std::vector<OutgoingMessage>& messages) override {
    ++calls;
    if (failures > 0) {
      --failures;
      return absl::UnavailableError("dlq broker down");
    }
    published.insert(published.end(), messages.begin(), messages.end());
    return absl::OkStatus();
  }
  int calls = 0;
  int failures = 0;
  std::vector<OutgoingMessage> published;
};

ConsumerLoopOptions FastOptions() {
  ConsumerLoopOptions options;
  options.group = "billing";
  options.initial_backoff = std::chrono::milliseconds(1);
  options.max_backoff = std::chrono::milliseconds(4);
  options.poll_timeout = std::chrono::milliseconds(10);
  options.on_error = [](const absl::Status&) {};
  return options;
}

TEST(ConsumerLoopTest, HandlesInOrderThenCommitsLastRecordPerPartition) {
  ScriptedConsumer consumer;
  consumer.AddBatch({Record("a", 0, 10), Record("b", 1, 20), Record("c", 0, 11), Record("d", 1, 21),
                     Record("e", 0, 12)});
  RecordingPublisher dlq;
  std::vector<std::string> seen;
  size_t commits_during_handling = 0;
  ConsumerLoop loop(
      consumer, dlq,
      [&](const Message& m) {
        seen.push_back(m.payload);
        commits_during_handling += consumer.commits.size();
        return absl::OkStatus();
      },
      FastOptions());

  auto finished = loop.RunOnce();
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(*finished, 5u);
  EXPECT_THAT(seen, ElementsAre("a", "b", "c", "d", "e"));
  EXPECT_EQ(commits_during_handling, 0u);  // nothing committed before the batch's effects
  EXPECT_THAT(consumer.commits, ElementsAre(Pair(0, 12), Pair(1, 21)));
  EXPECT_EQ(loop.processed(), 5u);
  EXPECT_EQ(loop.retried(), 0u);
  EXPECT_EQ(loop.dead_lettered(), 0u);
  EXPECT_TRUE(dlq.published.empty());
  EXPECT_EQ(consumer.last_max, FastOptions().batch_size);
}

TEST(ConsumerLoopTest, BatchHandlerTakesTheWholePollAndCommitsOncePerPartition) {
  ScriptedConsumer consumer;
  consumer.AddBatch({Record("a", 0, 10), Record("b", 1, 20), Record("c", 0, 11)});
  RecordingPublisher dlq;
  int single_calls = 0;
  std::vector<size_t> batches;
  ConsumerLoopOptions options = FastOptions();
  options.batch_handler = [&](const std::vector<Message>& batch) {
    batches.push_back(batch.size());
    return absl::OkStatus();
  };
  ConsumerLoop loop(
      consumer, dlq,
      [&](const Message&) {
        ++single_calls;
        return absl::OkStatus();
      },
      options);
  auto finished = loop.RunOnce();
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(*finished, 3u);
  EXPECT_THAT(batches, ElementsAre(3u));
  EXPECT_EQ(single_calls, 0);
  EXPECT_THAT(consumer.commits, ElementsAre(Pair(0, 11), Pair(1, 20)));
  EXPECT_EQ(loop.processed(), 3u);
}

TEST(ConsumerLoopTest, AFullPollLingersForMoreAndATrickleGoesAtOnce) {
  ScriptedConsumer consumer;
  // A backlog: two full polls and a short one make one batch of the handler.
  consumer.AddBatch({Record("a", 0, 1), Record("b", 0, 2)});
  consumer.AddBatch({Record("c", 0, 3), Record("d", 0, 4)});
  consumer.AddBatch({Record("e", 0, 5)});
  RecordingPublisher dlq;
  std::vector<size_t> batches;
  int idle = 0;
  ConsumerLoopOptions options = FastOptions();
  options.batch_size = 2;
  options.max_batch = 10;
  options.max_linger = std::chrono::milliseconds(5000);
  options.on_idle = [&] { ++idle; };
  options.batch_handler = [&](const std::vector<Message>& batch) {
    batches.push_back(batch.size());
    return absl::OkStatus();
  };
  ConsumerLoop loop(
      consumer, dlq, [](const Message&) { return absl::OkStatus(); }, options);
  auto finished = loop.RunOnce();
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(*finished, 5u);
  EXPECT_THAT(batches, ElementsAre(5u));
  EXPECT_THAT(consumer.commits, ElementsAre(Pair(0, 5)));
  EXPECT_EQ(idle, 0);
  // A single record (a poll that is not full) is handled without polling again.
  consumer.AddBatch({Record("f", 0, 6)});
  const int polls = consumer.polls;
  ASSERT_TRUE(loop.RunOnce().ok());
  EXPECT_THAT(batches, ElementsAre(5u, 1u));
  EXPECT_EQ(consumer.polls, polls + 1);
  // Nothing left: the idle hook runs.
  ASSERT_TRUE(loop.RunOnce().ok());
  EXPECT_EQ(idle, 1);
}

TEST(ConsumerLoopTest, AnErrorWhileLingeringKeepsTheRecordsInHand) {
  ScriptedConsumer consumer;
  consumer.AddBatch({Record("a", 0, 1), Record("b", 0, 2)});
  consumer.AddError(absl::UnavailableError("broker: not coordinator"));
  consumer.AddBatch({Record("c", 0, 3)});
  RecordingPublisher dlq;
  std::vector<std::string> handled;
  ConsumerLoopOptions options = FastOptions();
  options.batch_size = 2;
  options.max_batch = 10;
  options.max_linger = std::chrono::milliseconds(5000);
  options.batch_handler = [&](const std::vector<Message>& batch) {
    for (const auto& m : batch) handled.push_back(m.payload);
    return absl::OkStatus();
  };
  ConsumerLoop loop(
      consumer, dlq, [](const Message&) { return absl::OkStatus(); }, options);
  auto finished = loop.RunOnce();
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(*finished, 2u);
  ASSERT_TRUE(loop.RunOnce().ok());
  EXPECT_THAT(handled, ElementsAre("a", "b", "c"));
  EXPECT_THAT(consumer.commits, ElementsAre(Pair(0, 2), Pair(0, 3)));
}

TEST(ConsumerLoopTest, FailedBatchFallsBackToRecordsAndDeadLettersOnlyThePoison) {
  ScriptedConsumer consumer;
  consumer.AddBatch({Record("a", 0, 10), Record("poison", 0, 11), Record("c", 0, 12)});
  RecordingPublisher dlq;
  std::vector<std::string> applied;
  ConsumerLoopOptions options = FastOptions();
  options.batch_handler = [](const std::vector<Message>&) {
    return absl::InvalidArgumentError("one record is bad; the batch rolled back");
  };
  std::vector<std::string> told;
  options.on_dead_letter = [&](const Message& m, const absl::Status& error) {
    told.push_back(m.payload + ": " + std::string(error.message()));
  };
  ConsumerLoop loop(
      consumer, dlq,
      [&](const Message& m) {
        if (m.payload == "poison") return absl::InvalidArgumentError("bad record");
        applied.push_back(m.payload);
        return absl::OkStatus();
      },
      options);
  auto finished = loop.RunOnce();
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(*finished, 3u);
  EXPECT_THAT(applied, ElementsAre("a", "c"));
  ASSERT_EQ(dlq.published.size(), 1u);
  EXPECT_EQ(dlq.published[0].payload, "poison");
  EXPECT_EQ(dlq.published[0].topic, "orders.dlq");
  EXPECT_THAT(consumer.commits, ElementsAre(Pair(0, 12)));
  EXPECT_THAT(told, ElementsAre("poison: bad record"));  // the owner hears of it once
}

class PoisonCodeTest : public ::testing::TestWithParam<absl::StatusCode> {};

TEST_P(PoisonCodeTest, GoesToDeadLetterTopicWithoutRetry) {
  ScriptedConsumer consumer;
  consumer.AddBatch({Record("ok1", 0, 1),
                     Record("poison", 0, 2, {{"ce_id", "id-2"}, {"ce_type", "x.v1"}}),
                     Record("ok3", 0, 3)});
  RecordingPublisher dlq;
  std::vector<std::string> seen;
  ConsumerLoop loop(
      consumer, dlq,
      [&](const Message& m) {
        seen.push_back(m.payload);
        if (m.payload == "poison") return absl::Status(GetParam(), "field x is missing");
        return absl::OkStatus();
      },
      FastOptions());

  auto finished = loop.RunOnce();
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(*finished, 3u);
  EXPECT_THAT(seen, ElementsAre("ok1", "poison", "ok3"));
  EXPECT_EQ(loop.processed(), 2u);
  EXPECT_EQ(loop.retried(), 0u);
  EXPECT_EQ(loop.dead_lettered(), 1u);
  EXPECT_THAT(consumer.commits, ElementsAre(Pair(0, 3)));
  ASSERT_EQ(dlq.published.size(), 1u);
  const OutgoingMessage& dead = dlq.published[0];
  EXPECT_EQ(dead.topic, "orders.dlq");
  EXPECT_EQ(dead.key, "k0");
  EXPECT_EQ(dead.payload, "poison");
  const std::string error = absl::Status(GetParam(), "field x is missing").ToString();
  EXPECT_THAT(dead.headers,
              ElementsAre(Pair("ce_id", "id-2"), Pair("ce_type", "x.v1"),
                          Pair(kDlqOriginTopic, "orders"), Pair(kDlqOriginPartition, "0"),
                          Pair(kDlqOriginOffset, "2"), Pair(kDlqError, error),
                          Pair(kDlqAttempts, "1"), Pair(kDlqConsumerGroup, "billing")));
}

INSTANTIATE_TEST_SUITE_P(PoisonCodes, PoisonCodeTest,
                         ::testing::Values(absl::StatusCode::kInvalidArgument,
                                           absl::StatusCode::kFailedPrecondition,
                                           absl::StatusCode::kDataLoss));

TEST(ConsumerLoopTest, RetriesTransientErrorsWithBackoffThenSucceeds) {
  ScriptedConsumer consumer;
  consumer.AddBatch({Record("flaky", 0, 5), Record("next", 0, 6)});
  RecordingPublisher dlq;
  std::vector<std::string> seen;
  int failures_left = 2;
  ConsumerLoopOptions options = FastOptions();
  options.initial_backoff = std::chrono::milliseconds(20);
  options.max_backoff = std::chrono::milliseconds(1000);
  ConsumerLoop loop(
      consumer, dlq,
      [&](const Message& m) {
        seen.push_back(m.payload);
        if (m.payload == "flaky" && failures_left-- > 0) {
          return absl::UnavailableError("database is restarting");
        }
        return absl::OkStatus();
      },
      options);

  const auto start = Clock::now();
  auto finished = loop.RunOnce();
  const auto elapsed = Clock::now() - start;
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(*finished, 2u);
  EXPECT_THAT(seen, ElementsAre("flaky", "flaky", "flaky", "next"));
  EXPECT_EQ(loop.processed(), 2u);
  EXPECT_EQ(loop.retried(), 2u);
  EXPECT_EQ(loop.dead_lettered(), 0u);
  EXPECT_TRUE(dlq.published.empty());
  EXPECT_GE(elapsed, std::chrono::milliseconds(20 + 40));  // backoff doubles: 20 ms, then 40 ms
  EXPECT_THAT(consumer.commits, ElementsAre(Pair(0, 6)));
}

TEST(ConsumerLoopTest, DeadLettersAfterMaxAttempts) {
  ScriptedConsumer consumer;
  consumer.AddBatch({Record("doomed", 0, 7), Record("after", 0, 8)});
  RecordingPublisher dlq;
  int doomed_calls = 0;
  ConsumerLoopOptions options = FastOptions();
  options.max_attempts = 3;
  ConsumerLoop loop(
      consumer, dlq,
      [&](const Message& m) {
        if (m.payload != "doomed") return absl::OkStatus();
        ++doomed_calls;
        return absl::InternalError("attempt " + std::to_string(doomed_calls) + " failed");
      },
      options);

  auto finished = loop.RunOnce();
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(doomed_calls, 3);
  EXPECT_EQ(loop.retried(), 2u);
  EXPECT_EQ(loop.dead_lettered(), 1u);
  EXPECT_EQ(loop.processed(), 1u);
  ASSERT_EQ(dlq.published.size(), 1u);
  const Message as_consumed{.headers = dlq.published[0].headers};
  EXPECT_EQ(as_consumed.HeaderValue(kDlqAttempts), "3");
  EXPECT_EQ(as_consumed.HeaderValue(kDlqError), "INTERNAL: attempt 3 failed");
  EXPECT_THAT(consumer.commits, ElementsAre(Pair(0, 8)));
}

// A database restart: every attempt fails while the handler's dependencies are down, many more
// times than max_attempts, and the record is handled once they are back; nothing is dead-lettered.
TEST(ConsumerLoopTest, AnOutageOfTheDependenciesNeverDeadLettersARecord) {
  ScriptedConsumer consumer;
  consumer.AddBatch({Record("kept", 0, 3), Record("next", 0, 4)});
  RecordingPublisher dlq;
  int calls = 0;
  bool database_up = false;
  ConsumerLoopOptions options = FastOptions();
  options.max_attempts = 3;
  options.dependencies = [&] {
    return database_up ? absl::OkStatus() : absl::UnavailableError("database restarting");
  };
  std::vector<std::string> reported;
  options.on_error = [&](const absl::Status& s) { reported.emplace_back(s.message()); };
  ConsumerLoop loop(
      consumer, dlq,
      [&](const Message& m) {
        if (m.payload != "kept") return absl::OkStatus();
        if (++calls == 10) database_up = true;  // back after ten failed attempts
        return calls <= 10 ? absl::UnavailableError("connection lost") : absl::OkStatus();
      },
      options);

  auto finished = loop.RunOnce();
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(*finished, 2u);
  EXPECT_EQ(calls, 11);
  EXPECT_EQ(loop.dead_lettered(), 0u);
  EXPECT_TRUE(dlq.published.empty());
  EXPECT_EQ(loop.processed(), 2u);
  EXPECT_THAT(consumer.commits, ElementsAre(Pair(0, 4)));
  ASSERT_FALSE(reported.empty());
  EXPECT_THAT(reported[0], HasSubstr("through an outage (database restarting): connection lost"));
}

// With the dependencies healthy, a record that keeps failing is its own problem: dead-lettered
// after max_attempts as before. A poison record never waits for the dependencies.
TEST(ConsumerLoopTest, HealthyDependenciesLeaveTheAttemptLimitInForce) {
  ScriptedConsumer consumer;
  consumer.AddBatch({Record("doomed", 0, 1), Record("poison", 0, 2)});
  RecordingPublisher dlq;
  int checks = 0;
  ConsumerLoopOptions options = FastOptions();
  options.max_attempts = 3;
  options.dependencies = [&] {
    ++checks;
    return absl::OkStatus();
  };
  ConsumerLoop loop(
      consumer, dlq,
      [&](const Message& m) {
        return m.payload == "poison" ? absl::InvalidArgumentError("not a record")
                                     : absl::UnavailableError("its own storage is away");
      },
      options);

  auto finished = loop.RunOnce();
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(loop.dead_lettered(), 2u);
  EXPECT_EQ(checks, 3);  // once per failed attempt of "doomed", never for the poison one
}

TEST(ConsumerLoopTest, FailedDeadLetterPublishKeepsRecordPendingAndSkipsNothing) {
  ScriptedConsumer consumer;
  consumer.AddBatch({Record("r1", 0, 1), Record("poison", 0, 2), Record("r3", 0, 3)});
  consumer.AddBatch({Record("r4", 0, 4)});
  RecordingPublisher dlq;
  dlq.failures = 1;
  std::vector<std::string> seen;
  ConsumerLoop loop(
      consumer, dlq,
      [&](const Message& m) {
        seen.push_back(m.payload);
        if (m.payload == "poison") return absl::DataLossError("truncated protobuf");
        return absl::OkStatus();
      },
      FastOptions());

  auto first = loop.RunOnce();
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(first.status().message()),
              HasSubstr("dead-lettering orders/0@2 to orders.dlq"));
  EXPECT_THAT(std::string(first.status().message()), HasSubstr("dlq broker down"));
  EXPECT_THAT(consumer.commits, ElementsAre(Pair(0, 1)));  // r1 only: the poison is not done
  EXPECT_EQ(consumer.polls, 1);

  auto second = loop.RunOnce();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, 2u);        // the poison record and r3, from the first poll
  EXPECT_EQ(consumer.polls, 1);  // finished the pending records before polling again
  EXPECT_THAT(seen, ElementsAre("r1", "poison", "r3"));  // the handler did not run again
  EXPECT_EQ(dlq.calls, 2);
  ASSERT_EQ(dlq.published.size(), 1u);
  EXPECT_EQ(dlq.published[0].payload, "poison");
  EXPECT_THAT(consumer.commits, ElementsAre(Pair(0, 1), Pair(0, 3)));

  auto third = loop.RunOnce();
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_THAT(seen, ElementsAre("r1", "poison", "r3", "r4"));
  EXPECT_EQ(consumer.polls, 2);
}

TEST(ConsumerLoopTest, StopDuringBackoffCancelsAndKeepsTheRecord) {
  ScriptedConsumer consumer;
  consumer.AddBatch({Record("done", 0, 1), Record("stuck", 0, 2)});
  RecordingPublisher dlq;
  std::vector<int64_t> offsets_seen;
  bool heal = false;
  ConsumerLoopOptions options = FastOptions();
  options.initial_backoff = std::chrono::seconds(30);
  options.max_backoff = std::chrono::seconds(30);
  ConsumerLoop loop(
      consumer, dlq,
      [&](const Message& m) {
        offsets_seen.push_back(m.offset);
        if (m.payload == "stuck" && !heal) return absl::UnavailableError("downstream busy");
        return absl::OkStatus();
      },
      options);

  std::stop_source stop;
  std::jthread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    stop.request_stop();
  });
  const auto start = Clock::now();
  auto interrupted = loop.RunOnce(stop.get_token());
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  ASSERT_FALSE(interrupted.ok());
  EXPECT_EQ(interrupted.status().code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(std::string(interrupted.status().message()), HasSubstr("orders/0@2"));
  EXPECT_THAT(consumer.commits, ElementsAre(Pair(0, 1)));
  EXPECT_TRUE(dlq.published.empty());

  heal = true;
  auto resumed = loop.RunOnce();
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_THAT(offsets_seen, ElementsAre(1, 2, 2));
  EXPECT_THAT(consumer.commits, ElementsAre(Pair(0, 1), Pair(0, 2)));
}

TEST(ConsumerLoopTest, StopBetweenRecordsLeavesTheRestPending) {
  ScriptedConsumer consumer;
  consumer.AddBatch({Record("a", 0, 1), Record("b", 0, 2), Record("c", 0, 3)});
  RecordingPublisher dlq;
  std::stop_source stop;
  std::vector<std::string> seen;
  ConsumerLoop loop(
      consumer, dlq,
      [&](const Message& m) {
        seen.push_back(m.payload);
        if (m.payload == "a") stop.request_stop();  // SIGTERM arrives while "a" is handled
        return absl::OkStatus();
      },
      FastOptions());

  auto finished = loop.RunOnce(stop.get_token());
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(*finished, 1u);
  EXPECT_THAT(seen, ElementsAre("a"));
  EXPECT_THAT(consumer.commits, ElementsAre(Pair(0, 1)));

  auto rest = loop.RunOnce();
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_THAT(seen, ElementsAre("a", "b", "c"));
  EXPECT_EQ(consumer.polls, 1);
}

TEST(ConsumerLoopTest, CommitFailureIsReturnedAfterTheEffects) {
  ScriptedConsumer consumer;
  consumer.AddBatch({Record("a", 0, 1)});
  consumer.commit_error = absl::AbortedError("partition moved to another member");
  RecordingPublisher dlq;
  int handled = 0;
  ConsumerLoop loop(
      consumer, dlq,
      [&](const Message&) {
        ++handled;
        return absl::OkStatus();
      },
      FastOptions());
  auto result = loop.RunOnce();
  EXPECT_EQ(handled, 1);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(loop.processed(), 1u);
}

TEST(ConsumerLoopTest, RunReportsRecoverableErrorsAndReturnsWhenStopped) {
  ScriptedConsumer consumer;
  consumer.AddError(absl::UnavailableError("broker restarting"));
  consumer.AddError(absl::DeadlineExceededError("coordinator slow"));
  consumer.AddBatch({Record("a", 0, 1), Record("b", 0, 2)});
  RecordingPublisher dlq;
  std::stop_source stop;
  std::vector<absl::Status> errors;
  ConsumerLoopOptions options = FastOptions();
  options.on_error = [&](const absl::Status& s) { errors.push_back(s); };
  ConsumerLoop loop(
      consumer, dlq,
      [&](const Message& m) {
        if (m.payload == "b") stop.request_stop();
        return absl::OkStatus();
      },
      options);

  std::jthread watchdog([&](std::stop_token done) {
    // Fails the test instead of hanging it if Run ignored the stop request.
    for (int i = 0; i < 500 && !done.stop_requested(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    stop.request_stop();
  });
  const absl::Status result = loop.Run(stop.get_token());
  watchdog.request_stop();
  EXPECT_TRUE(result.ok()) << result;
  EXPECT_EQ(loop.processed(), 2u);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(errors[1].code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(consumer.commits, ElementsAre(Pair(0, 2)));
}

TEST(ConsumerLoopTest, RunReturnsUnrecoverableErrors) {
  ScriptedConsumer consumer;
  consumer.AddError(absl::InternalError("consumer fenced: unusable"));
  RecordingPublisher dlq;
  ConsumerLoop loop(
      consumer, dlq, [](const Message&) { return absl::OkStatus(); }, FastOptions());
  std::stop_source stop;
  const absl::Status result = loop.Run(stop.get_token());
  EXPECT_EQ(result.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(result.message(), "consumer fenced: unusable");
}

TEST(DeadLetterRecordTest, ReplacesOlderDeadLetterHeadersAndCapsTheError) {
  Message m = Record(
      "p", 3, 99,
      {{"ce_id", "x"}, {kDlqError, "old failure"}, {kDlqAttempts, "5"}, {"traceparent", "00-abc"}});
  const absl::Status error = absl::InvalidArgumentError(std::string(10000, 'e'));
  const OutgoingMessage out = DeadLetterRecord(m, error, 1, "g");
  std::vector<std::string> names;
  for (const auto& [name, value] : out.headers) names.push_back(name);
  EXPECT_THAT(names, ElementsAre("ce_id", "traceparent", kDlqOriginTopic, kDlqOriginPartition,
                                 kDlqOriginOffset, kDlqError, kDlqAttempts, kDlqConsumerGroup));
  const Message as_consumed{.headers = out.headers};
  EXPECT_EQ(as_consumed.HeaderValue(kDlqError)->size(), 4096u);
  EXPECT_EQ(as_consumed.HeaderValue(kDlqOriginPartition), "3");
  EXPECT_EQ(as_consumed.HeaderValue(kDlqOriginOffset), "99");
}

TEST(IsPoisonTest, OnlyRecordFaultsArePoison) {
  EXPECT_TRUE(IsPoison(absl::InvalidArgumentError("")));
  EXPECT_TRUE(IsPoison(absl::FailedPreconditionError("")));
  EXPECT_TRUE(IsPoison(absl::DataLossError("")));
  EXPECT_FALSE(IsPoison(absl::UnavailableError("")));
  EXPECT_FALSE(IsPoison(absl::InternalError("")));
  EXPECT_FALSE(IsPoison(absl::DeadlineExceededError("")));
  EXPECT_FALSE(IsPoison(absl::OkStatus()));
}

}  // namespace
}  // namespace optimus::bus
