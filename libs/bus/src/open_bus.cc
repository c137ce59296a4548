// Bus adapter selection by URI.
#include "optimus/bus/open_bus.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "optimus/bus/embedded_bus.h"
#include "optimus/bus/kafka_bus.h"

namespace optimus::bus {

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
    auto bus = KafkaBus::Create(std::move(config));
    if (!bus.ok()) return bus.status();
    if (check_reachable) {
      if (absl::Status s = (*bus)->CheckReachable(std::chrono::seconds(10)); !s.ok()) return s;
    }
    return std::unique_ptr<Bus>(*std::move(bus));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "bus URI '", uri, "' is neither embedded:<path> nor kafka://host:port[,host:port]"));
}

}  // namespace optimus::bus
