// Topic creation (CreateTopics + wait for leaders) and the start-up reachability probe.
#include "kafka_admin.h"

#include <algorithm>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "kafka_conf.h"

namespace optimus::bus {
namespace {

using Clock = std::chrono::steady_clock;
using kafka_internal::ClampMs;
using kafka_internal::CodeFor;

int RemainingMs(Clock::time_point deadline) {
  return ClampMs(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
}

struct AdminOptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* p) const { rd_kafka_AdminOptions_destroy(p); }
};
struct NewTopicDeleter {
  void operator()(rd_kafka_NewTopic_t* p) const { rd_kafka_NewTopic_destroy(p); }
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* p) const { rd_kafka_queue_destroy(p); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* p) const { rd_kafka_event_destroy(p); }
};
struct TopicDeleter {
  void operator()(rd_kafka_topic_t* p) const { rd_kafka_topic_destroy(p); }
};
struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* p) const { rd_kafka_metadata_destroy(p); }
};
struct HandleDeleter {
  void operator()(rd_kafka_t* p) const { rd_kafka_destroy(p); }
};

absl::StatusOr<rd_kafka_t*> NewHandle(rd_kafka_conf_t* conf, const KafkaConfig& config) {
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);  // rd_kafka_new takes the conf over only on success.
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create a Kafka client for ", config.brokers, ": ", errstr));
  }
  return rk;
}

}  // namespace

absl::StatusOr<std::unique_ptr<KafkaAdmin>> KafkaAdmin::Create(const KafkaConfig& config) {
  auto conf = kafka_internal::NewCConf(
      kafka_internal::ClientProperties(config, kafka_internal::ClientKind::kAdmin));
  if (!conf.ok()) return conf.status();
  auto rk = NewHandle(*conf, config);
  if (!rk.ok()) return rk.status();
  return std::unique_ptr<KafkaAdmin>(new KafkaAdmin(config, *rk));
}

KafkaAdmin::~KafkaAdmin() { rd_kafka_destroy(rk_); }

absl::Status KafkaAdmin::EnsureTopic(const std::string& topic, const TopicConfig& topic_config) {
  const int partitions = topic_config.partitions;
  if (topic.empty()) return absl::InvalidArgumentError("EnsureTopic: topic name is empty");
  if (partitions < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("EnsureTopic(", topic, "): partitions is ", partitions, ", must be >= 1"));
  }
  const Clock::time_point deadline = Clock::now() + config_.admin_timeout;
  if (absl::Status s = CreateTopic(topic, topic_config, deadline); !s.ok()) return s;
  return WaitForLeaders(topic, deadline);
}

absl::Status KafkaAdmin::CreateTopic(const std::string& topic, const TopicConfig& topic_config,
                                     Clock::time_point deadline) {
  const int partitions = topic_config.partitions;
  const std::string where = absl::StrCat("creating Kafka topic ", topic, " (", partitions,
                                         " partitions, replication factor ",
                                         config_.replication_factor, ") at ", config_.brokers);
  char errstr[512];
  std::unique_ptr<rd_kafka_NewTopic_t, NewTopicDeleter> new_topic(rd_kafka_NewTopic_new(
      topic.c_str(), partitions, config_.replication_factor, errstr, sizeof errstr));
  if (new_topic == nullptr) return absl::InvalidArgumentError(absl::StrCat(where, ": ", errstr));
  const std::string retention = std::to_string(topic_config.retention_ms);
  const std::pair<const char*, const char*> settings[] = {
      {"cleanup.policy", topic_config.compacted ? "compact" : "delete"},
      {"retention.ms", retention.c_str()},
  };
  for (const auto& [name, value] : settings) {
    if (rd_kafka_NewTopic_set_config(new_topic.get(), name, value) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": cannot set ", name, "=", value));
    }
  }

  std::unique_ptr<rd_kafka_AdminOptions_t, AdminOptionsDeleter> options(
      rd_kafka_AdminOptions_new(rk_, RD_KAFKA_ADMIN_OP_CREATETOPICS));
  const int timeout_ms = RemainingMs(deadline);
  // The operation timeout makes the broker answer only once the topic exists on the controller.
  if (rd_kafka_AdminOptions_set_request_timeout(options.get(), timeout_ms, errstr, sizeof errstr) !=
          RD_KAFKA_RESP_ERR_NO_ERROR ||
      rd_kafka_AdminOptions_set_operation_timeout(options.get(), timeout_ms, errstr,
                                                  sizeof errstr) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(absl::StrCat(where, ": setting admin timeouts: ", errstr));
  }

  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(rk_));
  rd_kafka_NewTopic_t* topics[] = {new_topic.get()};
  rd_kafka_CreateTopics(rk_, topics, 1, options.get(), queue.get());
  // librdkafka fails the request itself at the request timeout; the extra second only guards
  // against never hearing back.
  std::unique_ptr<rd_kafka_event_t, EventDeleter> event(
      rd_kafka_queue_poll(queue.get(), timeout_ms + 1000));
  if (event == nullptr) {
    return absl::DeadlineExceededError(
        absl::StrCat(where, ": no answer within ", config_.admin_timeout.count(), " ms"));
  }
  if (rd_kafka_resp_err_t err = rd_kafka_event_error(event.get()); err) {
    return absl::Status(CodeFor(err),
                        absl::StrCat(where, ": ", rd_kafka_event_error_string(event.get())));
  }
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event.get());
  size_t count = 0;
  const rd_kafka_topic_result_t** results =
      result == nullptr ? nullptr : rd_kafka_CreateTopics_result_topics(result, &count);
  if (count != 1) {
    return absl::InternalError(absl::StrCat(where, ": expected 1 topic result, got ", count));
  }
  const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[0]);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
    return absl::OkStatus();
  }
  const char* detail = rd_kafka_topic_result_error_string(results[0]);
  std::string message = absl::StrCat(where, ": ", rd_kafka_err2name(err), ": ",
                                     detail != nullptr ? detail : rd_kafka_err2str(err));
  if (err == RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR) {
    absl::StrAppend(&message, "; lower KafkaConfig.replication_factor to the number of brokers");
  }
  return absl::Status(CodeFor(err), message);
}

