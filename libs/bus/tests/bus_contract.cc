// The bus contract's test cases; compiled into each adapter's test binary (see bus_contract.h).
#include "bus_contract.h"

#include <gmock/gmock.h>

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "optimus/bus/consumer_loop.h"
#include "optimus/testing/testing.h"

namespace optimus::bus::contract {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

std::vector<std::string> Payloads(const std::vector<Message>& messages) {
  std::vector<std::string> out;
  for (const Message& m : messages) out.push_back(m.payload);
  return out;
}

std::vector<OutgoingMessage> Records(const std::string& topic, const std::string& key,
                                     const std::vector<std::string>& payloads) {
  std::vector<OutgoingMessage> out;
  for (const std::string& p : payloads) out.push_back({.topic = topic, .key = key, .payload = p});
  return out;
}

// Passes every batch on to the real publisher and keeps what it accepted.
class RecordingPublisher : public Publisher {
 public:
  explicit RecordingPublisher(Publisher& inner) : inner_(inner) {}
  absl::Status PublishBatch(const std::vector<OutgoingMessage>& messages) override {
    absl::Status s = inner_.PublishBatch(messages);
    if (s.ok()) accepted.insert(accepted.end(), messages.begin(), messages.end());
    return s;
  }
  std::vector<OutgoingMessage> accepted;

 private:
  Publisher& inner_;
};

ConsumerLoopOptions LoopOptions(const std::string& group) {
  ConsumerLoopOptions options;
  options.group = group;
  options.initial_backoff = std::chrono::milliseconds(10);
  options.max_backoff = std::chrono::milliseconds(100);
  options.poll_timeout = std::chrono::milliseconds(200);
  return options;
}

// Drives the loop until `done` or the arrival timeout; every RunOnce must succeed.
void RunUntil(ConsumerLoop& loop, const std::function<bool()>& done) {
  const Clock::time_point deadline = Clock::now() + kArrivalTimeout;
  while (!done()) {
    ASSERT_LT(Clock::now(), deadline) << "the consumer loop did not finish the records in time";
    auto finished = loop.RunOnce();
    ASSERT_TRUE(finished.ok()) << finished.status();
  }
}

}  // namespace

std::string BusFactoryName(const ::testing::TestParamInfo<BusFactory>& info) {
  return info.param.name;
}

void PrintTo(const BusFactory& factory, std::ostream* os) { *os << factory.name; }

void BusContractTest::SetUp() {
  if (!GetParam().infra_env.empty()) {
    OPTIMUS_REQUIRE_INFRA(GetParam().infra_env.c_str());
  }
  bus_ = GetParam().make();
  ASSERT_NE(bus_, nullptr) << "the " << GetParam().name << " factory made no bus";
}

std::string BusContractTest::NewTopic(std::string_view what) {
  return absl::StrCat("contract.", std::string(what), ".", ::optimus::testing::UniqueSuffix());
}

std::string BusContractTest::NewGroup(std::string_view what) {
  return absl::StrCat("contract-", std::string(what), "-", ::optimus::testing::UniqueSuffix());
}

std::unique_ptr<Publisher> BusContractTest::MakePublisher() {
  auto publisher = bus_->NewPublisher();
  EXPECT_TRUE(publisher.ok()) << publisher.status();
  return publisher.ok() ? std::move(*publisher) : nullptr;
}

std::unique_ptr<Consumer> BusContractTest::MakeSubscribedConsumer(
    const std::string& group, const std::vector<std::string>& topics) {
  auto consumer = bus_->NewConsumer(group);
  EXPECT_TRUE(consumer.ok()) << consumer.status();
  if (!consumer.ok()) return nullptr;
  absl::Status subscribed = (*consumer)->Subscribe(topics);
  EXPECT_TRUE(subscribed.ok()) << subscribed;
  return subscribed.ok() ? std::move(*consumer) : nullptr;
}

