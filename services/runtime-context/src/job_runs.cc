// Job and operator runs from the scheduler's events; expected runs for sensors.
#include "optimus/runtime_context/job_runs.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "optimus/bus/cloudevents.h"
#include "optimus/pipeline/change_events.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/rpc/timestamps.h"
#include "optimus/schedule/cron.h"
#include "optimus/schedule/time_util.h"

namespace optimus::runtime_context {
namespace {

using google::protobuf::util::TimeUtil;

// Optimus's JobEvent types, by their wire name.
const std::set<std::string>& KnownTypes() {
  static const auto* types = new std::set<std::string>{
      "TYPE_SLA_MISS",       "TYPE_JOB_SUCCESS",  "TYPE_FAILURE",      "TYPE_TASK_RETRY",
      "TYPE_TASK_SUCCESS",   "TYPE_TASK_START",   "TYPE_TASK_FAIL",    "TYPE_SENSOR_RETRY",
      "TYPE_SENSOR_SUCCESS", "TYPE_SENSOR_START", "TYPE_SENSOR_FAIL",  "TYPE_HOOK_START",
      "TYPE_HOOK_RETRY",     "TYPE_HOOK_FAIL",    "TYPE_HOOK_SUCCESS", "TYPE_REPLAY_LIFECYCLE"};
  return *types;
}

absl::StatusOr<absl::Time> Rfc3339(const std::string& text, const std::string& field) {
  auto t = schedule::ParseRfc3339(text);
  if (!t.ok()) {
    return absl::InvalidArgumentError("event value " + field + " must be an RFC 3339 time, got \"" +
                                      text + "\"");
  }
  return t;
}

int64_t Ms(const google::protobuf::Timestamp& t) { return TimeUtil::TimestampToMilliseconds(t); }

}  // namespace

store::Migration JobRunsMigration() {
  return {3, "job and operator runs",
          "CREATE TABLE job_runs (project TEXT NOT NULL, job TEXT NOT NULL, scheduled_at_ms "
          "BIGINT NOT NULL, state TEXT NOT NULL, started_ms BIGINT NOT NULL, ended_ms BIGINT NOT "
          "NULL, PRIMARY KEY (project, job, scheduled_at_ms));"
          "CREATE TABLE operator_runs (project TEXT NOT NULL, job TEXT NOT NULL, scheduled_at_ms "
          "BIGINT NOT NULL, operator TEXT NOT NULL, task_id TEXT NOT NULL, attempt INTEGER NOT "
          "NULL, state TEXT NOT NULL, started_ms BIGINT NOT NULL, ended_ms BIGINT NOT NULL, "
          "PRIMARY KEY (project, job, scheduled_at_ms, operator, task_id, attempt));"
          // What makes an event itself: a callback that posts again after a lost answer sends
          // the same, and is recorded once.
          "CREATE TABLE seen_events (fingerprint TEXT PRIMARY KEY, seen_ms BIGINT NOT NULL)"};
}

namespace {

// The sla_miss events of an SLA_MISS value (see ParseJobEvents).
absl::StatusOr<std::vector<events::v1::JobRunEvent>> SlaMisses(const events::v1::JobRunEvent& base,
                                                               const nlohmann::json& value) {
  if (!value.contains("slas") || !value["slas"].is_array() || value["slas"].empty()) {
    return absl::InvalidArgumentError(
        "an SLA miss needs a non-empty list \"slas\" of {dag_id, scheduled_at}");
  }
  std::vector<events::v1::JobRunEvent> out;
  std::set<int64_t> seen;
  for (const nlohmann::json& sla : value["slas"]) {
    if (!sla.is_object() || !sla.contains("scheduled_at") || !sla["scheduled_at"].is_string() ||
        !sla.contains("dag_id") || !sla["dag_id"].is_string() ||
        sla["dag_id"].get<std::string>().empty()) {
      return absl::InvalidArgumentError(
          "each entry of slas needs dag_id and scheduled_at (RFC 3339), got " +
          sla.dump().substr(0, 200));
    }
    auto at = Rfc3339(sla["scheduled_at"].get<std::string>(), "slas[].scheduled_at");
    if (!at.ok()) return at.status();
    if (absl::Status s = rpc::CheckTime(*at, "slas[].scheduled_at"); !s.ok()) return s;
    if (!seen.insert(absl::ToUnixSeconds(*at)).second) continue;  // the same run twice
    events::v1::JobRunEvent e = base;
    e.set_event_id(bus::NewEventId());
    *e.mutable_scheduled_at() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(*at));
    // When Airflow saw the miss (a retried post sends the same): recorded once.
    absl::Time when = *at;
    if (sla.contains("timestamp") && sla["timestamp"].is_string()) {
      if (auto t = Rfc3339(sla["timestamp"].get<std::string>(), "slas[].timestamp");
          t.ok() && rpc::CheckTime(*t, "slas[].timestamp").ok()) {
        when = *t;
      }
    }
    *e.mutable_event_time() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(when));
    if (sla.contains("task_id") && sla["task_id"].is_string()) {
      e.set_task_id(sla["task_id"].get<std::string>());
    }
    if (value.contains("job_url") && value["job_url"].is_string()) {
      e.set_log_url(value["job_url"].get<std::string>());
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

absl::StatusOr<events::v1::JobRunEvent> ParseJobEvent(const nlohmann::json& body) {
  auto events = ParseJobEvents(body);
  if (!events.ok()) return events.status();
  return events->front();
}

absl::StatusOr<std::vector<events::v1::JobRunEvent>> ParseJobEvents(const nlohmann::json& body) {
  if (!body.is_object() || !body.contains("event") || !body["event"].is_object()) {
    return absl::InvalidArgumentError(
        "the body must be {\"event\": {\"type\": \"TYPE_...\", \"value\": {...}}}");
  }
  const nlohmann::json& e = body["event"];
  const std::string type = e.value("type", "");
  if (KnownTypes().count(type) == 0) {
    return absl::InvalidArgumentError("unknown event type \"" + type + "\"");
  }
  const nlohmann::json value = e.contains("value") ? e["value"] : nlohmann::json::object();
  if (!value.is_object()) return absl::InvalidArgumentError("event value must be an object");
  events::v1::JobRunEvent out;
  out.set_event_id(bus::NewEventId());
  out.set_type(absl::AsciiStrToLower(type.substr(5)));
  if (type == "TYPE_SLA_MISS") return SlaMisses(out, value);
  if (type == "TYPE_REPLAY_LIFECYCLE") return std::vector<events::v1::JobRunEvent>{out};
  // What Optimus requires of every run event (core/scheduler/event.go).
  for (const char* field : {"status", "event_time", "task_id", "scheduled_at"}) {
    if (!value.contains(field) || value[field].is_null()) {
      return absl::InvalidArgumentError(std::string("event value needs ") + field);
    }
  }
  if (!value["status"].is_string() || !value["task_id"].is_string() ||
      !value["scheduled_at"].is_string() || !value["event_time"].is_number()) {
    return absl::InvalidArgumentError(
        "event value: status, task_id and scheduled_at are strings, event_time a number");
  }
  auto scheduled = Rfc3339(value["scheduled_at"].get<std::string>(), "scheduled_at");
  if (!scheduled.ok()) return scheduled.status();
  // Times are kept in nanoseconds (int64: up to 2262); past 2200 no scheduler reports a run,
  // and an overflowing time would make different events look the same.
  const double event_time = value["event_time"].get<double>();
  constexpr double kLatestSeconds = 7258118400;  // 2200-01-01T00:00:00Z
  if (absl::ToUnixSeconds(*scheduled) < 0 || absl::ToUnixSeconds(*scheduled) >= kLatestSeconds) {
    return absl::InvalidArgumentError("scheduled_at " + value["scheduled_at"].get<std::string>() +
                                      " is outside 1970..2199");
  }
  if (!(event_time >= 0 && event_time < kLatestSeconds)) {
    return absl::InvalidArgumentError("event_time must be seconds since 1970 (before 2200), got " +
                                      value["event_time"].dump());
  }
  *out.mutable_scheduled_at() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(*scheduled));
  *out.mutable_event_time() =
      TimeUtil::NanosecondsToTimestamp(static_cast<int64_t>(event_time * 1e9));
  out.set_status(value["status"].get<std::string>());
  out.set_task_id(value["task_id"].get<std::string>());
  if (value.contains("attempt") && value["attempt"].is_number_integer()) {
    out.set_attempt(value["attempt"].get<int32_t>());
  }
  if (value.contains("message") && value["message"].is_string()) {
    out.set_message(value["message"].get<std::string>());
  }
  if (value.contains("log_url") && value["log_url"].is_string()) {
    out.set_log_url(value["log_url"].get<std::string>());
  }
  const std::string& t = out.type();
  out.set_operator_(t.rfind("task_", 0) == 0     ? "task"
                    : t.rfind("sensor_", 0) == 0 ? "sensor"
                    : t.rfind("hook_", 0) == 0   ? "hook"
                                                 : "");
  return std::vector<events::v1::JobRunEvent>{out};
}

namespace {

// The run history state an execution's record gives, or "" (queued, leased: nothing has run).
std::string ExecutionRunState(const std::string& s) {
  if (s == "running") return "in_progress";
  if (s == "succeeded") return "success";
  if (s == "failed" || s == "timed_out" || s == "cancelled") return "failed";
  return "";
}

}  // namespace

absl::StatusOr<int64_t> ForgetSeenEvents(store::Database& db, int64_t older_than_ms) {
  return store::DeleteInBatches(db,
                                "DELETE FROM seen_events WHERE fingerprint IN (SELECT fingerprint "
                                "FROM seen_events WHERE seen_ms < $1 LIMIT $2)",
                                {older_than_ms}, 5000);
}

bool RecordsExecutionRun(const events::v1::JobRunEvent& event) {
  return !event.execution_id().empty() && event.kind() == "job" && event.has_scheduled_at() &&
         !ExecutionRunState(event.execution_state()).empty();
}

absl::Status RecordExecutionRun(store::Transaction& tx, const events::v1::JobRunEvent& event) {
  if (!RecordsExecutionRun(event)) return absl::OkStatus();
  const std::string state = ExecutionRunState(event.execution_state());
  const int64_t at = Ms(event.scheduled_at());
  const int64_t when = Ms(event.event_time());
  const bool ended = state != "in_progress";
  // A new run of the same scheduled time (run again by hand) starts the row afresh.
  return tx
      .Execute(
          "INSERT INTO job_runs (project, job, scheduled_at_ms, state, started_ms, ended_ms) "
          "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (project, job, scheduled_at_ms) DO UPDATE "
          "SET state = excluded.state, ended_ms = excluded.ended_ms, started_ms = CASE WHEN "
          "excluded.ended_ms = 0 THEN excluded.started_ms ELSE job_runs.started_ms END",
          {event.project(), event.job(), at, state, when, ended ? when : int64_t{0}})
      .status();
}

absl::Status RecordJobEvent(store::Database& db, const store::Outbox& outbox,
                            events::v1::JobRunEvent event) {
  return db.InTransaction(
      [&](store::Transaction& tx) { return RecordJobEventIn(tx, outbox, std::move(event)); });
}

absl::Status RecordJobEventIn(store::Transaction& tx, const store::Outbox& outbox,
                              events::v1::JobRunEvent event) {
  const std::string& t = event.type();
  const std::string key = pipeline::JobKey(event.project(), event.job());
  const std::string fingerprint = pipeline::Sha256Hex(absl::StrCat(
      key, "|", t, "|", event.has_scheduled_at() ? Ms(event.scheduled_at()) : 0, "|",
      event.has_event_time() ? TimeUtil::TimestampToNanoseconds(event.event_time()) : 0, "|",
      event.task_id(), "|", event.attempt(), "|", event.status()));
  {
    if (event.has_scheduled_at()) {
      auto fresh = tx.Execute(
          "INSERT INTO seen_events (fingerprint, seen_ms) VALUES ($1, $2) ON CONFLICT "
          "(fingerprint) DO NOTHING",
          {fingerprint, absl::ToUnixMillis(absl::Now())});
      if (!fresh.ok()) return fresh.status();
      if (fresh->affected_rows == 0) return absl::OkStatus();  // posted again: already recorded
    }
    std::vector<bus::OutgoingMessage> out;
    pipeline::OptimusChangeEvent::EventType change =
        pipeline::OptimusChangeEvent::EVENT_TYPE_TYPE_UNSPECIFIED;
    // An SLA miss says a run is late; it changes no run's state.
    if (event.has_scheduled_at() && t != "sla_miss") {
      const int64_t at = Ms(event.scheduled_at());
      const int64_t when = Ms(event.event_time());
      auto row = tx.Execute(
          "SELECT state, started_ms FROM job_runs WHERE project = $1 AND job = $2 AND "
          "scheduled_at_ms = $3",
          {event.project(), event.job(), at});
      if (!row.ok()) return row.status();
      std::string state = row->rows.empty() ? "" : row->rows[0].Text(0);
      const int64_t started = row->rows.empty() ? when : row->rows[0].Int(1);
      int64_t ended = 0;
      if (t == "job_success" || t == "failure") {
        state = t == "job_success" ? "success" : "failed";
        ended = when;
        change = t == "job_success" ? pipeline::OptimusChangeEvent::EVENT_TYPE_JOB_SUCCESS
                                    : pipeline::OptimusChangeEvent::EVENT_TYPE_JOB_FAILURE;
      } else if (state != "success" && state != "failed") {
        // An operator's event: the run is waiting for upstreams while its sensors run, then
        // in progress.
        const bool sensor = event.operator_() == "sensor";
        state =
            sensor && (state.empty() || state == "wait_upstream") ? "wait_upstream" : "in_progress";
        if (t == "sensor_start" || t == "task_start" || t == "hook_start") {
          change = sensor ? pipeline::OptimusChangeEvent::EVENT_TYPE_JOB_WAIT_UPSTREAM
                          : pipeline::OptimusChangeEvent::EVENT_TYPE_JOB_IN_PROGRESS;
        }
      }
      auto saved = tx.Execute(
          "INSERT INTO job_runs (project, job, scheduled_at_ms, state, started_ms, ended_ms) "
          "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (project, job, scheduled_at_ms) DO UPDATE "
          "SET state = excluded.state, ended_ms = excluded.ended_ms",
          {event.project(), event.job(), at, state, started, ended});
      if (!saved.ok()) return saved.status();
      event.set_run_state(state);
      if (!event.operator_().empty()) {
        const std::string op_state = t.ends_with("_start")     ? "running"
                                     : t.ends_with("_success") ? "success"
                                     : t.ends_with("_retry")   ? "retried"
                                                               : "failed";
        auto op = tx.Execute(
            "INSERT INTO operator_runs (project, job, scheduled_at_ms, operator, task_id, attempt, "
            "state, started_ms, ended_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT "
            "(project, job, scheduled_at_ms, operator, task_id, attempt) DO UPDATE SET state = "
            "excluded.state, ended_ms = excluded.ended_ms",
            {event.project(), event.job(), at, event.operator_(), event.task_id(),
             static_cast<int64_t>(event.attempt()), op_state, when,
             op_state == "running" ? int64_t{0} : when});
        if (!op.ok()) return op.status();
      }
    }
    out.push_back(pipeline::ProtoRecord(pipeline::kJobRunsTopic, key, event));
    if (change != pipeline::OptimusChangeEvent::EVENT_TYPE_TYPE_UNSPECIFIED) {
      pipeline::OptimusChangeEvent ce;
      ce.set_event_id(event.event_id());
      *ce.mutable_occurred_at() = event.event_time();
      ce.set_project_name(event.project());
      ce.set_namespace_name(event.namespace_());
      ce.set_event_type(change);
      ce.set_job_name(event.job());
      auto* run = ce.mutable_job_run();
      run->set_job_name(event.job());
      *run->mutable_scheduled_at() = event.scheduled_at();
      *run->mutable_start_time() = event.event_time();
      out.push_back(pipeline::ProtoRecord(pipeline::kChangesTopic, key, ce));
    }
    return outbox.EnqueueAll(tx, std::move(out));
  }
}

EventRecorder::EventRecorder(store::Database& db, const store::Outbox& outbox, size_t max_batch)
    : db_(db), outbox_(outbox), max_batch_(std::max<size_t>(1, max_batch)) {
  writer_ = std::jthread([this](std::stop_token stop) { Run(stop); });
}

EventRecorder::~EventRecorder() { Close(); }

void EventRecorder::Close() {
  {
    std::lock_guard lock(mu_);  // the writer is waiting, or sees the request before it waits
    closed_ = true;
    writer_.request_stop();
  }
  cv_.notify_all();
  if (writer_.joinable() && writer_.get_id() != std::this_thread::get_id()) writer_.join();
}

absl::Status EventRecorder::Record(events::v1::JobRunEvent event) {
  auto pending = std::make_shared<Pending>();
  pending->event = std::move(event);
  std::future<absl::Status> done = pending->done.get_future();
  {
    std::lock_guard lock(mu_);
    if (closed_) return absl::UnavailableError("runtime-context is stopping; post the event again");
    queue_.push_back(std::move(pending));
  }
  cv_.notify_one();
  return done.get();
}

void EventRecorder::Run(std::stop_token stop) {
  for (;;) {
    std::vector<std::shared_ptr<Pending>> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !queue_.empty() || stop.stop_requested(); });
      if (queue_.empty()) return;  // stopping, and every queued event was answered
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    Write(batch);
  }
}

