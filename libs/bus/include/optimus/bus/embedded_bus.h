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
  // How often compaction and retention run in the background; 0: only when RunMaintenance is
  // called.
  int maintenance_interval_ms = 60000;
};

class EmbeddedBus : public Bus {
 public:
  using Bus::EnsureTopic;

  // Compacts compacted topics (newest record per key; tombstones older than a day go) and
  // deletes records past their topic's retention that every consumer group has committed.
  // Returns how many records were deleted.
  virtual absl::StatusOr<int64_t> RunMaintenance(int64_t now_ms) = 0;
};

absl::StatusOr<std::unique_ptr<EmbeddedBus>> OpenEmbeddedBus(const EmbeddedBusOptions& options);

}  // namespace optimus::bus
