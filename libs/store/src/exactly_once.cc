// Effect + bookkeeping in one transaction, so re-delivered records change nothing.
#include "optimus/store/exactly_once.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "optimus/bus/cloudevents.h"

namespace optimus::store {

absl::StatusOr<bool> MarkProcessed(Transaction& tx, const std::string& consumer,
                                   const std::string& message_id) {
  auto inserted = tx.Execute(
      "INSERT INTO processed_messages (consumer, message_id, processed_at_ms)"
      " VALUES ($1, $2, $3) ON CONFLICT (consumer, message_id) DO NOTHING",
      {consumer, message_id, absl::ToUnixMillis(absl::Now())});
  if (!inserted.ok()) return inserted.status();
  return inserted->affected_rows == 1;
}

std::function<absl::Status(const bus::Message&)> ExactlyOnce(Database& db, std::string consumer,
                                                             Effect effect,
                                                             BeforeCommit before_commit) {
  return [&db, consumer = std::move(consumer), effect = std::move(effect),
          before_commit = std::move(before_commit)](const bus::Message& message) -> absl::Status {
    return db.InTransaction([&](Transaction& tx) -> absl::Status {
      auto first_time = MarkProcessed(tx, consumer, bus::MessageId(message));
      if (!first_time.ok()) return first_time.status();
      if (!*first_time) return absl::OkStatus();
      if (absl::Status s = effect(tx, message); !s.ok()) return s;
      return before_commit ? before_commit(tx) : absl::OkStatus();
    });
  };
}

absl::Status ApplyBatchExactlyOnce(Database& db, const std::string& consumer,
                                   const std::vector<bus::Message>& batch, const Effect& effect,
                                   const BeforeCommit& before_commit) {
  if (batch.empty()) return absl::OkStatus();
  const int64_t now = absl::ToUnixMillis(absl::Now());
  return db.InTransaction([&](Transaction& tx) -> absl::Status {
    // One statement records the whole batch and returns the ids that were new: one round trip
    // instead of one per message. A record repeated inside the batch is claimed once.
    std::string sql =
        "INSERT INTO processed_messages (consumer, message_id, processed_at_ms) VALUES ";
    std::vector<Value> params;
    params.reserve(batch.size() * 3);
    for (size_t i = 0; i < batch.size(); ++i) {
      absl::StrAppend(&sql, i == 0 ? "" : ", ", "($", 3 * i + 1, ", $", 3 * i + 2, ", $", 3 * i + 3,
                      ")");
      params.emplace_back(consumer);
      params.emplace_back(bus::MessageId(batch[i]));
      params.emplace_back(now);
    }
    absl::StrAppend(&sql, " ON CONFLICT (consumer, message_id) DO NOTHING RETURNING message_id");
    auto claimed_rows = tx.Execute(sql, params);
    if (!claimed_rows.ok()) return claimed_rows.status();
    std::set<std::string> claimed;
    for (const Row& row : claimed_rows->rows) claimed.insert(row.Text(0));
    for (const bus::Message& message : batch) {
      if (claimed.erase(bus::MessageId(message)) == 0) continue;  // Seen before, or repeated.
      if (absl::Status s = effect(tx, message); !s.ok()) {
        return absl::Status(s.code(), absl::StrCat(message.topic, "/", message.partition, "/",
                                                   message.offset, ": ", s.message()));
      }
    }
    return before_commit ? before_commit(tx) : absl::OkStatus();
  });
}

}  // namespace optimus::store
