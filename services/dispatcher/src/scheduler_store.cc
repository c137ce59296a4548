// The native scheduler's schema, the records it consumes (projects, runs Airflow reported) and
// its runs as the store holds them (see scheduler.h).
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "optimus/dispatcher/scheduler.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/telemetry/log.h"

namespace optimus::dispatcher {

using google::protobuf::util::TimeUtil;

std::vector<store::Migration> Scheduler::Migrations(int first) {
  return {
      {first, "native scheduling",
       "ALTER TABLE plan_jobs ADD COLUMN upstreams TEXT NOT NULL DEFAULT '';"
       "CREATE TABLE sched_meta (name TEXT PRIMARY KEY, value BIGINT NOT NULL);"
       "INSERT INTO sched_meta (name, value) VALUES ('plans', 0);"
       "INSERT INTO sched_meta (name, value) VALUES ('external', 0);"
       "CREATE TABLE sched_projects (name TEXT PRIMARY KEY, mode TEXT NOT NULL, presets ${BLOB} "
       "NOT NULL);"
       "CREATE TABLE sched_runs (job_key TEXT NOT NULL, scheduled_at BIGINT NOT NULL, project "
       "TEXT NOT NULL, state TEXT NOT NULL, try_number INTEGER NOT NULL, generation INTEGER NOT "
       "NULL, execution_id TEXT NOT NULL, not_before_ms BIGINT NOT NULL, waiting_since_ms BIGINT "
       "NOT NULL, replay_id TEXT NOT NULL, sla_reported INTEGER NOT NULL, message TEXT NOT NULL, "
       "updated_ms BIGINT NOT NULL, PRIMARY KEY (job_key, scheduled_at));"
       "CREATE INDEX sched_runs_open ON sched_runs (state) WHERE state IN ('waiting', 'running', "
       "'retry_wait');"
       "CREATE TABLE sched_external_runs (job_key TEXT NOT NULL, scheduled_at BIGINT NOT NULL, "
       "state TEXT NOT NULL, version BIGINT NOT NULL, PRIMARY KEY (job_key, scheduled_at));"
       "CREATE INDEX sched_external_version ON sched_external_runs (version);"
       "CREATE TABLE sched_lease (name TEXT PRIMARY KEY, holder TEXT NOT NULL, epoch BIGINT NOT "
       "NULL, expires_ms BIGINT NOT NULL);"
       "INSERT INTO sched_lease (name, holder, epoch, expires_ms) VALUES ('native', '', 0, 0);"
       "CREATE TABLE replays (id TEXT PRIMARY KEY, project TEXT NOT NULL, namespace TEXT NOT "
       "NULL, job TEXT NOT NULL, start_ms BIGINT NOT NULL, end_ms BIGINT NOT NULL, parallel "
       "INTEGER NOT NULL, downstream INTEGER NOT NULL, description TEXT NOT NULL, job_config "
       "TEXT NOT NULL, state TEXT NOT NULL, message TEXT NOT NULL, requested_by TEXT NOT NULL, "
       "created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL);"
       "CREATE INDEX replays_project ON replays (project, created_ms);"
       "CREATE INDEX replays_state ON replays (state);"
       "CREATE TABLE replay_runs (replay_id TEXT NOT NULL, job_key TEXT NOT NULL, scheduled_at "
       "BIGINT NOT NULL, ord INTEGER NOT NULL, state TEXT NOT NULL, PRIMARY KEY (replay_id, "
       "job_key, scheduled_at))"},
      {first + 1, "replays through Airflow",
       "ALTER TABLE sched_projects ADD COLUMN scheduler_host TEXT NOT NULL DEFAULT '';"
       "ALTER TABLE sched_projects ADD COLUMN scheduler_version TEXT NOT NULL DEFAULT '';"
       "ALTER TABLE replays ADD COLUMN scheduler TEXT NOT NULL DEFAULT 'native';"
       "ALTER TABLE replay_runs ADD COLUMN logical_ms BIGINT NOT NULL DEFAULT 0;"
       "ALTER TABLE replay_runs ADD COLUMN dag_run_id TEXT NOT NULL DEFAULT ''"},
      // A pass reads the executions that ended since the one before, not every open run.
      {first + 2, "executions by end", "CREATE INDEX executions_ended ON executions (ended_ms)"},
  };
}

absl::Status Scheduler::PlansChanged(store::Transaction& tx) {
  return tx.Execute("UPDATE sched_meta SET value = value + 1 WHERE name = 'plans'").status();
}

absl::Status Scheduler::ApplyProject(store::Transaction& tx, const bus::Message& m) {
  if (m.tombstone) {
    if (auto s = tx.Execute("DELETE FROM sched_projects WHERE name = $1", {m.key}); !s.ok()) {
      return s.status();
    }
    return PlansChanged(tx);
  }
  auto record = pipeline::ParseRecord<events::v1::ProjectRecord>(m);
  if (!record.ok()) return record.status();
  std::string mode = "airflow";
  if (auto it = record->config().find(kSchedulerConfigKey); it != record->config().end()) {
    auto parsed = ParseSchedulerMode(it->second);
    if (!parsed.ok()) {
      // Registration refuses such a value; a record from before that check stays on Airflow.
      LOG_WARN("project names an unknown scheduler; its jobs stay on Airflow",
               {{"project", record->name()}, {"error", parsed.status()}});
    } else if (*parsed == SchedulerMode::kNative) {
      mode = "native";
    }
  }
  const auto config = [&](const char* key) {
    auto it = record->config().find(key);
    return it == record->config().end() ? std::string() : it->second;
  };
  auto done = tx.Execute(
      "INSERT INTO sched_projects (name, mode, presets, scheduler_host, scheduler_version) "
      "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET mode = excluded.mode, "
      "presets = excluded.presets, scheduler_host = excluded.scheduler_host, scheduler_version = "
      "excluded.scheduler_version",
      {record->name(), mode, store::Blob{record->presets_yaml()}, config("SCHEDULER_HOST"),
       config("SCHEDULER_VERSION")});
  if (!done.ok()) return done.status();
  return PlansChanged(tx);
}

namespace {

// A run Airflow reported, as opposed to the dispatcher's and this scheduler's own records
// (known already) and to task-level events.
bool ReportedByAirflow(const events::v1::JobRunEvent& e) {
  return e.execution_id().empty() && e.scheduler().empty() && e.kind() != "task" &&
         e.has_scheduled_at() && e.operator_().empty();
}

}  // namespace

bool Scheduler::WantsJobRun(const bus::Message& m) {
  if (m.tombstone) return false;
  auto event = pipeline::ParseRecord<events::v1::JobRunEvent>(m);
  return !event.ok() || ReportedByAirflow(*event);
}

absl::Status Scheduler::ApplyJobRun(store::Transaction& tx, const bus::Message& m) {
  if (m.tombstone) return absl::OkStatus();
  auto event = pipeline::ParseRecord<events::v1::JobRunEvent>(m);
  if (!event.ok()) return event.status();
  if (!ReportedByAirflow(*event)) return absl::OkStatus();
  const std::string& s = event->run_state();
  const std::string state = s == "success" ? "succeeded" : s == "failed" ? "failed" : "running";
  auto version =
      tx.Execute("UPDATE sched_meta SET value = value + 1 WHERE name = 'external' RETURNING value");
  if (!version.ok()) return version.status();
  if (version->rows.empty()) return absl::InternalError("sched_meta has no 'external' row");
  const int64_t at =
      event->scheduled_at().seconds() * 1000 + event->scheduled_at().nanos() / 1'000'000;
  return tx
      .Execute(
          "INSERT INTO sched_external_runs (job_key, scheduled_at, state, version) VALUES ($1, "
          "$2, $3, $4) ON CONFLICT (job_key, scheduled_at) DO UPDATE SET state = excluded.state, "
          "version = excluded.version",
          {pipeline::JobKey(event->project(), event->job()), at, state, version->rows[0].Int(0)})
      .status();
}

absl::StatusOr<core::v1::ListScheduledRunsResponse> ListScheduledRuns(
    store::Database& db, const core::v1::ListScheduledRunsRequest& request) {
  if (request.project_name().empty()) {
    return absl::InvalidArgumentError("listing scheduled runs needs project_name");
  }
  if (!request.state().empty() && !ParseRunStatus(request.state())) {
    return absl::InvalidArgumentError("state \"" + request.state() +
                                      "\" is not waiting, running, retry_wait, succeeded, "
                                      "failed or cancelled");
  }
  const int64_t limit = request.limit() <= 0 ? 100 : std::min(request.limit(), 10000);
  std::string sql =
      "SELECT job_key, scheduled_at, state, try_number, generation, execution_id, message, "
      "replay_id, updated_ms FROM sched_runs WHERE project = $1";
  std::vector<store::Value> params{request.project_name()};
  if (!request.job_name().empty()) {
    params.push_back(pipeline::JobKey(request.project_name(), request.job_name()));
    absl::StrAppend(&sql, " AND job_key = $", params.size());
  }
  if (!request.state().empty()) {
    params.push_back(request.state());
    absl::StrAppend(&sql, " AND state = $", params.size());
  }
  params.push_back(limit);
  absl::StrAppend(&sql, " ORDER BY scheduled_at DESC, job_key LIMIT $", params.size());
  auto rows = db.Execute(sql, params);
  if (!rows.ok()) return rows.status();
  core::v1::ListScheduledRunsResponse out;
  for (const store::Row& row : rows->rows) {
    auto* run = out.add_runs();
    run->set_project(request.project_name());
    run->set_job(row.Text(0).substr(row.Text(0).find('/') + 1));
    *run->mutable_scheduled_at() = TimeUtil::MillisecondsToTimestamp(row.Int(1));
    run->set_state(row.Text(2));
    run->set_try_number(static_cast<int32_t>(row.Int(3)));
    run->set_generation(static_cast<int32_t>(row.Int(4)));
    run->set_execution_id(row.Text(5));
    run->set_message(row.Text(6));
    run->set_replay_id(row.Text(7));
    *run->mutable_updated_at() = TimeUtil::MillisecondsToTimestamp(row.Int(8));
  }
  return out;
}

}  // namespace optimus::dispatcher
