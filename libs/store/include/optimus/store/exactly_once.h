// Processed-message bookkeeping: a consumer's effect and its progress commit together.
#pragma once

#include <functional>
#include <string>

#include "optimus/bus/message.h"
#include "optimus/store/database.h"

namespace optimus::store {

// Records, inside `tx`, that `consumer` has processed `message_id`. Returns false when it had
// already been recorded: the caller then skips the effect (the record is a re-delivery).
absl::StatusOr<bool> MarkProcessed(Transaction& tx, const std::string& consumer,
                                   const std::string& message_id);

using Effect = std::function<absl::Status(Transaction&, const bus::Message&)>;
// Runs in the transaction after the effects of a message or batch, before it commits: for work
// done once per batch (a sync, a batched computation). May be empty.
using BeforeCommit = std::function<absl::Status(Transaction&)>;

// Wraps `effect` into a bus handler that applies each message at most once per consumer: the
// effect and the bookkeeping row share one transaction, so a crash leaves both or neither.
// Together with at-least-once delivery (commit offsets after the handler) that is exactly once.
std::function<absl::Status(const bus::Message&)> ExactlyOnce(Database& db, std::string consumer,
                                                             Effect effect,
                                                             BeforeCommit before_commit = {});

// The batch form: applies every new message of `batch` in ONE transaction (one commit, one
// fsync), skipping those already processed. A failing effect rolls the whole batch back and
// returns that message's error, naming it; callers then retry message by message (ExactlyOnce)
// to find and dead-letter the poison one.
absl::Status ApplyBatchExactlyOnce(Database& db, const std::string& consumer,
                                   const std::vector<bus::Message>& batch, const Effect& effect,
                                   const BeforeCommit& before_commit = {});

}  // namespace optimus::store
