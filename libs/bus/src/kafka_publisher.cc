// Produces a batch with librdkafka and turns its delivery reports into one status.
#include "kafka_publisher.h"

#include <algorithm>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "kafka_conf.h"

namespace optimus::bus {
namespace {

using Clock = std::chrono::steady_clock;
using kafka_internal::ClampMs;
using kafka_internal::CodeFor;

// How much longer than message.timeout.ms we wait for reports: librdkafka fails timed-out records
// itself, so this only guards against never hearing back.
constexpr std::chrono::milliseconds kReportGrace{2000};
// Poll slices while waiting; short so that concurrent batches notice reports served by others.
constexpr int kPollSliceMs = 50;

// The delivery state of one PublishBatch call. Every produced record holds a reference through
// its msg_opaque, so a report arriving after the call gave up still finds it alive.
struct BatchState {
  std::mutex mu;
  size_t pending = 0;
  absl::Status first_error;
  bool fatal = false;
};

}  // namespace

void KafkaPublisher::DeliveryReports::dr_cb(RdKafka::Message& message) {
  std::unique_ptr<std::shared_ptr<BatchState>> holder(
      static_cast<std::shared_ptr<BatchState>*>(message.msg_opaque()));
  if (holder == nullptr) return;  // Not ours: every record we produce carries a holder.
  BatchState& batch = **holder;
  std::lock_guard lock(batch.mu);
  if (message.err() != RdKafka::ERR_NO_ERROR && batch.first_error.ok()) {
    std::string where = absl::StrCat("Kafka delivery to topic ", message.topic_name());
    if (message.partition() >= 0) absl::StrAppend(&where, " partition ", message.partition());
    if (message.broker_id() >= 0)
      absl::StrAppend(&where, " (leader broker ", message.broker_id(), ")");
    batch.first_error = absl::Status(
        CodeFor(message.err()),
        absl::StrCat(where, " at ", brokers_, " failed: ", RdKafka::err2str(message.err()),
                     message.errstr() != RdKafka::err2str(message.err())
                         ? absl::StrCat(" (", message.errstr(), ")")
                         : ""));
    batch.fatal = message.err() == RdKafka::ERR__FATAL;
  }
  if (batch.pending > 0) --batch.pending;
}

KafkaPublisher::KafkaPublisher(const KafkaConfig& config)
    : config_(config), reports_(config.brokers) {}

absl::StatusOr<std::unique_ptr<KafkaPublisher>> KafkaPublisher::Create(const KafkaConfig& config) {
  auto conf = kafka_internal::NewCppConf(
      kafka_internal::ClientProperties(config, kafka_internal::ClientKind::kProducer));
  if (!conf.ok()) return conf.status();
  std::unique_ptr<KafkaPublisher> publisher(new KafkaPublisher(config));
  std::string errstr;
  if ((*conf)->set("dr_cb", &publisher->reports_, errstr) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError(absl::StrCat("Kafka producer: setting dr_cb: ", errstr));
  }
  publisher->producer_.reset(RdKafka::Producer::create(conf->get(), errstr));
  if (publisher->producer_ == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create a Kafka producer for ", config.brokers, ": ", errstr));
  }
  return publisher;
}

KafkaPublisher::~KafkaPublisher() {
  if (producer_ == nullptr) return;
  producer_->flush(ClampMs(config_.publish_timeout));
  if (producer_->outq_len() > 0) {
    // Their PublishBatch calls already returned a timeout; purging makes librdkafka report them
    // so their batch states are released before the producer goes.
    producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
    producer_->flush(1000);
  }
}

absl::Status KafkaPublisher::PublishBatch(const std::vector<OutgoingMessage>& messages) {
  if (messages.empty()) return absl::OkStatus();
  auto batch = std::make_shared<BatchState>();
  batch->pending = messages.size();
  const Clock::time_point produce_deadline = Clock::now() + config_.publish_timeout;

  absl::Status produce_error;
  size_t produced = 0;
  for (const OutgoingMessage& m : messages) {
    RdKafka::Headers* headers = RdKafka::Headers::create();
    for (const auto& [name, value] : m.headers) headers->add(name, value.data(), value.size());
    auto* holder = new std::shared_ptr<BatchState>(batch);
    RdKafka::ErrorCode err;
    while (true) {
      // An empty key is sent as no key. A tombstone is a null value; otherwise the payload
      // pointer is never null, so an empty payload stays an empty value.
      err = producer_->produce(
          m.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
          m.tombstone ? nullptr : const_cast<char*>(m.payload.data()),
          m.tombstone ? 0 : m.payload.size(), m.key.empty() ? nullptr : m.key.data(), m.key.size(),
          0, headers, holder);
      if (err != RdKafka::ERR__QUEUE_FULL || Clock::now() >= produce_deadline) break;
      producer_->poll(100);  // Serving delivery reports frees room in the local queue.
    }
    if (err != RdKafka::ERR_NO_ERROR) {
      delete headers;  // On failure librdkafka owns neither the headers nor the opaque.
      delete holder;
      produce_error = absl::Status(
          CodeFor(err), absl::StrCat("Kafka produce to topic ", m.topic, " at ", config_.brokers,
                                     " failed: ", RdKafka::err2str(err), " (record ", produced + 1,
                                     " of ", messages.size(), ", ", m.payload.size(), " bytes)"));
      break;  // Later records would overtake this one; the caller retries the batch.
    }
    ++produced;
  }
  if (produced < messages.size()) {
    std::lock_guard lock(batch->mu);
    batch->pending -= messages.size() - produced;
  }

  const Clock::time_point report_deadline = Clock::now() + config_.publish_timeout + kReportGrace;
  size_t missing = 0;
  while (true) {
    {
      std::lock_guard lock(batch->mu);
      missing = batch->pending;
    }
    if (missing == 0 || Clock::now() >= report_deadline) break;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(report_deadline - Clock::now());
    producer_->poll(std::clamp(ClampMs(left), 1, kPollSliceMs));
  }

  if (!produce_error.ok()) return produce_error;
  std::lock_guard lock(batch->mu);
  if (!batch->first_error.ok()) {
    if (batch->fatal) {
      std::string fatal;
      producer_->fatal_error(fatal);
      return absl::InternalError(absl::StrCat(batch->first_error.message(), "; fatal: ", fatal,
                                              "; this publisher is unusable, create a new one"));
    }
    return batch->first_error;
  }
  if (missing > 0) {
    return absl::DeadlineExceededError(absl::StrCat(
        "Kafka publish at ", config_.brokers, ": ", missing, " of ", messages.size(),
        " records not acknowledged within ", (config_.publish_timeout + kReportGrace).count(),
        " ms (first topic ", messages.front().topic, ")"));
  }
  return absl::OkStatus();
}

}  // namespace optimus::bus
