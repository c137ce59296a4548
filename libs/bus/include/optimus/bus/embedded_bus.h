// The embedded bus: a durable, partitioned log in a SQLite file, for `optimus serve`.
//
// Same contract as Kafka for one node: records keyed to partitions, per-partition order,
// consumer groups with committed positions, at-least-once delivery. Several processes may use
// one file (SQLite locking); within a process, publishers wake consumers at once.
// One consumer per group is expected: a group's consumer reads every partition.
#pragma once

#include <memory>
#include <string>

#include "optimus/bus/bus.h"

namespace optimus::bus {

struct EmbeddedBusOptions {
  std::string path;            // The SQLite file of the log.
  int default_partitions = 3;  // For topics created on first use.
  bool synchronous_full = true;
  int poll_interval_ms = 50;  // How often a consumer looks for records written by other processes.
};

absl::StatusOr<std::unique_ptr<Bus>> OpenEmbeddedBus(const EmbeddedBusOptions& options);

}  // namespace optimus::bus