std::vector<Message> PollAtLeast(Consumer& consumer, size_t count,
                                 std::chrono::milliseconds timeout) {
  std::vector<Message> out;
  const Clock::time_point deadline = Clock::now() + timeout;
  while (out.size() < count && Clock::now() < deadline) {
    auto batch = consumer.Poll(std::chrono::milliseconds(250), count - out.size());
    if (!batch.ok()) {
      // Transient conditions (a group still forming) are retried until the deadline.
      continue;
    }
    for (Message& m : *batch) out.push_back(std::move(m));
  }
  return out;
}

TEST_P(BusContractTest, DeliversEveryRecordInKeyOrderWithHeadersIntact) {
  const std::string topic = NewTopic("order");
  ASSERT_TRUE(bus_->EnsureTopic(topic, 3).ok());
  auto publisher = MakePublisher();
  ASSERT_NE(publisher, nullptr);

  constexpr int kKeys = 5;
  constexpr int kPerKey = 10;
  std::vector<OutgoingMessage> sent;
  for (int seq = 0; seq < kPerKey; ++seq) {
    for (int k = 0; k < kKeys; ++k) {
      const std::string key = absl::StrCat("project-", k, "/job");
      sent.push_back({.topic = topic,
                      .key = key,
                      .payload = absl::StrCat(key, "#", seq),
                      .headers = {{kCeId, absl::StrCat("id-", k, "-", seq)},
                                  {kCeType, "optimus.test.v1"},
                                  {"bin", absl::StrCat(std::string("\0\x01\xff", 3), seq)},
                                  {"dup", "first"},
                                  {"dup", "second"}}});
    }
  }
  // Two batches: order also holds across PublishBatch calls.
  const std::vector<OutgoingMessage> first(sent.begin(), sent.begin() + sent.size() / 2);
  const std::vector<OutgoingMessage> second(sent.begin() + sent.size() / 2, sent.end());
  ASSERT_TRUE(publisher->PublishBatch(first).ok());
  ASSERT_TRUE(publisher->PublishBatch(second).ok());

  auto consumer = MakeSubscribedConsumer(NewGroup("order"), {topic});
  ASSERT_NE(consumer, nullptr);
  const std::vector<Message> got = PollAtLeast(*consumer, sent.size());
  ASSERT_EQ(got.size(), sent.size());

  std::map<std::string, std::vector<const Message*>> got_by_key;
  std::map<int32_t, int64_t> last_offset;
  for (const Message& m : got) {
    EXPECT_EQ(m.topic, topic);
    got_by_key[m.key].push_back(&m);
    if (auto it = last_offset.find(m.partition); it != last_offset.end()) {
      EXPECT_GT(m.offset, it->second) << "partition " << m.partition << " went backwards";
    }
    last_offset[m.partition] = m.offset;
  }
  std::map<std::string, std::vector<const OutgoingMessage*>> sent_by_key;
  for (const OutgoingMessage& m : sent) sent_by_key[m.key].push_back(&m);
  ASSERT_EQ(got_by_key.size(), sent_by_key.size());
  for (const auto& [key, expected] : sent_by_key) {
    const std::vector<const Message*>& actual = got_by_key[key];
    ASSERT_EQ(actual.size(), expected.size()) << key;
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(actual[i]->payload, expected[i]->payload) << key << " out of order at " << i;
      EXPECT_EQ(actual[i]->headers, expected[i]->headers) << key << " #" << i;
      EXPECT_EQ(actual[i]->partition, actual[0]->partition) << key << " changed partition";
    }
  }
}

