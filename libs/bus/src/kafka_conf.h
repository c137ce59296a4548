// Turns a KafkaConfig into librdkafka client configurations, and librdkafka errors into absl codes.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "optimus/bus/kafka_bus.h"

namespace optimus::bus::kafka_internal {

enum class ClientKind { kProducer, kConsumer, kAdmin };

using Properties = std::vector<std::pair<std::string, std::string>>;

// Every property a client of `kind` gets, in the order they are applied: the adapter's defaults
// first, then the user's extras (which may override them). `group` is used for consumers only.
Properties ClientProperties(const KafkaConfig& config, ClientKind kind,
                            const std::string& group = "");

// A C++ client configuration holding `properties`; the error names the property that failed.
absl::StatusOr<std::unique_ptr<RdKafka::Conf>> NewCppConf(const Properties& properties);

// The same for the C API; the caller owns the result (rd_kafka_new takes it over on success).
absl::StatusOr<rd_kafka_conf_t*> NewCConf(const Properties& properties);

// The absl code an operation failing with `err` deserves: Unavailable for what a retry can fix.
absl::StatusCode CodeFor(rd_kafka_resp_err_t err);
inline absl::StatusCode CodeFor(RdKafka::ErrorCode err) {
  return CodeFor(static_cast<rd_kafka_resp_err_t>(err));
}

// Milliseconds for librdkafka calls, clamped to [0, INT_MAX].
int ClampMs(std::chrono::milliseconds ms);

}  // namespace optimus::bus::kafka_internal
