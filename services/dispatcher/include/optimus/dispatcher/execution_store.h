// Executions in the dispatcher's schema: queueing (idempotent by request key), atomic claims,
// leases with fencing epochs, reports, expiry and cancellation. Every transition enqueues its
// JobRunEvent on optimus.job.runs in the same transaction (transactional outbox).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "optimus/core/v1/dispatch.pb.h"
#include "optimus/dispatcher/execution_rules.h"
#include "optimus/events/v1/runs.pb.h"
#include "optimus/store/database.h"
#include "optimus/store/migrations.h"
#include "optimus/store/outbox.h"

namespace optimus::dispatcher {

// Channel notified when executions are queued, so that waiting claims wake at once.
inline constexpr char kQueueChannel[] = "optimus_executions";

// What to queue.
struct NewExecution {
  std::string request_key;   // "" : a new random one
  std::string kind = "job";  // job | task
  std::string project;
  std::string namespace_name;
  std::string name;  // job or catalog task
  int64_t scheduled_at_ms = 0;
  int32_t priority = 0;
  std::string pool;
  core::v1::ExecutionPlan plan;
  std::map<std::string, std::string> args;
  int32_t max_attempts = 3;
  int64_t timeout_ms = 0;  // 0: none
  std::string requested_by;
};

// How an executor says an execution ended.
struct ExecutionEnd {
  std::string id;
  int64_t epoch = 0;
  State state = State::kSucceeded;
  std::optional<int32_t> exit_code;
  std::string message;
};

struct ListFilter {
  std::string project;
  std::string name;
  std::vector<std::string> states;
  int32_t limit = 50;
  std::string before_id;
};

// What a heartbeat's renewal decided for each lease the executor believes it holds.
struct Renewal {
  std::vector<std::string> renewed;
  std::vector<std::string> lost;
  std::vector<std::string> cancel;
};

// What one expiry pass did.
struct ExpiryResult {
  int requeued = 0;
  int failed = 0;
  int cancelled = 0;
  int timed_out = 0;
};

class ExecutionStore {
 public:
  ExecutionStore(store::Database& db, const store::Outbox& outbox, int64_t lease_ms)
      : db_(db), outbox_(outbox), lease_ms_(lease_ms) {}

  static std::vector<store::Migration> Migrations();

  int64_t lease_ms() const { return lease_ms_; }

  // Queues `request` (state queued, attempt 1). A request key queued before returns that
  // execution, unchanged, with `created` false.
  struct Queued {
    core::v1::Execution execution;
    bool created = false;
  };
  absl::StatusOr<Queued> Enqueue(const NewExecution& request, int64_t now_ms);
  absl::StatusOr<Queued> EnqueueIn(store::Transaction& tx, const NewExecution& request,
                                   int64_t now_ms);

  // Leases up to `max` queued executions of `pools` to `executor` in one statement: highest
  // priority first, then oldest, and never more than `capacity` (0: no limit) held by the
  // executor at once. Each lease gets a new epoch and expires after lease_ms.
  absl::StatusOr<std::vector<core::v1::Execution>> Claim(const std::string& executor,
                                                         const std::vector<std::string>& pools,
                                                         int max, int64_t now_ms, int capacity = 0);

  // leased -> running, fenced by executor and epoch. A repeated start changes nothing.
  absl::Status Start(const std::string& id, const std::string& executor, int64_t epoch,
                     int64_t now_ms);
  // leased | running -> `end` (a terminal state), fenced; returns the ended execution (also when
  // the same end is reported again).
  absl::StatusOr<core::v1::Execution> Finish(const std::string& id, const std::string& executor,
                                             int64_t epoch, State end,
                                             std::optional<int32_t> exit_code,
                                             const std::string& message, int64_t now_ms);

  // Starts and ends of many executions in one transaction, so one commit (and one WAL sync)
  // for all: each is answered as Start or Finish would have answered it; a database error
  // fails them all.
  struct Report {
    std::string start_id;  // a start, when `end` is unset
    int64_t start_epoch = 0;
    std::optional<ExecutionEnd> end;
  };
  struct Reported {
    absl::Status status;
    core::v1::Execution ended;  // of an end that was applied
  };
  absl::StatusOr<std::vector<Reported>> StartAndFinish(const std::string& executor,
                                                       const std::vector<Report>& reports,
                                                       int64_t now_ms);
  // Extends the leases `executor` still holds; the others are lost.
  absl::StatusOr<Renewal> Renew(const std::string& executor,
                                const std::vector<std::pair<std::string, int64_t>>& held,
                                int64_t now_ms);
  // OK when `executor` holds the lease of `id` at `epoch` (see CheckLease); returns the
  // execution.
  absl::StatusOr<core::v1::Execution> Fenced(const std::string& id, const std::string& executor,
                                             int64_t epoch);

  // Expired leases: re-queued with attempt + 1, or failed on the last attempt, or cancelled
  // when that was asked; runs past their deadline by more than a lease: timed out.
  absl::StatusOr<ExpiryResult> ExpireLeases(int64_t now_ms);

  // A queued execution is cancelled at once; a leased or running one is marked, and its
  // executor stops it at its next heartbeat. NotFound outside `project`.
  absl::StatusOr<core::v1::Execution> Cancel(const std::string& project, const std::string& id,
                                             int64_t now_ms);
  absl::StatusOr<core::v1::Execution> CancelIn(store::Transaction& tx, const std::string& project,
                                               const std::string& id, int64_t now_ms);

  // NotFound when there is no such execution in `project` ("" : any project).
  absl::StatusOr<core::v1::Execution> Get(const std::string& project, const std::string& id);
  absl::StatusOr<std::vector<core::v1::Execution>> List(const ListFilter& filter);

  // Executions not yet ended, by state: queued, leased, running (for metrics). Ended ones are
  // history, which only grows: counting them would read every execution ever.
  absl::StatusOr<std::map<std::string, int64_t>> CountOpen();
  // Executions leased or running on each executor.
  absl::StatusOr<std::map<std::string, int64_t>> HeldByExecutor();

 private:
  absl::Status Publish(store::Transaction& tx, const core::v1::Execution& e, State to,
                       bool requeued, int64_t now_ms);
  // Start and Finish within `tx`: the item's answer goes to `answer`; the returned status is a
  // database error, which must fail the transaction.
  absl::Status StartIn(store::Transaction& tx, const std::string& id, const std::string& executor,
                       int64_t epoch, int64_t now_ms, absl::Status& answer);
  absl::Status FinishIn(store::Transaction& tx, const ExecutionEnd& end,
                        const std::string& executor, int64_t now_ms,
                        absl::StatusOr<core::v1::Execution>& answer);

  store::Database& db_;
  const store::Outbox& outbox_;
  int64_t lease_ms_;
};

// The optimus.job.runs event of an execution entering `to`, and its record.
bus::OutgoingMessage EventRecord(const core::v1::Execution& e, State to, bool requeued,
                                 int64_t now_ms);
events::v1::JobRunEvent ExecutionEvent(const core::v1::Execution& e, State to, bool requeued,
                                       int64_t now_ms);

}  // namespace optimus::dispatcher
