// Outbox writes and the relay loop.
#include "optimus/store/outbox.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "optimus/bus/cloudevents.h"
#include "optimus/bus/header_codec.h"

namespace optimus::store {
namespace {

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

}  // namespace

absl::Status Outbox::Enqueue(Transaction& tx, bus::OutgoingMessage message) const {
  std::vector<bus::OutgoingMessage> one;
  one.push_back(std::move(message));
  return EnqueueAll(tx, std::move(one));
}

absl::Status Outbox::EnqueueAll(Transaction& tx, std::vector<bus::OutgoingMessage> messages) const {
  if (messages.empty()) return absl::OkStatus();
  const int64_t now = NowMs();
  std::vector<std::vector<Value>> rows;
  rows.reserve(messages.size());
  for (bus::OutgoingMessage& message : messages) {
    if (message.topic.empty()) return absl::InvalidArgumentError("outbox: message has no topic");
    bool has_type = false;
    for (const auto& [k, v] : message.headers) has_type |= (k == bus::kCeType && !v.empty());
    if (!has_type) {
      return absl::InvalidArgumentError(
          absl::StrCat("outbox: message for ", message.topic, " has no ce_type header"));
    }
    bus::StampCloudEvent(message, source_);
    std::vector<Value>& row = rows.emplace_back();
    row.reserve(6);
    row.emplace_back(std::move(message.topic));
    row.emplace_back(std::move(message.key));
    row.emplace_back(Blob{std::move(message.payload)});
    row.emplace_back(Blob{bus::EncodeHeaders(message.headers)});
    row.emplace_back(now);
    row.emplace_back(static_cast<int64_t>(message.tombstone));
  }
  if (absl::Status s = ExecuteValues(
          tx, "INSERT INTO outbox (topic, msg_key, payload, headers, created_at_ms, tombstone)",
          rows);
      !s.ok()) {
    return s;
  }
  return tx.Notify(kOutboxChannel);
}

absl::StatusOr<int> OutboxRelay::PublishBatch() {
  int published = 0;
  absl::Status status = db_.InTransaction([&](Transaction& tx) -> absl::Status {
    if (tx.dialect() == Dialect::kPostgres) {
      // One relay at a time per schema; others wait here instead of publishing out of order.
      auto lock = tx.Execute("SELECT pg_advisory_xact_lock(hashtext('optimus_outbox_relay'))");
      if (!lock.ok()) return lock.status();
    }
    const auto now = std::chrono::steady_clock::now();
    bool full = floor_ == 0 || now >= next_full_read_;
    absl::StatusOr<Result> rows;
    for (;;) {
      if (full) next_full_read_ = now + std::chrono::milliseconds(100);
      rows = tx.Execute(
          "SELECT id, topic, msg_key, payload, headers, tombstone FROM outbox"
          " WHERE published_at_ms IS NULL AND id > $2 ORDER BY id LIMIT $1",
          {static_cast<int64_t>(options_.batch_size), full ? int64_t{0} : floor_});
      if (!rows.ok()) return rows.status();
      if (!rows->rows.empty() || full) break;
      full = true;  // nothing above the floor: look below it before going idle
    }
    if (rows->rows.empty()) return absl::OkStatus();
    std::vector<bus::OutgoingMessage> batch;
    batch.reserve(rows->rows.size());
    for (const Row& row : rows->rows) {
      auto headers = bus::DecodeHeaders(row.Text(4));
      if (!headers.ok()) {
        return absl::DataLossError(
            absl::StrCat("outbox row ", row.Int(0), ": ", headers.status().message()));
      }
      batch.push_back(
          {row.Text(1), row.Text(2), row.Text(3), *std::move(headers), row.Int(5) != 0});
    }
    if (absl::Status s = publisher_.PublishBatch(batch); !s.ok()) return s;
    // Exactly the rows sent. Ids are taken when a row is inserted but become visible when its
    // transaction commits, so a row with an id inside the sent range may have committed since
    // the SELECT (PostgreSQL, concurrent writers): marking the range would lose it.
    std::vector<Value> sent;
    sent.reserve(rows->rows.size());
    for (const Row& row : rows->rows) sent.emplace_back(row.Int(0));
    auto marked = ExecuteIn(
        tx, "UPDATE outbox SET published_at_ms = " + std::to_string(NowMs()) + " WHERE id", sent);
    if (!marked.ok()) return marked.status();
    published = static_cast<int>(rows->rows.size());
    floor_ = std::max(floor_, rows->rows.back().Int(0));
    return absl::OkStatus();
  });
  if (!status.ok()) {
    failures_.fetch_add(1);
    return status;
  }
  published_.fetch_add(published);
  return published;
}

absl::StatusOr<OutboxBacklog> OutboxRelay::Backlog() {
  auto row =
      db_.Execute("SELECT COUNT(*), MIN(created_at_ms) FROM outbox WHERE published_at_ms IS NULL");
  if (!row.ok()) return row.status();
  OutboxBacklog backlog;
  backlog.pending = row->rows[0].Int(0);
  if (backlog.pending > 0)
    backlog.oldest_age_ms = std::max<int64_t>(0, NowMs() - row->rows[0].Int(1));
  return backlog;
}

void OutboxRelay::Run(std::stop_token stop) {
  auto next_report = std::chrono::steady_clock::now();
  while (!stop.stop_requested()) {
    if (options_.on_backlog && std::chrono::steady_clock::now() >= next_report) {
      next_report = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(options_.backlog_interval_ms);
      if (auto backlog = Backlog(); backlog.ok()) options_.on_backlog(*backlog);
    }
    auto published = PublishBatch();
    if (!published.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(options_.retry_wait_ms));
      continue;
    }
    // Waits in short slices so a stop request is seen promptly even without a notification.
    if (*published == 0) {
      db_.WaitForNotification(kOutboxChannel, std::min(options_.idle_wait_ms, 200));
    } else if (*published < options_.batch_size && options_.linger_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(options_.linger_ms));
    }
  }
}

