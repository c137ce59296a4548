// The two interfaces every service talks to the event bus through; adapters: Kafka, embedded log.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "optimus/bus/message.h"

namespace optimus::bus {

class Publisher {
 public:
  virtual ~Publisher() = default;

  // Publishes every message and returns once the bus has durably accepted all of them
  // (Kafka: acks=all delivery reports; embedded: committed to the log). On error, none or some
  // may have been written: callers (the outbox relay) retry, and consumers deduplicate by ce_id.
  virtual absl::Status PublishBatch(const std::vector<OutgoingMessage>& messages) = 0;

  absl::Status Publish(const OutgoingMessage& message) { return PublishBatch({message}); }
};

class Consumer {
 public:
  virtual ~Consumer() = default;

  // Joins the consumer group for these topics; positions resume from the last commit.
  virtual absl::Status Subscribe(const std::vector<std::string>& topics) = 0;

  // Waits up to `timeout` for records and returns at most `max_messages` of them, in log order
  // per partition. An empty vector means nothing arrived in time.
  virtual absl::StatusOr<std::vector<Message>> Poll(std::chrono::milliseconds timeout,
                                                    size_t max_messages) = 0;

  // Marks `message` and everything before it in its partition as done for this group.
  // Call only after the message's effect is durable.
  virtual absl::Status Commit(const Message& message) = 0;

  // Leaves the group cleanly (commits nothing by itself).
  virtual void Close() = 0;
};

// How a topic keeps its records. Applied when the topic is created; an existing topic keeps its
// own.
struct TopicConfig {
  int partitions = 3;
  // Keep only the newest record per key (and drop tombstones after a day): for topics that
  // carry the current state of an aggregate, like job specs.
  bool compacted = false;
  // Records older than this may be deleted (-1: never). The embedded bus also keeps every
  // record some consumer group has not committed yet.
  int64_t retention_ms = 7 * 24 * 3600 * 1000LL;
};

// Creates the clients of one bus. Implementations: KafkaBus, EmbeddedBus.
class Bus {
 public:
  virtual ~Bus() = default;

  virtual absl::StatusOr<std::unique_ptr<Publisher>> NewPublisher() = 0;
  virtual absl::StatusOr<std::unique_ptr<Consumer>> NewConsumer(const std::string& group) = 0;

  // Creates a topic if it does not exist yet (idempotent).
  virtual absl::Status EnsureTopic(const std::string& topic, const TopicConfig& config) = 0;

  absl::Status EnsureTopic(const std::string& topic, int partitions) {
    TopicConfig config;
    config.partitions = partitions;
    return EnsureTopic(topic, config);
  }
};

}  // namespace optimus::bus