absl::Status KafkaAdmin::WaitForLeaders(const std::string& topic, Clock::time_point deadline) {
  std::unique_ptr<rd_kafka_topic_t, TopicDeleter> rkt(
      rd_kafka_topic_new(rk_, topic.c_str(), nullptr));
  std::string problem = "no metadata answer";
  while (true) {
    const rd_kafka_metadata_t* raw = nullptr;
    const rd_kafka_resp_err_t err =
        rd_kafka_metadata(rk_, 0, rkt.get(), &raw, std::max(1, RemainingMs(deadline)));
    std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter> metadata(raw);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      problem = rd_kafka_err2str(err);
    } else if (metadata->topic_cnt != 1) {
      problem = absl::StrCat("metadata listed ", metadata->topic_cnt, " topics");
    } else if (const rd_kafka_metadata_topic_t& t = metadata->topics[0]; t.err) {
      problem = rd_kafka_err2str(t.err);
    } else if (t.partition_cnt == 0) {
      problem = "no partitions yet";
    } else {
      const bool all_led = std::all_of(t.partitions, t.partitions + t.partition_cnt,
                                       [](const auto& p) { return p.leader >= 0 && !p.err; });
      if (all_led) return absl::OkStatus();
      problem = "some partitions have no leader yet";
    }
    if (Clock::now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("Kafka topic ", topic, " at ", config_.brokers, " not usable within ",
                       config_.admin_timeout.count(), " ms: ", problem));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

namespace {

// What the probe's error callback saw: the first concrete connection error wins over the
// generic "all brokers are down".
struct ProbeErrors {
  std::mutex mu;
  std::string first_specific;
  std::string first_any;
};

void OnProbeError(rd_kafka_t*, int err, const char* reason, void* opaque) {
  auto* errors = static_cast<ProbeErrors*>(opaque);
  std::lock_guard lock(errors->mu);
  std::string text =
      reason != nullptr ? reason : rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(err));
  if (errors->first_any.empty()) errors->first_any = text;
  if (err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && errors->first_specific.empty()) {
    errors->first_specific = text;
  }
}

// The probe reports its failure in one status line; librdkafka's default logger would print the
// same connection errors again on stderr.
void DiscardLog(const rd_kafka_t*, int, const char*, const char*) {}

// librdkafka prefixes connection errors with the broker's client-side name
// ("127.0.0.1:9092/bootstrap: Connect to ..."); the line already names the brokers.
std::string WithoutBrokerPrefix(std::string text) {
  const size_t colon = text.find(": ");
  if (colon != std::string::npos && text.find(' ') > colon && text.find('/') < colon) {
    text.erase(0, colon + 2);
  }
  return text;
}

std::string OneLine(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

}  // namespace

absl::Status ProbeKafka(const KafkaConfig& config, std::chrono::milliseconds timeout) {
  auto conf = kafka_internal::NewCConf(
      kafka_internal::ClientProperties(config, kafka_internal::ClientKind::kAdmin));
  if (!conf.ok()) return conf.status();
  ProbeErrors errors;
  rd_kafka_conf_set_error_cb(*conf, OnProbeError);
  rd_kafka_conf_set_log_cb(*conf, DiscardLog);
  rd_kafka_conf_set_opaque(*conf, &errors);
  auto rk_or = NewHandle(*conf, config);
  if (!rk_or.ok()) return rk_or.status();
  std::unique_ptr<rd_kafka_t, HandleDeleter> rk(*rk_or);

  const rd_kafka_metadata_t* raw = nullptr;
  // all_topics=0 with no topic: a metadata request for no topic at all, which only lists brokers.
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(rk.get(), 0, nullptr, &raw, std::max(1, ClampMs(timeout)));
  std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter> metadata(raw);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR && metadata->broker_cnt > 0) return absl::OkStatus();

  rd_kafka_poll(rk.get(), 0);  // Serves the error callbacks queued while we waited.
  std::string reason;
  {
    std::lock_guard lock(errors.mu);
    reason = WithoutBrokerPrefix(!errors.first_specific.empty() ? errors.first_specific
                                                                : errors.first_any);
  }
  if (reason.empty()) {
    reason = err != RD_KAFKA_RESP_ERR_NO_ERROR
                 ? absl::StrCat(rd_kafka_err2str(err), " after ", timeout.count(), " ms")
                 : "the cluster listed no brokers";
  }
  return absl::UnavailableError(
      OneLine(absl::StrCat("cannot reach Kafka at ", config.brokers, ": ", reason)));
}

}  // namespace optimus::bus
