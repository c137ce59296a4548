// KafkaBus: validates the config and hands out the Kafka publisher, consumer and admin.
#include "optimus/bus/kafka_bus.h"

#include "kafka_admin.h"
#include "kafka_consumer.h"
#include "kafka_publisher.h"

namespace optimus::bus {

absl::StatusOr<std::unique_ptr<KafkaBus>> KafkaBus::Create(KafkaConfig config) {
  if (absl::Status s = ValidateKafkaConfig(config); !s.ok()) return s;
  return std::unique_ptr<KafkaBus>(new KafkaBus(std::move(config)));
}

KafkaBus::KafkaBus(KafkaConfig config) : config_(std::move(config)) {}

KafkaBus::~KafkaBus() = default;

absl::StatusOr<std::unique_ptr<Publisher>> KafkaBus::NewPublisher() {
  auto publisher = KafkaPublisher::Create(config_);
  if (!publisher.ok()) return publisher.status();
  return std::unique_ptr<Publisher>(std::move(*publisher));
}

absl::StatusOr<std::unique_ptr<Consumer>> KafkaBus::NewConsumer(const std::string& group) {
  auto consumer = KafkaConsumer::Create(config_, group);
  if (!consumer.ok()) return consumer.status();
  return std::unique_ptr<Consumer>(std::move(*consumer));
}

absl::StatusOr<KafkaAdmin*> KafkaBus::Admin() {
  std::lock_guard lock(admin_mu_);
  if (admin_ == nullptr) {
    auto admin = KafkaAdmin::Create(config_);
    if (!admin.ok()) return admin.status();
    admin_ = std::move(*admin);
  }
  return admin_.get();
}

absl::Status KafkaBus::EnsureTopic(const std::string& topic, const TopicConfig& topic_config) {
  auto admin = Admin();
  if (!admin.ok()) return admin.status();
  return (*admin)->EnsureTopic(topic, topic_config);
}

absl::Status KafkaBus::CheckReachable(std::chrono::milliseconds timeout) {
  return ProbeKafka(config_, timeout);
}

}  // namespace optimus::bus
