// Consumer on a librdkafka KafkaConsumer (consumer group, manual synchronous commits).
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "optimus/bus/bus.h"
#include "optimus/bus/kafka_bus.h"

namespace optimus::bus {

// Not thread-safe: one thread polls and commits, as with every Kafka consumer.
class KafkaConsumer : public Consumer {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaConsumer>> Create(const KafkaConfig& config,
                                                               const std::string& group);
  ~KafkaConsumer() override;

  absl::Status Subscribe(const std::vector<std::string>& topics) override;
  // Partition EOF and timeouts are not errors. Other errors end the poll: they are returned
  // (Unavailable for what librdkafka recovers from) only when no record came before them.
  absl::StatusOr<std::vector<Message>> Poll(std::chrono::milliseconds timeout,
                                            size_t max_messages) override;
  // Commits offset+1 of the message's partition synchronously.
  absl::Status Commit(const Message& message) override;
  void Close() override;

 private:
  KafkaConsumer(const KafkaConfig& config, std::string group)
      : brokers_(config.brokers), group_(std::move(group)) {}
  std::string Where() const;

  const std::string brokers_;
  const std::string group_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  bool closed_ = false;
};

}  // namespace optimus::bus
