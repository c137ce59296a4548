// Bus adapter selection by URI.
#include "optimus/bus/open_bus.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "optimus/bus/embedded_bus.h"
#include "optimus/bus/kafka_bus.h"

namespace optimus::bus {
namespace {

// Topic and group names with a prefix, so that several installations (or test runs) share one
// Kafka cluster without seeing each other. Services keep using the plain names.
class PrefixedPublisher final : public Publisher {
 public:
  PrefixedPublisher(std::unique_ptr<Publisher> inner, std::string prefix)
      : inner_(std::move(inner)), prefix_(std::move(prefix)) {}
  absl::Status PublishBatch(const std::vector<OutgoingMessage>& messages) override {
    std::vector<OutgoingMessage> out = messages;
    for (auto& m : out) m.topic = prefix_ + m.topic;
    return inner_->PublishBatch(out);
  }

 private:
  std::unique_ptr<Publisher> inner_;
  std::string prefix_;
};

class PrefixedConsumer final : public Consumer {
 public:
  PrefixedConsumer(std::unique_ptr<Consumer> inner, std::string prefix)
      : inner_(std::move(inner)), prefix_(std::move(prefix)) {}
  absl::Status Subscribe(const std::vector<std::string>& topics) override {
    std::vector<std::string> prefixed;
    for (const auto& t : topics) prefixed.push_back(prefix_ + t);
    return inner_->Subscribe(prefixed);
  }
  absl::StatusOr<std::vector<Message>> Poll(std::chrono::milliseconds timeout,
                                            size_t max_messages) override {
    auto batch = inner_->Poll(timeout, max_messages);
    if (!batch.ok()) return batch;
    for (auto& m : *batch) {
      if (absl::StartsWith(m.topic, prefix_)) m.topic = m.topic.substr(prefix_.size());
    }
    return batch;
  }
  absl::Status Commit(const Message& message) override {
    Message m = message;
    m.topic = prefix_ + m.topic;
    return inner_->Commit(m);
  }
  void Close() override { inner_->Close(); }

 private:
  std::unique_ptr<Consumer> inner_;
  std::string prefix_;
};

class PrefixedBus final : public Bus {
 public:
  PrefixedBus(std::unique_ptr<Bus> inner, std::string prefix)
      : inner_(std::move(inner)), prefix_(std::move(prefix)) {}
  absl::StatusOr<std::unique_ptr<Publisher>> NewPublisher() override {
    auto p = inner_->NewPublisher();
    if (!p.ok()) return p.status();
    return std::unique_ptr<Publisher>(new PrefixedPublisher(*std::move(p), prefix_));
  }
  absl::StatusOr<std::unique_ptr<Consumer>> NewConsumer(const std::string& group) override {
    auto c = inner_->NewConsumer(prefix_ + group);
    if (!c.ok()) return c.status();
    return std::unique_ptr<Consumer>(new PrefixedConsumer(*std::move(c), prefix_));
  }
  absl::Status EnsureTopic(const std::string& topic, const TopicConfig& config) override {
    return inner_->EnsureTopic(prefix_ + topic, config);
  }

 private:
  std::unique_ptr<Bus> inner_;
  std::string prefix_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Bus>> OpenBus(const std::string& uri, const std::string& client_id,
                                             bool check_reachable) {
  if (absl::StartsWith(uri, "embedded:")) {
    const std::string path = uri.substr(9);
    if (path.empty()) return absl::InvalidArgumentError("bus URI 'embedded:' has no path");
    return OpenEmbeddedBus({.path = path});
  }
  if (absl::StartsWith(uri, "kafka://")) {
    KafkaConfig config;
    config.client_id = client_id;
    std::string rest = uri.substr(8);
    if (const size_t q = rest.find('?'); q != std::string::npos) {
      // librdkafka properties as query parameters: kafka://b:9092?session.timeout.ms=6000&…
      for (absl::string_view pair : absl::StrSplit(rest.substr(q + 1), '&', absl::SkipEmpty())) {
        const size_t eq = pair.find('=');
        if (eq == absl::string_view::npos || eq == 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("bus URI '", uri, "': '", pair, "' is not property=value"));
        }
        config.properties[std::string(pair.substr(0, eq))] = std::string(pair.substr(eq + 1));
      }
      rest.resize(q);
    }
    config.brokers = rest;
    if (config.brokers.empty())
      return absl::InvalidArgumentError("bus URI 'kafka://' has no brokers");
    // Ours, not librdkafka's: a prefix for every topic and consumer group name.
    std::string prefix;
    if (auto it = config.properties.find(kTopicPrefixProperty); it != config.properties.end()) {
      prefix = it->second;
      config.properties.erase(it);
    }
    auto bus = KafkaBus::Create(std::move(config));
    if (!bus.ok()) return bus.status();
    if (check_reachable) {
      if (absl::Status s = (*bus)->CheckReachable(std::chrono::seconds(10)); !s.ok()) return s;
    }
    if (!prefix.empty()) {
      return std::unique_ptr<Bus>(new PrefixedBus(*std::move(bus), std::move(prefix)));
    }
    return std::unique_ptr<Bus>(*std::move(bus));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "bus URI '", uri, "' is neither embedded:<path> nor kafka://host:port[,host:port]"));
}

}  // namespace optimus::bus
