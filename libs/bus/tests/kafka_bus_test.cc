// Unit tests of the Kafka adapter that need no broker: config validation, argument checks, and
// the errors it gives when the broker is not there.
#include "optimus/bus/kafka_bus.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <iostream>

#include "absl/strings/str_cat.h"

namespace optimus::bus {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

KafkaConfig Valid() {
  KafkaConfig config;
  config.brokers = "127.0.0.1:59092";
  config.client_id = "unit";
  return config;
}

// A loopback port nothing listens on: bound by us, then released.
int ClosedLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  return ntohs(addr.sin_port);
}

TEST(ValidateKafkaConfigTest, AcceptsADefaultConfigWithBrokers) {
  EXPECT_TRUE(ValidateKafkaConfig(Valid()).ok());
  KafkaConfig several = Valid();
  several.brokers = "kafka-0.kafka:9092, PLAINTEXT://kafka-1.kafka:9093,[::1]:9094";
  EXPECT_TRUE(ValidateKafkaConfig(several).ok()) << ValidateKafkaConfig(several);
}

TEST(ValidateKafkaConfigTest, RejectsMissingBrokers) {
  KafkaConfig config = Valid();
  config.brokers = "  ";
  const absl::Status s = ValidateKafkaConfig(config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("KafkaConfig.brokers is empty"));
}

TEST(ValidateKafkaConfigTest, RejectsBrokerEntriesWithoutAUsablePort) {
  for (const char* brokers : {"localhost", "localhost:", "host:0", "host:70000", "host:90x2",
                              "a:9092,,b:9092", ":9092"}) {
    KafkaConfig config = Valid();
    config.brokers = brokers;
    const absl::Status s = ValidateKafkaConfig(config);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << brokers;
    EXPECT_THAT(std::string(s.message()), HasSubstr("is not host:port")) << brokers;
    EXPECT_THAT(std::string(s.message()), HasSubstr(brokers));
  }
}

TEST(ValidateKafkaConfigTest, RejectsUnknownPropertiesNamingThem) {
  KafkaConfig config = Valid();
  config.properties["no.such.property"] = "1";
  const absl::Status s = ValidateKafkaConfig(config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("no.such.property"));
}

TEST(ValidateKafkaConfigTest, RejectsBadPropertyValuesNamingThem) {
  KafkaConfig config = Valid();
  config.producer_properties["linger.ms"] = "soon";
  absl::Status s = ValidateKafkaConfig(config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("linger.ms=\"soon\""));

  config = Valid();
  config.consumer_properties["session.timeout.ms"] = "-1";
  s = ValidateKafkaConfig(config);
  EXPECT_THAT(std::string(s.message()), HasSubstr("session.timeout.ms"));
}

TEST(ValidateKafkaConfigTest, RejectsBadFields) {
  KafkaConfig config = Valid();
  config.client_id = "";
  EXPECT_THAT(std::string(ValidateKafkaConfig(config).message()), HasSubstr("client_id"));

  config = Valid();
  config.publish_timeout = std::chrono::milliseconds(0);
  EXPECT_THAT(std::string(ValidateKafkaConfig(config).message()),
              HasSubstr("publish_timeout=0 ms"));

  config = Valid();
  config.replication_factor = 0;
  EXPECT_THAT(std::string(ValidateKafkaConfig(config).message()),
              HasSubstr("replication_factor is 0"));
  config.replication_factor = -1;
  EXPECT_TRUE(ValidateKafkaConfig(config).ok());

  config = Valid();
  config.compression = "brotli";
  EXPECT_THAT(std::string(ValidateKafkaConfig(config).message()), HasSubstr("\"brotli\""));
}

TEST(KafkaBusTest, CreateRefusesAnInvalidConfig) {
  KafkaConfig config = Valid();
  config.brokers = "";
  auto bus = KafkaBus::Create(config);
  ASSERT_FALSE(bus.ok());
  EXPECT_EQ(bus.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(KafkaBusTest, RejectsBadArgumentsBeforeTalkingToTheBroker) {
  KafkaConfig config = Valid();
  config.brokers = absl::StrCat("127.0.0.1:", ClosedLoopbackPort());
  auto bus = KafkaBus::Create(config);
  ASSERT_TRUE(bus.ok()) << bus.status();
  EXPECT_EQ((*bus)->NewConsumer("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*bus)->EnsureTopic("t", 0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*bus)->EnsureTopic("", 1).code(), absl::StatusCode::kInvalidArgument);
  auto publisher = (*bus)->NewPublisher();
  ASSERT_TRUE(publisher.ok()) << publisher.status();
  EXPECT_TRUE((*publisher)->PublishBatch({}).ok());
}

TEST(KafkaBusTest, CheckReachableGivesOneLineNamingTheBrokerWhenNothingListens) {
  KafkaConfig config = Valid();
  const std::string address = absl::StrCat("127.0.0.1:", ClosedLoopbackPort());
  config.brokers = address;
  auto bus = KafkaBus::Create(config);
  ASSERT_TRUE(bus.ok()) << bus.status();

  const auto start = std::chrono::steady_clock::now();
  const absl::Status s = (*bus)->CheckReachable(std::chrono::milliseconds(1500));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s.message()), StartsWith("cannot reach Kafka at " + address + ": "));
  EXPECT_THAT(std::string(s.message()), HasSubstr("Connection refused"));
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("\n")));
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  std::cout << "[ info     ] " << s.message() << "\n";
}

TEST(KafkaBusTest, PublishWithoutABrokerTimesOutNamingTheTopic) {
  KafkaConfig config = Valid();
  config.brokers = absl::StrCat("127.0.0.1:", ClosedLoopbackPort());
  config.publish_timeout = std::chrono::milliseconds(300);
  auto bus = KafkaBus::Create(config);
  ASSERT_TRUE(bus.ok()) << bus.status();
  auto publisher = (*bus)->NewPublisher();
  ASSERT_TRUE(publisher.ok()) << publisher.status();

  const auto start = std::chrono::steady_clock::now();
  const absl::Status s =
      (*publisher)->PublishBatch({{.topic = "optimus.job.specs", .key = "p/j", .payload = "x"}});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(s.message()), StartsWith("Kafka delivery to topic optimus.job.specs"));
  EXPECT_THAT(std::string(s.message()), HasSubstr(config.brokers));
  EXPECT_THAT(std::string(s.message()), HasSubstr("timed out"));
}

TEST(KafkaBusTest, EnsureTopicWithoutABrokerFailsWithinTheAdminTimeout) {
  KafkaConfig config = Valid();
  config.brokers = absl::StrCat("127.0.0.1:", ClosedLoopbackPort());
  config.admin_timeout = std::chrono::milliseconds(500);
  auto bus = KafkaBus::Create(config);
  ASSERT_TRUE(bus.ok()) << bus.status();
  const auto start = std::chrono::steady_clock::now();
  const absl::Status s = (*bus)->EnsureTopic("optimus.dags", 3);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("optimus.dags"));
  EXPECT_THAT(std::string(s.message()), HasSubstr(config.brokers));
}

}  // namespace
}  // namespace optimus::bus