TEST_P(BusContractTest, SameKeyAlwaysLandsOnTheSamePartition) {
  const std::string topic = NewTopic("keys");
  ASSERT_TRUE(bus_->EnsureTopic(topic, 3).ok());
  auto first = MakePublisher();
  auto second = MakePublisher();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);

  constexpr int kKeys = 12;
  std::vector<OutgoingMessage> batch;
  for (int k = 0; k < kKeys; ++k) {
    batch.push_back({.topic = topic, .key = absl::StrCat("tenant-", k), .payload = "a"});
  }
  ASSERT_TRUE(first->PublishBatch(batch).ok());
  ASSERT_TRUE(second->PublishBatch(batch).ok());                               // another client
  for (const OutgoingMessage& m : batch) ASSERT_TRUE(first->Publish(m).ok());  // one at a time

  auto consumer = MakeSubscribedConsumer(NewGroup("keys"), {topic});
  ASSERT_NE(consumer, nullptr);
  const std::vector<Message> got = PollAtLeast(*consumer, 3 * kKeys);
  ASSERT_EQ(got.size(), 3u * kKeys);
  std::map<std::string, std::set<int32_t>> partitions_of_key;
  std::set<int32_t> used;
  for (const Message& m : got) {
    partitions_of_key[m.key].insert(m.partition);
    used.insert(m.partition);
    EXPECT_GE(m.partition, 0);
    EXPECT_LT(m.partition, 3);
  }
  ASSERT_EQ(partitions_of_key.size(), static_cast<size_t>(kKeys));
  for (const auto& [key, partitions] : partitions_of_key) {
    EXPECT_EQ(partitions.size(), 1u) << key << " spread over several partitions";
  }
  EXPECT_GE(used.size(), 2u) << "12 keys all hashed to one partition";
}

TEST_P(BusContractTest, NewConsumerOfTheGroupResumesAfterTheCommit) {
  const std::string topic = NewTopic("resume");
  const std::string group = NewGroup("resume");
  ASSERT_TRUE(bus_->EnsureTopic(topic, 1).ok());
  auto publisher = MakePublisher();
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(publisher
                  ->PublishBatch(Records(
                      topic, "k", {"r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9"}))
                  .ok());

  std::vector<Message> first_read;
  {
    auto consumer = MakeSubscribedConsumer(group, {topic});
    ASSERT_NE(consumer, nullptr);
    first_read = PollAtLeast(*consumer, 10);
    ASSERT_EQ(first_read.size(), 10u);
    ASSERT_TRUE(consumer->Commit(first_read[5]).ok());
    consumer->Close();
  }
  auto consumer = MakeSubscribedConsumer(group, {topic});
  ASSERT_NE(consumer, nullptr);
  const std::vector<Message> resumed = PollAtLeast(*consumer, 4);
  EXPECT_THAT(Payloads(resumed), ElementsAre("r6", "r7", "r8", "r9"));
  ASSERT_EQ(resumed.size(), 4u);
  EXPECT_EQ(resumed[0].offset, first_read[6].offset);
}

TEST_P(BusContractTest, UncommittedRecordsAreRedeliveredToTheGroup) {
  const std::string topic = NewTopic("redeliver");
  const std::string group = NewGroup("redeliver");
  ASSERT_TRUE(bus_->EnsureTopic(topic, 1).ok());
  auto publisher = MakePublisher();
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(publisher->PublishBatch(Records(topic, "k", {"a", "b", "c", "d", "e"})).ok());

  std::vector<Message> first_read;
  {
    auto consumer = MakeSubscribedConsumer(group, {topic});
    ASSERT_NE(consumer, nullptr);
    first_read = PollAtLeast(*consumer, 5);
    ASSERT_EQ(first_read.size(), 5u);
    consumer->Close();  // no commit: as if the service died before the effects were durable
  }
  auto consumer = MakeSubscribedConsumer(group, {topic});
  ASSERT_NE(consumer, nullptr);
  const std::vector<Message> again = PollAtLeast(*consumer, 5);
  EXPECT_THAT(Payloads(again), ElementsAre("a", "b", "c", "d", "e"));
  ASSERT_EQ(again.size(), 5u);
  for (size_t i = 0; i < again.size(); ++i) EXPECT_EQ(again[i].offset, first_read[i].offset);
}

