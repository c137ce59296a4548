// The record that travels on a bus, whatever the bus: key, payload, headers, and where it sits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace optimus::bus {

using Header = std::pair<std::string, std::string>;

// What a producer hands to a Publisher.
struct OutgoingMessage {
  std::string topic;
  std::string key;
  std::string payload;
  std::vector<Header> headers;
  // A delete marker for `key` on a compacted topic (Kafka: a null value); payload is ignored.
  bool tombstone = false;
};

// What a Consumer hands to its handler: the record plus its position in the log.
struct Message {
  std::string topic;
  std::string key;
  std::string payload;
  std::vector<Header> headers;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
  bool tombstone = false;  // The key was deleted (payload empty).

  // The first header of that name, if any.
  std::optional<std::string> HeaderValue(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return std::nullopt;
  }
};

// Header names the project sets on every record (CloudEvents binary mode over Kafka).
inline constexpr char kCeId[] = "ce_id";
inline constexpr char kCeSource[] = "ce_source";
inline constexpr char kCeType[] = "ce_type";
inline constexpr char kCeSubject[] = "ce_subject";
inline constexpr char kCeTime[] = "ce_time";
inline constexpr char kCeSpecVersion[] = "ce_specversion";
inline constexpr char kContentType[] = "content-type";

// Headers a dead-lettered record carries, besides its own.
inline constexpr char kDlqOriginTopic[] = "optimus_dlq_origin_topic";
inline constexpr char kDlqOriginPartition[] = "optimus_dlq_origin_partition";
inline constexpr char kDlqOriginOffset[] = "optimus_dlq_origin_offset";
inline constexpr char kDlqError[] = "optimus_dlq_error";
inline constexpr char kDlqAttempts[] = "optimus_dlq_attempts";
inline constexpr char kDlqConsumerGroup[] = "optimus_dlq_consumer_group";

inline std::string DeadLetterTopic(std::string_view topic) { return std::string(topic) + ".dlq"; }

}  // namespace optimus::bus