absl::Status OutboxRelay::Drain() {
  for (;;) {
    auto published = PublishBatch();
    if (!published.ok()) return published.status();
    if (*published == 0) return absl::OkStatus();
  }
}

namespace {

constexpr int64_t kPruneBatch = 5000;

}  // namespace

absl::StatusOr<int64_t> PruneOutbox(Database& db, int64_t older_than_ms) {
  int64_t pruned = 0;
  for (;;) {
    int64_t deleted = 0;
    absl::Status s = db.InTransaction([&](Transaction& tx) -> absl::Status {
      auto first = tx.Execute("SELECT MIN(id) FROM outbox");
      if (!first.ok()) return first.status();
      if (first->rows.empty() || first->rows[0].IsNull(0)) return absl::OkStatus();
      // Published rows in id order (as the relay publishes) up to the first one that is not
      // to go, within a batch: the scan stops there.
      const int64_t limit = first->rows[0].Int(0) + kPruneBatch;
      auto stop = tx.Execute(
          "SELECT id FROM outbox WHERE id < $1 AND (published_at_ms IS NULL OR published_at_ms >= "
          "$2) ORDER BY id LIMIT 1",
          {limit, older_than_ms});
      if (!stop.ok()) return stop.status();
      const int64_t below = stop->rows.empty() ? limit : stop->rows[0].Int(0);
      auto gone = tx.Execute(
          "DELETE FROM outbox WHERE id < $1 AND published_at_ms IS NOT NULL AND published_at_ms "
          "< $2",
          {below, older_than_ms});
      if (!gone.ok()) return gone.status();
      deleted = gone->affected_rows;
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    pruned += deleted;
    if (deleted < kPruneBatch) return pruned;
  }
}

absl::StatusOr<int64_t> PruneProcessed(Database& db, int64_t older_than_ms) {
  return DeleteInBatches(db,
                         "DELETE FROM processed_messages WHERE (consumer, message_id) IN (SELECT "
                         "consumer, message_id FROM processed_messages WHERE processed_at_ms < $1 "
                         "LIMIT $2)",
                         {older_than_ms}, kPruneBatch);
}

}  // namespace optimus::store