TEST_P(BusContractTest, EveryGroupGetsEveryRecord) {
  const std::string topic = NewTopic("groups");
  ASSERT_TRUE(bus_->EnsureTopic(topic, 3).ok());
  auto publisher = MakePublisher();
  ASSERT_NE(publisher, nullptr);
  std::vector<OutgoingMessage> sent;
  std::set<std::string> payloads;
  for (int i = 0; i < 9; ++i) {
    sent.push_back({.topic = topic, .key = absl::StrCat("k", i), .payload = absl::StrCat("p", i)});
    payloads.insert(absl::StrCat("p", i));
  }
  ASSERT_TRUE(publisher->PublishBatch(sent).ok());

  auto billing = MakeSubscribedConsumer(NewGroup("billing"), {topic});
  auto audit = MakeSubscribedConsumer(NewGroup("audit"), {topic});
  ASSERT_NE(billing, nullptr);
  ASSERT_NE(audit, nullptr);
  for (Consumer* consumer : {billing.get(), audit.get()}) {
    const std::vector<std::string> got = Payloads(PollAtLeast(*consumer, sent.size()));
    EXPECT_EQ(got.size(), sent.size());
    EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), payloads);
  }
}

TEST_P(BusContractTest, EnsureTopicIsIdempotentAndRejectsBadArguments) {
  const std::string topic = NewTopic("ensure");
  EXPECT_TRUE(bus_->EnsureTopic(topic, 2).ok());
  EXPECT_TRUE(bus_->EnsureTopic(topic, 2).ok());
  EXPECT_TRUE(bus_->EnsureTopic(topic, 4).ok()) << "an existing topic is left as it is";
  EXPECT_EQ(bus_->EnsureTopic(topic, 0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bus_->EnsureTopic("", 1).code(), absl::StatusCode::kInvalidArgument);

  auto publisher = MakePublisher();
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(publisher->Publish({.topic = topic, .key = "k", .payload = "still works"}).ok());
  auto consumer = MakeSubscribedConsumer(NewGroup("ensure"), {topic});
  ASSERT_NE(consumer, nullptr);
  EXPECT_THAT(Payloads(PollAtLeast(*consumer, 1)), ElementsAre("still works"));
}

TEST_P(BusContractTest, EmptyAndBinaryPayloadsKeysAndHeadersRoundTrip) {
  const std::string topic = NewTopic("bytes");
  ASSERT_TRUE(bus_->EnsureTopic(topic, 1).ok());
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
  const std::vector<OutgoingMessage> sent = {
      {.topic = topic, .key = "empty", .payload = ""},
      {.topic = topic, .key = "nul", .payload = std::string(1, '\0')},
      {.topic = topic,
       .key = std::string("k\0y", 3),
       .payload = all_bytes,
       .headers = {{"empty", ""}, {"binary", std::string("\0\xff\0", 3)}}},
      {.topic = topic, .key = "", .payload = "no key"},
      {.topic = topic, .key = "big", .payload = std::string(200 * 1024, 'x') + all_bytes},
  };
  auto publisher = MakePublisher();
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(publisher->PublishBatch(sent).ok());

  auto consumer = MakeSubscribedConsumer(NewGroup("bytes"), {topic});
  ASSERT_NE(consumer, nullptr);
  const std::vector<Message> got = PollAtLeast(*consumer, sent.size());
  ASSERT_EQ(got.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(got[i].key, sent[i].key) << i;
    EXPECT_EQ(got[i].payload.size(), sent[i].payload.size()) << i;
    EXPECT_TRUE(got[i].payload == sent[i].payload) << "payload " << i << " changed";
    EXPECT_EQ(got[i].headers, sent[i].headers) << i;
  }
}

TEST_P(BusContractTest, TombstonesAreDistinctFromEmptyPayloadsOnCompactedTopics) {
  const std::string topic = NewTopic("compacted");
  TopicConfig config;
  config.partitions = 2;
  config.compacted = true;
  ASSERT_TRUE(bus_->EnsureTopic(topic, config).ok());
  auto publisher = MakePublisher();
  ASSERT_NE(publisher, nullptr);
  OutgoingMessage empty{topic, "job-a", "", {}};
  OutgoingMessage deleted{topic, "job-a", "ignored", {}};
  deleted.tombstone = true;
  ASSERT_TRUE(publisher->PublishBatch({empty, deleted}).ok());
  auto consumer = MakeSubscribedConsumer(NewGroup("compacted"), {topic});
  ASSERT_NE(consumer, nullptr);
  auto got = PollAtLeast(*consumer, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_FALSE(got[0].tombstone);
  EXPECT_EQ(got[0].payload, "");
  EXPECT_TRUE(got[1].tombstone);
  EXPECT_EQ(got[1].payload, "");
  EXPECT_EQ(got[1].key, "job-a");
}

TEST_P(BusContractTest, LoopDeadLettersPoisonRecordAndLaterRecordsStillFlow) {
  const std::string topic = NewTopic("poison");
  const std::string group = NewGroup("poison");
  ASSERT_TRUE(bus_->EnsureTopic(topic, 1).ok());
  ASSERT_TRUE(bus_->EnsureTopic(DeadLetterTopic(topic), 1).ok());
  auto publisher = MakePublisher();
  ASSERT_NE(publisher, nullptr);
  std::vector<OutgoingMessage> sent = Records(topic, "job-1", {"r0", "r1", "poison", "r3", "r4"});
  sent[2].headers = {{kCeId, "poison-id"}, {kCeType, "optimus.test.v1"}};
  ASSERT_TRUE(publisher->PublishBatch(sent).ok());

  std::vector<Message> seen;
  {
    auto consumer = MakeSubscribedConsumer(group, {topic});
    ASSERT_NE(consumer, nullptr);
    ConsumerLoop loop(
        *consumer, *publisher,
        [&](const Message& m) {
          seen.push_back(m);
          if (m.payload == "poison") return absl::InvalidArgumentError("cannot decode: poison");
          return absl::OkStatus();
        },
        LoopOptions(group));
    RunUntil(loop, [&] { return loop.processed() + loop.dead_lettered() >= 5; });
    EXPECT_EQ(loop.processed(), 4u);
    EXPECT_EQ(loop.dead_lettered(), 1u);
    EXPECT_EQ(loop.retried(), 0u);
    consumer->Close();
  }
  EXPECT_THAT(Payloads(seen), ElementsAre("r0", "r1", "poison", "r3", "r4"));
  ASSERT_EQ(seen.size(), 5u);

  auto dlq_consumer = MakeSubscribedConsumer(NewGroup("dlq-reader"), {DeadLetterTopic(topic)});
  ASSERT_NE(dlq_consumer, nullptr);
  const std::vector<Message> dead = PollAtLeast(*dlq_consumer, 1);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].topic, DeadLetterTopic(topic));
  EXPECT_EQ(dead[0].key, "job-1");
  EXPECT_EQ(dead[0].payload, "poison");
  EXPECT_EQ(dead[0].HeaderValue(kCeId), "poison-id");
  EXPECT_EQ(dead[0].HeaderValue(kCeType), "optimus.test.v1");
  EXPECT_EQ(dead[0].HeaderValue(kDlqOriginTopic), topic);
  EXPECT_EQ(dead[0].HeaderValue(kDlqOriginPartition), std::to_string(seen[2].partition));
  EXPECT_EQ(dead[0].HeaderValue(kDlqOriginOffset), std::to_string(seen[2].offset));
  EXPECT_THAT(dead[0].HeaderValue(kDlqError).value_or(""),
              HasSubstr("INVALID_ARGUMENT: cannot decode: poison"));
  EXPECT_EQ(dead[0].HeaderValue(kDlqAttempts), "1");
  EXPECT_EQ(dead[0].HeaderValue(kDlqConsumerGroup), group);

  // Everything, the poison record included, was committed: the group sees only what is new.
  ASSERT_TRUE(publisher->Publish({.topic = topic, .key = "job-1", .payload = "r5"}).ok());
  auto next = MakeSubscribedConsumer(group, {topic});
  ASSERT_NE(next, nullptr);
  EXPECT_THAT(Payloads(PollAtLeast(*next, 1)), ElementsAre("r5"));
}

