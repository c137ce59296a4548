// Runs of jobs as the scheduler reports them (reference §6.4, §6.5, §8.2): the callbacks of the
// compiled DAGs post events; each accepted event updates the job run and its operator run and
// is published, in the same transaction, on optimus.job.runs (our schema) and optimus.changes
// (Optimus's OptimusChangeEvent job-run states). Upstream sensors then ask which runs of a job
// succeeded in a range of scheduled times.
#pragma once

#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "optimus/events/v1/runs.pb.h"
#include "optimus/spec/model.h"
#include "optimus/store/database.h"
#include "optimus/store/migrations.h"
#include "optimus/store/outbox.h"

namespace optimus::runtime_context {

// An event as the DAG's callbacks post it: {"event": {"type": "TYPE_...", "value": {...}}}.
// InvalidArgument naming what is wrong: an unknown type, a missing or malformed field.
// TYPE_SLA_MISS carries {"slas": [{"dag_id", "scheduled_at", "task_id", "timestamp"}],
// "job_url"}: one sla_miss event per run named (duplicates once), and an empty or unreadable
// list is refused, as Optimus refuses it.
absl::StatusOr<std::vector<events::v1::JobRunEvent>> ParseJobEvents(const nlohmann::json& body);
// ParseJobEvents for one event: the first.
absl::StatusOr<events::v1::JobRunEvent> ParseJobEvent(const nlohmann::json& body);

// Records `event` of the job (project, namespace, name in the event) and enqueues its records,
// in a transaction of its own.
absl::Status RecordJobEvent(store::Database& db, const store::Outbox& outbox,
                            events::v1::JobRunEvent event);

// The same inside `tx`. An event posted again (same job, type, times, task, attempt, status)
// changes nothing.
absl::Status RecordJobEventIn(store::Transaction& tx, const store::Outbox& outbox,
                              events::v1::JobRunEvent event);

// Records events from many request threads in shared transactions (group commit): at a
// schedule boundary thousands of callbacks post at once, and one commit per event would bound
// the rate by the database's commit latency. Record() returns once the transaction holding the
// event committed. When a shared transaction fails, its events are recorded one by one, so a
// bad event fails only its own request.
class EventRecorder {
 public:
  EventRecorder(store::Database& db, const store::Outbox& outbox, size_t max_batch = 256);
  // Close(), then waits for the writer.
  ~EventRecorder();

  // Answers the events queued so far, then stops the writer; Record() answers Unavailable from
  // then on. Safe to call more than once.
  void Close();
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  absl::Status Record(events::v1::JobRunEvent event);

 private:
  struct Pending {  // owned by the queue and the writer; Record() keeps only the future
    events::v1::JobRunEvent event;
    std::promise<absl::Status> done;
  };
  void Run(std::stop_token stop);
  void Write(const std::vector<std::shared_ptr<Pending>>& batch);

  store::Database& db_;
  const store::Outbox& outbox_;
  const size_t max_batch_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Pending>> queue_;
  bool closed_ = false;
  std::jthread writer_;  // last: stopped and joined before the members it uses go
};

// A run the dispatcher made (an optimus.job.runs record with an execution id, of a job) joins
// the job's run history, so that sensors and the runs API see it like one Airflow reported:
// running while it runs, then success or failed (failed, timed out, cancelled). Records of
// other producers, of catalog tasks and of the other transitions change nothing.
absl::Status RecordExecutionRun(store::Transaction& tx, const events::v1::JobRunEvent& event);
// Deletes the fingerprints of events posted before `older_than_ms` (in batches); returns how
// many. A callback posts an event again within minutes, not days.
absl::StatusOr<int64_t> ForgetSeenEvents(store::Database& db, int64_t older_than_ms);

// Whether RecordExecutionRun changes anything for `event`.
bool RecordsExecutionRun(const events::v1::JobRunEvent& event);

struct ExpectedRun {
  absl::Time scheduled_at;
  std::string state;  // success, failed, running, or pending when nothing was reported
};

// The runs a job should have between `start` and `end` (inclusive): its schedule's ticks, from
// its start date and up to its end date, each with the state recorded for it. InvalidArgument
// for an unscheduled job or a range of more than 10,000 ticks.
absl::StatusOr<std::vector<ExpectedRun>> JobRuns(store::Database& db, const std::string& project,
                                                 const spec::JobSpec& job, absl::Time start,
                                                 absl::Time end);

store::Migration JobRunsMigration();

}  // namespace optimus::runtime_context
