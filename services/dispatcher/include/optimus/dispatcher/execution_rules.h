// The rules of an execution's life, pure: its states and transitions, lease and fencing
// arithmetic, claim order, pool matching and catalog arguments. The store applies them in SQL;
// these functions are the specification it is tested against (docs/execution.md).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace optimus::dispatcher {

//   queued -> leased -> running -> succeeded | failed | cancelled | timed_out
//   leased | running -> queued            an expired lease with attempts left (attempt + 1)
//   leased | running -> failed            an expired lease on the last attempt
//   leased | running -> cancelled         an expired lease whose cancellation was asked
//   queued -> cancelled                   cancelled before any executor took it
enum class State { kQueued, kLeased, kRunning, kSucceeded, kFailed, kCancelled, kTimedOut };

std::string_view StateName(State state);
std::optional<State> ParseState(std::string_view name);
bool IsTerminal(State state);
// Whether the dispatcher may move an execution from `from` to `to`.
bool CanTransition(State from, State to);

// What a lease looks like in the store, and what a report claims.
struct LeaseView {
  State state = State::kQueued;
  std::string owner;  // executor id; "" when queued
  int64_t epoch = 0;
  int32_t attempt = 1;
};

// Fencing: OK when `executor` holds the lease at `epoch`; else FailedPrecondition saying why
// (ended, queued again, held by another executor or a later attempt), so that a stale executor
// stops instead of overwriting a newer attempt.
absl::Status CheckLease(const std::string& execution_id, const LeaseView& current,
                        const std::string& executor, int64_t epoch);

// What an expired lease becomes.
State AfterLeaseExpiry(int32_t attempt, int32_t max_attempts, bool cancel_requested);

// Claim order: higher priority first, then first queued first (FIFO by sequence).
struct QueueEntry {
  int32_t priority = 0;
  int64_t seq = 0;
};
bool ClaimsBefore(const QueueEntry& a, const QueueEntry& b);

// The label that names the pools an executor serves: `pool=etl` or `pool=etl,reports`.
inline constexpr char kPoolLabel[] = "pool";
// The pools an executor's labels say it serves (always including "", executions without one).
std::vector<std::string> ServedPools(const std::map<std::string, std::string>& labels);
bool PoolMatches(const std::string& pool, const std::map<std::string, std::string>& labels);

// Optimus's event type and run state for an execution entering `to` (requeued: an expired
// lease sent it back to the queue), on optimus.job.runs.
std::string_view EventType(State to, bool requeued);
std::string_view RunState(State to);

// A catalog task's argument declaration.
struct ArgumentSpec {
  std::string name;
  bool required = false;
  std::string default_value;
};

// The environment a catalog task runs with: every required argument given, no unknown one,
// defaults filled in. Names are matched case-insensitively and come out upper-cased.
// InvalidArgument listing every missing and unknown argument, with the known ones.
absl::StatusOr<std::map<std::string, std::string>> CheckArguments(
    const std::string& task, const std::vector<ArgumentSpec>& specs,
    const std::map<std::string, std::string>& given);

// An argument, task, pool or executor name: letters, digits, '_', '-' and '.', 1 to 63 long,
// starting with a letter or digit. InvalidArgument naming `what` otherwise.
absl::Status CheckName(std::string_view what, std::string_view name);

}  // namespace optimus::dispatcher
