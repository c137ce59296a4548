// The dispatcher's use cases, independent of gRPC and REST: people queue executions of jobs and
// catalog tasks, follow and cancel them; executors register, heartbeat, claim, report and send
// logs. The adapters (dispatcher_service.cc, rest_routes.cc) only translate.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "optimus/blob/blob_store.h"
#include "optimus/core/v1/dispatch.pb.h"
#include "optimus/dispatcher/catalog.h"
#include "optimus/dispatcher/execution_store.h"
#include "optimus/dispatcher/executor_registry.h"
#include "optimus/dispatcher/job_plans.h"
#include "optimus/dispatcher/log_store.h"
#include "optimus/events/v1/executions.pb.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace optimus::dispatcher {

struct DispatcherOptions {
  int64_t lease_ms = 10'000;
  int64_t heartbeat_ms = 2'000;
  int64_t ping_deadline_ms = 30'000;
  int32_t max_attempts = 3;
  int64_t default_timeout_ms = 6 * 3600'000;
  int64_t registration_token_ms = 24 * 3600'000;
  int64_t credential_ttl_ms = 0;  // 0: executor credentials last until revoked
  // The run-token key (HMAC-SHA256), the same on every replica (kept in the schema).
  std::string run_token_key;
  std::function<int64_t()> now_ms;  // the clock; the system's when empty
};

// Wakes waiting claims when executions are queued (in this process, or by another replica
// through the database's notifications).
class QueueSignal {
 public:
  // `executions` were queued: wakes that many waiting claims (all of them when unknown, -1),
  // not every waiter for every execution.
  void Wake(int executions = -1);
  // Waits until Wake() is called after `seen` was read from generation(), or `timeout_ms`.
  void Wait(uint64_t seen, int64_t timeout_ms);
  uint64_t generation();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;
};

class Dispatcher {
 public:
  Dispatcher(store::Database& db, const store::Outbox& outbox, blob::BlobStore& blob,
             DispatcherOptions options, prometheus::Registry* metrics = nullptr);
  ~Dispatcher();

  // The schema: executions, executors, catalog, plans, keys.
  static std::vector<store::Migration> Migrations();
  // The run-token key kept in the schema (made on first start).
  static absl::StatusOr<std::string> LoadRunTokenKey(store::Database& db);

  const DispatcherOptions& options() const { return options_; }
  int64_t Now() const { return options_.now_ms(); }
  store::Database& db() { return db_; }
  ExecutionStore& executions() { return executions_; }
  ExecutorRegistry& executors() { return executors_; }
  Catalog& catalog() { return catalog_; }
  QueueSignal& signal() { return signal_; }

  // ---- people ----
  absl::StatusOr<core::v1::Execution> ExecuteJob(const core::v1::ExecuteJobRequest& request,
                                                 const std::string& requested_by);
  absl::StatusOr<core::v1::Execution> ExecuteTask(const core::v1::ExecuteTaskRequest& request,
                                                  const std::string& requested_by);
  // A request from optimus.executions.requests, inside the consumer's transaction.
  absl::Status EnqueueRequest(store::Transaction& tx, const events::v1::ExecutionRequest& request);
  absl::StatusOr<core::v1::ReadLogsResponse> ReadLogs(const core::v1::ReadLogsRequest& request);

  // ---- executors ----
  absl::StatusOr<core::v1::RegisterExecutorResponse> Register(
      const core::v1::RegisterExecutorRequest& request);
  absl::StatusOr<core::v1::HeartbeatResponse> Heartbeat(const ExecutorRecord& executor,
                                                        const core::v1::HeartbeatRequest& request);
  // Leases up to min(max, capacity - held) executions of the executor's pools, waiting up to
  // wait_ms (at most 30 s) for work when there is none.
  absl::StatusOr<core::v1::ClaimResponse> Claim(const ExecutorRecord& executor,
                                                const core::v1::ClaimRequest& request);
  absl::Status Start(const ExecutorRecord& executor,
                     const core::v1::StartExecutionRequest& request);
  absl::Status Finish(const ExecutorRecord& executor,
                      const core::v1::FinishExecutionRequest& request);
  // The starts and finishes among an executor's batched report items, in one transaction:
  // each answered at its index as Start or Finish would have (other items are refused).
  std::vector<absl::Status> StartAndFinish(const ExecutorRecord& executor,
                                           const std::vector<const core::v1::ReportItem*>& items);
  absl::Status AppendLog(const ExecutorRecord& executor, const core::v1::AppendLogRequest& request);
  // The execution whose run input `executor` may read: it holds the lease at `epoch` and the
  // run token is that lease's.
  absl::StatusOr<core::v1::Execution> AuthorizeRunInput(
      const ExecutorRecord& executor, const core::v1::ExecutorRunInputRequest& request);
  std::string RunToken(const std::string& execution_id, int64_t epoch) const;

  // One pass of housekeeping: expired leases and deadlines, stale executors, gauges.
  absl::Status Reap();

 private:
  struct Metrics;
  void ObserveFinished(const core::v1::Execution& e);

  store::Database& db_;
  DispatcherOptions options_;
  ExecutionStore executions_;
  ExecutorRegistry executors_;
  Catalog catalog_;
  JobPlans plans_;
  LogStore logs_;
  QueueSignal signal_;
  std::unique_ptr<Metrics> metrics_;
  std::optional<int64_t> started_ms_;  // the first Reap()
};

}  // namespace optimus::dispatcher
