// Runs of jobs as the scheduler reports them (reference §6.4, §6.5, §8.2): the callbacks of the
// compiled DAGs post events; each accepted event updates the job run and its operator run and
// is published, in the same transaction, on optimus.job.runs (our schema) and optimus.changes
// (Optimus's OptimusChangeEvent job-run states). Upstream sensors then ask which runs of a job
// succeeded in a range of scheduled times.
#pragma once

#include <string>
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
absl::StatusOr<events::v1::JobRunEvent> ParseJobEvent(const nlohmann::json& body);

// Records `event` of the job (project, namespace, name in the event) and enqueues its records.
absl::Status RecordJobEvent(store::Database& db, const store::Outbox& outbox,
                            events::v1::JobRunEvent event);

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
