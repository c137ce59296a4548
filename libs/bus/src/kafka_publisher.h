// Publisher on an idempotent librdkafka producer that waits for every delivery report of a batch.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "optimus/bus/bus.h"
#include "optimus/bus/kafka_bus.h"

namespace optimus::bus {

class KafkaPublisher : public Publisher {
 public:
  static absl::StatusOr<std::unique_ptr<KafkaPublisher>> Create(const KafkaConfig& config);
  // Waits (up to publish_timeout) for records still in flight, so none is dropped silently.
  ~KafkaPublisher() override;

  // Safe to call from several threads at once.
  absl::Status PublishBatch(const std::vector<OutgoingMessage>& messages) override;

 private:
  // Routes each delivery report to the batch that produced the record (its msg_opaque).
  class DeliveryReports : public RdKafka::DeliveryReportCb {
   public:
    explicit DeliveryReports(std::string brokers) : brokers_(std::move(brokers)) {}
    void dr_cb(RdKafka::Message& message) override;

   private:
    const std::string brokers_;
  };

  explicit KafkaPublisher(const KafkaConfig& config);

  const KafkaConfig config_;
  DeliveryReports reports_;  // Declared before producer_: it must outlive the producer.
  std::unique_ptr<RdKafka::Producer> producer_;
};

}  // namespace optimus::bus
