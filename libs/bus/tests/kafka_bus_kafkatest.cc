// The bus contract and the Kafka-only behaviour (Java-compatible partitioning, limits) against a
// real broker named by OPTIMUS_TEST_KAFKA_BROKERS (tools/dev/kafka start; tools/dev/kafka env).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "bus_contract.h"
#include "optimus/bus/kafka_bus.h"
#include "optimus/testing/testing.h"

namespace optimus::bus {
namespace {

using contract::BusContractTest;
using contract::BusFactory;
using contract::PollAtLeast;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kBrokersEnv[] = "OPTIMUS_TEST_KAFKA_BROKERS";

KafkaConfig TestConfig() {
  KafkaConfig config;
  config.brokers = ::optimus::testing::InfraEnv(kBrokersEnv);
  config.client_id = "optimus-kafkatest";
  config.publish_timeout = std::chrono::seconds(15);
  config.admin_timeout = std::chrono::seconds(15);
  return config;
}

std::unique_ptr<Bus> MakeKafkaBus() {
  auto bus = KafkaBus::Create(TestConfig());
  if (!bus.ok()) {
    ADD_FAILURE() << bus.status();
    return nullptr;
  }
  return std::move(*bus);
}

INSTANTIATE_TEST_SUITE_P(Kafka, BusContractTest,
                         ::testing::Values(BusFactory{"kafka", MakeKafkaBus, kBrokersEnv}),
                         contract::BusFactoryName);

std::unique_ptr<KafkaBus> MakeKafkaBusOrDie() {
  auto bus = KafkaBus::Create(TestConfig());
  EXPECT_TRUE(bus.ok()) << bus.status();
  return bus.ok() ? std::move(*bus) : nullptr;
}

// The Java client's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), written from the
// algorithm: seed 0x9747b28c, little-endian 4-byte blocks, the tail folded in before the final mix.
int32_t JavaMurmur2(std::string_view data) {
  constexpr uint32_t kM = 0x5bd1e995;
  constexpr int kR = 24;
  const uint32_t length = static_cast<uint32_t>(data.size());
  uint32_t h = 0x9747b28c ^ length;
  const auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(data[i])); };
  const size_t blocks = length / 4;
  for (size_t i = 0; i < blocks; ++i) {
    uint32_t k = byte(4 * i) | byte(4 * i + 1) << 8 | byte(4 * i + 2) << 16 | byte(4 * i + 3) << 24;
    k *= kM;
    k ^= k >> kR;
    k *= kM;
    h *= kM;
    h ^= k;
  }
  const size_t tail = blocks * 4;
  switch (length % 4) {
    case 3:
      h ^= byte(tail + 2) << 16;
      [[fallthrough]];
    case 2:
      h ^= byte(tail + 1) << 8;
      [[fallthrough]];
    case 1:
      h ^= byte(tail);
      h *= kM;
  }
  h ^= h >> 13;
  h *= kM;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

int32_t JavaPartition(std::string_view key, int32_t partitions) {
  return (JavaMurmur2(key) & 0x7fffffff) % partitions;
}

TEST(JavaMurmur2Test, MatchesTheJavaClient) {
  // Values printed by Utils.murmur2 / Utils.toPositive(..) % 3 of kafka-clients 3.9.1.
  EXPECT_EQ(JavaMurmur2("21"), -973932308);
  EXPECT_EQ(JavaMurmur2("foobar"), -790332482);
  EXPECT_EQ(JavaMurmur2("abc"), 479470107);
  EXPECT_EQ(JavaMurmur2("project-a/job-1"), 1744110275);
  EXPECT_EQ(JavaMurmur2("gamma"), -1267324642);
  EXPECT_EQ(JavaPartition("project-a/job-1", 3), 2);
  EXPECT_EQ(JavaPartition("k2", 3), 0);
  EXPECT_EQ(JavaPartition("alpha", 3), 1);
}

TEST(KafkaBusTest, PartitionsKeysLikeTheJavaClient) {
  OPTIMUS_REQUIRE_INFRA(kBrokersEnv);
  auto bus = MakeKafkaBusOrDie();
  ASSERT_NE(bus, nullptr);
  const std::string topic = "kafkatest.partitions." + ::optimus::testing::UniqueSuffix();
  ASSERT_TRUE(bus->EnsureTopic(topic, 3).ok());
  auto publisher = bus->NewPublisher();
  ASSERT_TRUE(publisher.ok()) << publisher.status();
  std::vector<OutgoingMessage> sent;
  for (int i = 0; i < 30; ++i) {
    sent.push_back(
        {.topic = topic, .key = absl::StrCat("project-", i % 4, "/job-", i), .payload = "x"});
  }
  ASSERT_TRUE((*publisher)->PublishBatch(sent).ok());

  auto consumer = bus->NewConsumer("kafkatest-partitions-" + ::optimus::testing::UniqueSuffix());
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_TRUE((*consumer)->Subscribe({topic}).ok());
  const std::vector<Message> got = PollAtLeast(**consumer, sent.size());
  ASSERT_EQ(got.size(), sent.size());
  for (const Message& m : got) {
    EXPECT_EQ(m.partition, JavaPartition(m.key, 3)) << m.key;
    EXPECT_GT(m.timestamp_ms, 0);
  }
}

TEST(KafkaBusTest, CheckReachableSucceedsAgainstTheBroker) {
  OPTIMUS_REQUIRE_INFRA(kBrokersEnv);
  auto bus = MakeKafkaBusOrDie();
  ASSERT_NE(bus, nullptr);
  EXPECT_TRUE(bus->CheckReachable(std::chrono::seconds(10)).ok());
}

TEST(KafkaBusTest, OversizedRecordFailsNamingTheTopic) {
  OPTIMUS_REQUIRE_INFRA(kBrokersEnv);
  auto bus = MakeKafkaBusOrDie();
  ASSERT_NE(bus, nullptr);
  const std::string topic = "kafkatest.oversized." + ::optimus::testing::UniqueSuffix();
  ASSERT_TRUE(bus->EnsureTopic(topic, 1).ok());
  auto publisher = bus->NewPublisher();
  ASSERT_TRUE(publisher.ok()) << publisher.status();
  const absl::Status status =
      (*publisher)
          ->PublishBatch(
              {{.topic = topic, .key = "k", .payload = "fine"},
               {.topic = topic, .key = "k", .payload = std::string(2 * 1024 * 1024, 'x')}});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("Kafka produce to topic " + topic + " at "));
  EXPECT_THAT(std::string(status.message()), HasSubstr("size too large"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("record 2 of 2"));
}

TEST(KafkaBusTest, ThroughputOfTenThousandRecords) {
  OPTIMUS_REQUIRE_INFRA(kBrokersEnv);
  auto bus = MakeKafkaBusOrDie();
  ASSERT_NE(bus, nullptr);
  const std::string topic = "kafkatest.throughput." + ::optimus::testing::UniqueSuffix();
  ASSERT_TRUE(bus->EnsureTopic(topic, 3).ok());
  auto publisher = bus->NewPublisher();
  ASSERT_TRUE(publisher.ok()) << publisher.status();
  constexpr int kRecords = 10000;
  constexpr int kBatch = 500;
  const std::string payload(512, 'p');
  const auto start = std::chrono::steady_clock::now();
  for (int b = 0; b < kRecords / kBatch; ++b) {
    std::vector<OutgoingMessage> batch;
    for (int i = 0; i < kBatch; ++i) {
      batch.push_back({.topic = topic,
                       .key = absl::StrCat("job-", (b * kBatch + i) % 97),
                       .payload = payload,
                       .headers = {{kCeId, absl::StrCat(b, "-", i)}}});
    }
    ASSERT_TRUE((*publisher)->PublishBatch(batch).ok());
  }
  const auto published = std::chrono::steady_clock::now();
  auto consumer = bus->NewConsumer("kafkatest-throughput-" + ::optimus::testing::UniqueSuffix());
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_TRUE((*consumer)->Subscribe({topic}).ok());
  size_t received = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (received < kRecords && std::chrono::steady_clock::now() < deadline) {
    auto got = (*consumer)->Poll(std::chrono::milliseconds(500), 1000);
    if (got.ok()) received += got->size();
  }
  const auto consumed = std::chrono::steady_clock::now();
  EXPECT_EQ(received, static_cast<size_t>(kRecords));
  using Ms = std::chrono::duration<double, std::milli>;
  std::cout << "[ info     ] published " << kRecords << " x 512 B in batches of " << kBatch << ": "
            << Ms(published - start).count()
            << " ms; consumed (incl. group join): " << Ms(consumed - published).count() << " ms\n";
}

}  // namespace
}  // namespace optimus::bus
