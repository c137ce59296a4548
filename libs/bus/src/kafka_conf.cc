// Builds librdkafka configurations from KafkaConfig and checks a KafkaConfig before any client
// exists.
#include "kafka_conf.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace optimus::bus {
namespace kafka_internal {
namespace {

void AppendAll(const std::map<std::string, std::string>& extra, Properties& out) {
  for (const auto& [name, value] : extra) out.emplace_back(name, value);
}

}  // namespace

Properties ClientProperties(const KafkaConfig& config, ClientKind kind, const std::string& group) {
  Properties props = {
      {"bootstrap.servers", config.brokers},
      {"client.id", config.client_id},
  };
  switch (kind) {
    case ClientKind::kProducer:
      props.insert(props.end(),
                   {
                       // Exactly-once per partition and no reordering on retries.
                       {"enable.idempotence", "true"},
                       {"acks", "all"},
                       // PublishBatch hands over whole batches (the outbox relay's), so
                       // waiting for more only adds latency: 5 ms doubled the p50 of
                       // tools/bench/bus.
                       {"linger.ms", "0"},
                       {"compression.type", config.compression},
                       // The Java client's partitioner, so keys land where Java
                       // producers and Kafka Streams expect them.
                       {"partitioner", "murmur2_random"},
                       {"message.timeout.ms", std::to_string(ClampMs(config.publish_timeout))},
                   });
      AppendAll(config.properties, props);
      AppendAll(config.producer_properties, props);
      break;
    case ClientKind::kConsumer:
      props.insert(props.end(), {
                                    {"group.id", group},
                                    // Offsets move only through Consumer::Commit, after the
                                    // record's effect is durable.
                                    {"enable.auto.commit", "false"},
                                    {"enable.auto.offset.store", "false"},
                                    {"auto.offset.reset", "earliest"},
                                    {"isolation.level", "read_committed"},
                                    {"enable.partition.eof", "false"},
                                });
      AppendAll(config.properties, props);
      AppendAll(config.consumer_properties, props);
      break;
    case ClientKind::kAdmin:
      AppendAll(config.properties, props);
      break;
  }
  return props;
}

absl::StatusOr<std::unique_ptr<RdKafka::Conf>> NewCppConf(const Properties& properties) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string errstr;
  for (const auto& [name, value] : properties) {
    if (conf->set(name, value, errstr) != RdKafka::Conf::CONF_OK) {
      return absl::InvalidArgumentError(
          absl::StrCat("Kafka property ", name, "=\"", value, "\" rejected: ", errstr));
    }
  }
  return conf;
}

absl::StatusOr<rd_kafka_conf_t*> NewCConf(const Properties& properties) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  for (const auto& [name, value] : properties) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError(
          absl::StrCat("Kafka property ", name, "=\"", value, "\" rejected: ", errstr));
    }
  }
  return conf;
}

absl::StatusCode CodeFor(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      return absl::StatusCode::kOk;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return absl::StatusCode::kDeadlineExceeded;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_INVALID_REQUEST:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return absl::StatusCode::kInvalidArgument;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
      return absl::StatusCode::kPermissionDenied;
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
      return absl::StatusCode::kAlreadyExists;
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__INCONSISTENT:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
      return absl::StatusCode::kInternal;
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR__NOT_IMPLEMENTED:
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
      return absl::StatusCode::kUnimplemented;
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST:
      // The partition moved to another member; the record will be redelivered there.
      return absl::StatusCode::kAborted;
    default:
      // Broker/network conditions (transport, leader changes, coordinator moves, queue full):
      // librdkafka recovers from them, so the caller should retry.
      return absl::StatusCode::kUnavailable;
  }
}

int ClampMs(std::chrono::milliseconds ms) {
  return static_cast<int>(std::clamp<int64_t>(ms.count(), 0, INT_MAX));
}

}  // namespace kafka_internal

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

absl::Status ValidateBrokerList(const std::string& brokers) {
  if (Trim(brokers).empty()) {
    return absl::InvalidArgumentError(
        "KafkaConfig.brokers is empty; set it to host:port[,host:port...] "
        "(tools/dev/kafka env prints the dev broker's)");
  }
  std::string_view rest = brokers;
  while (true) {
    const size_t comma = rest.find(',');
    std::string_view entry = Trim(rest.substr(0, comma));
    if (const size_t scheme = entry.find("://"); scheme != std::string_view::npos) {
      entry.remove_prefix(scheme + 3);
    }
    const size_t colon = entry.rfind(':');
    int port = 0;
    const std::string_view port_text =
        colon == std::string_view::npos ? std::string_view() : entry.substr(colon + 1);
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (colon == std::string_view::npos || colon == 0 || port_text.empty() || ec != std::errc() ||
        end != port_text.data() + port_text.size() || port < 1 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("KafkaConfig.brokers entry \"", std::string(entry), "\" in \"", brokers,
                       "\" is not host:port with a port in 1..65535"));
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateKafkaConfig(const KafkaConfig& config) {
  if (absl::Status s = ValidateBrokerList(config.brokers); !s.ok()) return s;
  if (config.client_id.empty()) {
    return absl::InvalidArgumentError("KafkaConfig.client_id is empty; name the service");
  }
  if (config.publish_timeout.count() <= 0 || config.admin_timeout.count() <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "KafkaConfig timeouts must be positive (publish_timeout=", config.publish_timeout.count(),
        " ms, admin_timeout=", config.admin_timeout.count(), " ms)"));
  }
  if (config.replication_factor < 1 && config.replication_factor != -1) {
    return absl::InvalidArgumentError(
        absl::StrCat("KafkaConfig.replication_factor is ", config.replication_factor,
                     "; use a positive number, or -1 for the broker's default"));
  }
  static constexpr std::string_view kCompressions[] = {"none", "lz4", "zstd", "snappy", "gzip"};
  if (std::find(std::begin(kCompressions), std::end(kCompressions), config.compression) ==
      std::end(kCompressions)) {
    return absl::InvalidArgumentError(
        absl::StrCat("KafkaConfig.compression \"", config.compression,
                     "\" is not one of none, lz4, zstd, snappy, gzip"));
  }
  // librdkafka itself knows which property names and values are valid.
  for (auto kind : {kafka_internal::ClientKind::kProducer, kafka_internal::ClientKind::kConsumer}) {
    auto conf = kafka_internal::NewCConf(kafka_internal::ClientProperties(config, kind, "check"));
    if (!conf.ok()) return conf.status();
    rd_kafka_conf_destroy(*conf);
  }
  return absl::OkStatus();
}

}  // namespace optimus::bus
