// The transactional outbox: state changes and their events commit together; a relay publishes.
#pragma once

#include <atomic>
#include <functional>
#include <stop_token>
#include <string>

#include "optimus/bus/bus.h"
#include "optimus/store/database.h"

namespace optimus::store {

// The channel Enqueue notifies so the relay wakes at once instead of polling.
inline constexpr char kOutboxChannel[] = "optimus_outbox";

class Outbox {
 public:
  // `source` becomes ce_source of every event, e.g. "optimus/spec-store".
  explicit Outbox(std::string source) : source_(std::move(source)) {}

  // Adds `message` to the outbox as part of `tx`; published only if `tx` commits. The message
  // must carry ce_type; ce_id, ce_time, ce_source and ce_specversion are added when missing.
  absl::Status Enqueue(Transaction& tx, bus::OutgoingMessage message) const;

  // Enqueue for many messages in one statement (one round trip), keeping their order.
  absl::Status EnqueueAll(Transaction& tx, std::vector<bus::OutgoingMessage> messages) const;

 private:
  std::string source_;
};

// What is waiting in an outbox.
struct OutboxBacklog {
  int64_t pending = 0;        // rows not yet published
  int64_t oldest_age_ms = 0;  // how long the oldest of them has waited; 0 when none
};

struct RelayOptions {
  int batch_size = 500;
  // After a batch smaller than batch_size: wait this long before reading again, so that a
  // stream of small commits is published in fewer, larger batches (0: read again at once).
  int linger_ms = 0;
  int idle_wait_ms = 1000;  // Upper bound between checks when no notification arrives.
  int retry_wait_ms = 500;  // After a failed publish.
  // Run() reports the backlog to `on_backlog` about this often (for gauges: also when empty).
  int backlog_interval_ms = 5000;
  std::function<void(const OutboxBacklog&)> on_backlog;
};

// Publishes outbox rows in id order and marks them published. Each batch runs in one
// transaction that holds the relay lock, so replicas never publish the same rows at once and
// per-key order is kept. A crash between publish and mark re-publishes that batch: consumers
// deduplicate by ce_id (see ExactlyOnce).
class OutboxRelay {
 public:
  OutboxRelay(Database& db, bus::Publisher& publisher, RelayOptions options = {})
      : db_(db), publisher_(publisher), options_(options) {}

  // Publishes one batch; returns how many rows it published (0 when the outbox is empty).
  absl::StatusOr<int> PublishBatch();

  // Publishes until `stop` is requested, waking on commits that enqueue events.
  void Run(std::stop_token stop);

  // Publishes everything pending now (used at shutdown and by tests).
  absl::Status Drain();

  // Counts the rows waiting to be published (one query; for metrics).
  absl::StatusOr<OutboxBacklog> Backlog();

  int64_t published() const { return published_.load(); }
  int64_t failures() const { return failures_.load(); }

 private:
  Database& db_;
  bus::Publisher& publisher_;
  RelayOptions options_;
  // Reads start above the highest id published so far: the index of unpublished rows keeps
  // the published ones' entries until they are vacuumed, and reading through them each time
  // cost more than the publishing (PostgreSQL, thousands of small commits a second). A row
  // whose transaction committed after a higher id was published lies below the floor: every
  // full read (ten times a second, and whenever a read above finds nothing) picks it up.
  int64_t floor_ = 0;
  std::chrono::steady_clock::time_point next_full_read_{};
  std::atomic<int64_t> published_{0};
  std::atomic<int64_t> failures_{0};
};

// Deletes published outbox rows older than `older_than_ms` (epoch ms); returns how many. Works
// from the lowest id up, a few thousand rows per transaction, and stops at the first row that
// is unpublished or newer: it reads what it deletes, not the whole outbox, and never holds the
// writer for long. (A published row above such a row goes at a later call.)
absl::StatusOr<int64_t> PruneOutbox(Database& db, int64_t older_than_ms);

// Deletes the exactly-once bookkeeping of records processed before `older_than_ms`, in batches
// (index processed_messages_age); returns how many. A record is delivered again only until its
// offset is committed, seconds after it was applied, or when a group's offsets are moved back
// by hand: the retention must outlast that.
absl::StatusOr<int64_t> PruneProcessed(Database& db, int64_t older_than_ms);

}  // namespace optimus::store