TEST_P(BusContractTest, LoopRetriesTransientErrorThenSucceedsWithoutDeadLetter) {
  const std::string topic = NewTopic("transient");
  const std::string group = NewGroup("transient");
  ASSERT_TRUE(bus_->EnsureTopic(topic, 1).ok());
  ASSERT_TRUE(bus_->EnsureTopic(DeadLetterTopic(topic), 1).ok());
  auto publisher = MakePublisher();
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(publisher->PublishBatch(Records(topic, "k", {"r0", "flaky", "r2"})).ok());

  RecordingPublisher dlq(*publisher);
  auto consumer = MakeSubscribedConsumer(group, {topic});
  ASSERT_NE(consumer, nullptr);
  std::vector<std::string> seen;
  int failures_left = 2;
  ConsumerLoop loop(
      *consumer, dlq,
      [&](const Message& m) {
        seen.push_back(m.payload);
        if (m.payload == "flaky" && failures_left-- > 0) {
          return absl::UnavailableError("database restarting");
        }
        return absl::OkStatus();
      },
      LoopOptions(group));
  RunUntil(loop, [&] { return loop.processed() >= 3; });
  EXPECT_THAT(seen, ElementsAre("r0", "flaky", "flaky", "flaky", "r2"));
  EXPECT_EQ(loop.retried(), 2u);
  EXPECT_EQ(loop.dead_lettered(), 0u);
  EXPECT_TRUE(dlq.accepted.empty());
}

