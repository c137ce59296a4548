// The Kafka adapter of the bus (librdkafka): idempotent producer, group consumer, topic admin.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "optimus/bus/bus.h"

namespace optimus::bus {

class KafkaAdmin;

struct KafkaConfig {
  // Bootstrap servers, "host:port[,host:port...]".
  std::string brokers;
  std::string client_id = "optimus";

  // Extra librdkafka properties (security.protocol, sasl.*, ...). They are applied after the
  // adapter's defaults, so they can override them. `properties` go to every client; the other two
  // only to producers or consumers.
  std::map<std::string, std::string> properties;
  std::map<std::string, std::string> producer_properties;
  std::map<std::string, std::string> consumer_properties;

  // How long PublishBatch waits for the delivery reports of a batch; also the producer's
  // message.timeout.ms, so an undeliverable message fails with its own error, not a generic
  // timeout.
  std::chrono::milliseconds publish_timeout{30000};
  // Topic creation and metadata requests.
  std::chrono::milliseconds admin_timeout{15000};

  // Replication factor of topics created by EnsureTopic; 1 suits a one-broker dev cluster,
  // -1 takes the broker's default.replication.factor.
  int replication_factor = 1;
  // Producer compression: "lz4", "zstd", "snappy", "gzip" or "none".
  std::string compression = "lz4";
};

// Checks the fields and every extra property name/value against librdkafka; the error names the
// offending field.
absl::Status ValidateKafkaConfig(const KafkaConfig& config);

class KafkaBus : public Bus {
 public:
  // Validates the config; connects lazily (the first client or admin call).
  static absl::StatusOr<std::unique_ptr<KafkaBus>> Create(KafkaConfig config);
  ~KafkaBus() override;

  // Producer: enable.idempotence, acks=all, linger.ms=0, murmur2_random partitioner (the Java
  // client's: the same key lands on the same partition whichever client produced it).
  absl::StatusOr<std::unique_ptr<Publisher>> NewPublisher() override;
  // Consumer of `group`: no auto commit, reads from the earliest offset on a new group,
  // read_committed.
  absl::StatusOr<std::unique_ptr<Consumer>> NewConsumer(const std::string& group) override;
  // Creates the topic with `partitions` and config.replication_factor; an existing topic is a
  // success (its partition count is left alone). Returns once the topic's partitions have leaders.
  absl::Status EnsureTopic(const std::string& topic, const TopicConfig& config) override;
  using Bus::EnsureTopic;

  // Fails with one line, "cannot reach Kafka at <brokers>: <reason>", when no broker answers a
  // metadata request within `timeout`. Services call it at start.
  absl::Status CheckReachable(std::chrono::milliseconds timeout);

  const KafkaConfig& config() const { return config_; }

 private:
  explicit KafkaBus(KafkaConfig config);
  absl::StatusOr<KafkaAdmin*> Admin();

  const KafkaConfig config_;
  std::mutex admin_mu_;
  std::unique_ptr<KafkaAdmin> admin_;  // Created on first use; guarded by admin_mu_.
};

}  // namespace optimus::bus
