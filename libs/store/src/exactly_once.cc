// Effect + bookkeeping in one transaction, so re-delivered records change nothing.
#include "optimus/store/exactly_once.h"

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
                                                             Effect effect) {
  return [&db, consumer = std::move(consumer),
          effect = std::move(effect)](const bus::Message& message) -> absl::Status {
    return db.InTransaction([&](Transaction& tx) -> absl::Status {
      auto first_time = MarkProcessed(tx, consumer, bus::MessageId(message));
      if (!first_time.ok()) return first_time.status();
      if (!*first_time) return absl::OkStatus();
      return effect(tx, message);
    });
  };
}

absl::Status ApplyBatchExactlyOnce(Database& db, const std::string& consumer,
                                   const std::vector<bus::Message>& batch, const Effect& effect) {
  if (batch.empty()) return absl::OkStatus();
  return db.InTransaction([&](Transaction& tx) -> absl::Status {
    for (const bus::Message& message : batch) {
      auto first_time = MarkProcessed(tx, consumer, bus::MessageId(message));
      if (!first_time.ok()) return first_time.status();
      if (!*first_time) continue;
      if (absl::Status s = effect(tx, message); !s.ok()) {
        return absl::Status(s.code(), absl::StrCat(message.topic, "/", message.partition, "/",
                                                   message.offset, ": ", s.message()));
      }
    }
    return absl::OkStatus();
  });
}

}  // namespace optimus::store