TEST_P(BusContractTest, LoopDeadLettersAfterMaxAttempts) {
  const std::string topic = NewTopic("attempts");
  const std::string group = NewGroup("attempts");
  ASSERT_TRUE(bus_->EnsureTopic(topic, 1).ok());
  ASSERT_TRUE(bus_->EnsureTopic(DeadLetterTopic(topic), 1).ok());
  auto publisher = MakePublisher();
  ASSERT_NE(publisher, nullptr);
  ASSERT_TRUE(publisher->PublishBatch(Records(topic, "k", {"doomed", "after"})).ok());

  RecordingPublisher dlq(*publisher);
  auto consumer = MakeSubscribedConsumer(group, {topic});
  ASSERT_NE(consumer, nullptr);
  std::vector<std::string> seen;
  ConsumerLoopOptions options = LoopOptions(group);
  options.max_attempts = 3;
  ConsumerLoop loop(
      *consumer, dlq,
      [&](const Message& m) {
        seen.push_back(m.payload);
        if (m.payload == "doomed") return absl::UnavailableError("downstream never answers");
        return absl::OkStatus();
      },
      options);
  RunUntil(loop, [&] { return loop.processed() + loop.dead_lettered() >= 2; });
  EXPECT_THAT(seen, ElementsAre("doomed", "doomed", "doomed", "after"));
  EXPECT_EQ(loop.retried(), 2u);
  EXPECT_EQ(loop.dead_lettered(), 1u);
  EXPECT_EQ(loop.processed(), 1u);
  ASSERT_EQ(dlq.accepted.size(), 1u);
  EXPECT_EQ(dlq.accepted[0].topic, DeadLetterTopic(topic));
  const Message as_consumed{.headers = dlq.accepted[0].headers};
  EXPECT_EQ(as_consumed.HeaderValue(kDlqAttempts), "3");
  EXPECT_EQ(as_consumed.HeaderValue(kDlqError), "UNAVAILABLE: downstream never answers");
}

}  // namespace optimus::bus::contract