void EventRecorder::Write(const std::vector<std::shared_ptr<Pending>>& batch) {
  // One transaction for every event that arrived while the last one committed; in queue
  // order, so events of one run apply in the order they came.
  absl::Status shared;
  try {
    shared = db_.InTransaction([&](store::Transaction& tx) {
      for (const auto& p : batch) {
        if (absl::Status s = RecordJobEventIn(tx, outbox_, p->event); !s.ok()) return s;
      }
      return absl::OkStatus();
    });
  } catch (const std::exception& e) {
    shared = absl::InternalError(std::string("recording job events failed: ") + e.what());
  }
  for (const auto& p : batch) {
    // A failed shared transaction recorded nothing: each event alone, so that one that cannot
    // be recorded fails only its own request.
    absl::Status own = shared;
    if (!shared.ok() && batch.size() > 1) {
      try {
        own = RecordJobEvent(db_, outbox_, p->event);
      } catch (const std::exception& e) {
        own = absl::InternalError(std::string("recording a job event failed: ") + e.what());
      }
    }
    p->done.set_value(own);
  }
}

absl::StatusOr<std::vector<ExpectedRun>> JobRuns(store::Database& db, const std::string& project,
                                                 const spec::JobSpec& job, absl::Time start,
                                                 absl::Time end) {
  if (job.schedule.interval.empty()) {
    return absl::InvalidArgumentError("job " + job.name + " has no schedule, so no expected runs");
  }
  auto cron = schedule::CronSchedule::Parse(job.schedule.interval);
  if (!cron.ok()) return cron.status();
  const absl::TimeZone utc = absl::UTCTimeZone();
  absl::Time from = start;
  absl::CivilDay day;
  if (absl::ParseCivilTime(job.schedule.start_date, &day))
    from = std::max(from, absl::FromCivil(day, utc));
  absl::Time until = end;
  if (absl::ParseCivilTime(job.schedule.end_date, &day)) {
    until = std::min(until, absl::FromCivil(day + 1, utc));
  }
  std::vector<ExpectedRun> runs;
  for (auto t = cron->Next(from - absl::Seconds(1), utc); t && *t <= until;
       t = cron->Next(*t, utc)) {
    if (runs.size() == 10000) {
      return absl::InvalidArgumentError("the range holds more than 10,000 runs of " + job.name);
    }
    runs.push_back({*t, "pending"});
  }
  if (runs.empty()) return runs;
  auto rows = db.Execute(
      "SELECT scheduled_at_ms, state FROM job_runs WHERE project = $1 AND job = $2 AND "
      "scheduled_at_ms >= $3 AND scheduled_at_ms <= $4",
      {project, job.name, absl::ToUnixMillis(runs.front().scheduled_at),
       absl::ToUnixMillis(runs.back().scheduled_at)});
  if (!rows.ok()) return rows.status();
  std::map<int64_t, std::string> states;
  for (const auto& r : rows->rows) states[r.Int(0)] = r.Text(1);
  for (ExpectedRun& run : runs) {
    auto s = states.find(absl::ToUnixMillis(run.scheduled_at));
    if (s == states.end()) continue;
    run.state = s->second == "wait_upstream" || s->second == "in_progress" ? "running" : s->second;
  }
  return runs;
}

}  // namespace optimus::runtime_context
