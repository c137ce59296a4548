// Topic administration and reachability checks over librdkafka's C admin API.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "optimus/bus/kafka_bus.h"

namespace optimus::bus {

// One long-lived librdkafka handle used only for admin requests and metadata.
class KafkaAdmin {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaAdmin>> Create(const KafkaConfig& config);
  ~KafkaAdmin();
  KafkaAdmin(const KafkaAdmin&) = delete;
  KafkaAdmin& operator=(const KafkaAdmin&) = delete;

  // CreateTopics; TOPIC_ALREADY_EXISTS counts as success. Then waits until every partition of
  // the topic has a leader, so producers and consumers created next see it at once.
  absl::Status EnsureTopic(const std::string& topic, const TopicConfig& topic_config);

 private:
  KafkaAdmin(const KafkaConfig& config, rd_kafka_t* rk) : config_(config), rk_(rk) {}
  absl::Status CreateTopic(const std::string& topic, const TopicConfig& topic_config,
                           std::chrono::steady_clock::time_point deadline);
  absl::Status WaitForLeaders(const std::string& topic,
                              std::chrono::steady_clock::time_point deadline);

  const KafkaConfig config_;
  rd_kafka_t* rk_;
};

// Asks the cluster for metadata with a fresh handle; fails with one line naming the brokers
// and the last connection error librdkafka reported.
absl::Status ProbeKafka(const KafkaConfig& config, std::chrono::milliseconds timeout);

}  // namespace optimus::bus
