// Batches records out of a librdkafka KafkaConsumer and commits offsets one partition at a time.
#include "kafka_consumer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kafka_conf.h"

namespace optimus::bus {
namespace {

using Clock = std::chrono::steady_clock;
using kafka_internal::ClampMs;
using kafka_internal::CodeFor;

std::string Bytes(const void* data, size_t size) {
  return data == nullptr ? std::string() : std::string(static_cast<const char*>(data), size);
}

Message ToMessage(RdKafka::Message& m) {
  Message out;
  out.topic = m.topic_name();
  out.key = Bytes(m.key_pointer(), m.key_len());
  out.payload = Bytes(m.payload(), m.len());
  out.tombstone = m.payload() == nullptr;
  out.partition = m.partition();
  out.offset = m.offset();
  const RdKafka::MessageTimestamp ts = m.timestamp();
  out.timestamp_ms =
      ts.type == RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE ? 0 : ts.timestamp;
  if (RdKafka::Headers* headers = m.headers(); headers != nullptr) {
    for (const RdKafka::Headers::Header& h : headers->get_all()) {
      out.headers.emplace_back(h.key(), Bytes(h.value(), h.value_size()));
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<KafkaConsumer>> KafkaConsumer::Create(const KafkaConfig& config,
                                                                     const std::string& group) {
  if (group.empty()) {
    return absl::InvalidArgumentError("Kafka consumer: the consumer group name is empty");
  }
  auto conf = kafka_internal::NewCppConf(
      kafka_internal::ClientProperties(config, kafka_internal::ClientKind::kConsumer, group));
  if (!conf.ok()) return conf.status();
  std::unique_ptr<KafkaConsumer> consumer(new KafkaConsumer(config, group));
  std::string errstr;
  consumer->consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), errstr));
  if (consumer->consumer_ == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot create a Kafka consumer (group ", group,
                                                   ") for ", config.brokers, ": ", errstr));
  }
  return consumer;
}

KafkaConsumer::~KafkaConsumer() { Close(); }

std::string KafkaConsumer::Where() const {
  return absl::StrCat("Kafka consumer (group ", group_, ", ", brokers_, ")");
}

absl::Status KafkaConsumer::Subscribe(const std::vector<std::string>& topics) {
  if (closed_) return absl::FailedPreconditionError(absl::StrCat(Where(), " is closed"));
  if (topics.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(Where(), ": Subscribe needs a topic"));
  }
  const RdKafka::ErrorCode err = consumer_->subscribe(topics);
  if (err != RdKafka::ERR_NO_ERROR) {
    return absl::Status(CodeFor(err),
                        absl::StrCat(Where(), ": subscribe to ", absl::StrJoin(topics, ","),
                                     " failed: ", RdKafka::err2str(err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Message>> KafkaConsumer::Poll(std::chrono::milliseconds timeout,
                                                         size_t max_messages) {
  if (closed_) return absl::FailedPreconditionError(absl::StrCat(Where(), " is closed"));
  std::vector<Message> out;
  const Clock::time_point deadline = Clock::now() + timeout;
  while (out.size() < max_messages) {
    // Wait for the first record; after it, take only what is already fetched.
    int wait_ms = 0;
    if (out.empty()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      wait_ms = ClampMs(left);
    }
    std::unique_ptr<RdKafka::Message> m(consumer_->consume(wait_ms));
    switch (m->err()) {
      case RdKafka::ERR_NO_ERROR:
        out.push_back(ToMessage(*m));
        continue;
      case RdKafka::ERR__PARTITION_EOF:
        continue;
      case RdKafka::ERR__TIMED_OUT:
        if (!out.empty() || Clock::now() >= deadline) return out;
        continue;
      case RdKafka::ERR__FATAL: {
        std::string fatal;
        consumer_->fatal_error(fatal);
        return absl::InternalError(absl::StrCat(Where(), ": fatal error: ", fatal,
                                                "; this consumer is unusable, create a new one"));
      }
      default: {
        if (!out.empty()) return out;  // Deliver what came; a lasting problem shows up again.
        std::string where = Where();
        if (!m->topic_name().empty()) absl::StrAppend(&where, " topic ", m->topic_name());
        if (m->partition() >= 0) absl::StrAppend(&where, " partition ", m->partition());
        const absl::StatusCode code = CodeFor(m->err());
        return absl::Status(
            code == absl::StatusCode::kInternal ? code : absl::StatusCode::kUnavailable,
            absl::StrCat(where, ": ", m->errstr()));
      }
    }
  }
  return out;
}

absl::Status KafkaConsumer::Commit(const Message& message) {
  if (closed_) return absl::FailedPreconditionError(absl::StrCat(Where(), " is closed"));
  std::vector<RdKafka::TopicPartition*> offsets = {
      RdKafka::TopicPartition::create(message.topic, message.partition, message.offset + 1)};
  RdKafka::ErrorCode err = consumer_->commitSync(offsets);
  if (err == RdKafka::ERR_NO_ERROR) err = offsets[0]->err();
  RdKafka::TopicPartition::destroy(offsets);
  if (err != RdKafka::ERR_NO_ERROR) {
    return absl::Status(
        CodeFor(err),
        absl::StrCat(Where(), ": commit of ", message.topic, " partition ", message.partition,
                     " offset ", message.offset + 1, " failed: ", RdKafka::err2str(err)));
  }
  return absl::OkStatus();
}

void KafkaConsumer::Close() {
  if (closed_ || consumer_ == nullptr) return;
  closed_ = true;
  // Leaves the group now, so the partitions move to the remaining members without waiting for
  // the session timeout. Its error (a broker already gone) leaves nothing to clean up.
  consumer_->close();
}

}  // namespace optimus::bus
