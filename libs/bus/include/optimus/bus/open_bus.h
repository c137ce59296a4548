// Chooses the bus adapter from a URI, the form configs use.
#pragma once

#include <memory>
#include <string>

#include "optimus/bus/bus.h"

namespace optimus::bus {

inline constexpr char kTopicPrefixProperty[] = "optimus.topic_prefix";

// embedded:/var/lib/optimus/bus.db     the durable log in a SQLite file
// kafka://host:9092,host2:9092         Apache Kafka (client id `client_id`); librdkafka
//                                      properties may follow: ?session.timeout.ms=6000&…
//                                      and ?optimus.topic_prefix=team-a. puts that prefix
//                                      before every topic and consumer group name
// With `check_reachable`, an unreachable Kafka fails here, in one line naming the brokers.
absl::StatusOr<std::unique_ptr<Bus>> OpenBus(const std::string& uri, const std::string& client_id,
                                             bool check_reachable = true);

}  // namespace optimus::bus
