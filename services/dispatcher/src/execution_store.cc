// Executions in SQL: every transition is one guarded statement (state, owner and epoch in its
// WHERE), so concurrent dispatcher replicas and stale executors can never move an execution
// twice. Claims take rows with FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite has one writer.
#include "optimus/dispatcher/execution_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"
#include "optimus/bus/cloudevents.h"
#include "optimus/pipeline/pipeline.h"

namespace optimus::dispatcher {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kColumns[] =
    "id, request_key, kind, project, namespace, name, scheduled_at_ms, state, attempt, "
    "max_attempts, epoch, lease_owner, lease_expires_ms, priority, pool, exit_code, message, "
    "log_prefix, requested_by, created_ms, started_ms, ended_ms, cancel_requested, plan, args, "
    "timeout_ms, deadline_ms, seq";
constexpr char kHeld[] = "state IN ('leased', 'running')";

google::protobuf::Timestamp Ts(int64_t ms) { return TimeUtil::MillisecondsToTimestamp(ms); }

core::v1::Execution FromRow(const store::Row& r) {
  core::v1::Execution e;
  e.set_id(r.Text(0));
  e.set_request_key(r.Text(1));
  e.set_kind(r.Text(2));
  e.set_project(r.Text(3));
  e.set_namespace_(r.Text(4));
  e.set_name(r.Text(5));
  if (r.Int(6) != 0) *e.mutable_scheduled_at() = Ts(r.Int(6));
  e.set_state(r.Text(7));
  e.set_attempt(static_cast<int32_t>(r.Int(8)));
  e.set_max_attempts(static_cast<int32_t>(r.Int(9)));
  e.set_epoch(r.Int(10));
  e.set_executor_id(r.Text(11));
  if (r.Int(12) != 0) *e.mutable_lease_expires_at() = Ts(r.Int(12));
  e.set_priority(static_cast<int32_t>(r.Int(13)));
  e.set_pool(r.Text(14));
  if (!r.IsNull(15)) {
    e.set_has_exit_code(true);
    e.set_exit_code(static_cast<int32_t>(r.Int(15)));
  }
  e.set_message(r.Text(16));
  e.set_log_prefix(r.Text(17));
  e.set_requested_by(r.Text(18));
  *e.mutable_created_at() = Ts(r.Int(19));
  if (r.Int(20) != 0) *e.mutable_started_at() = Ts(r.Int(20));
  if (r.Int(21) != 0) *e.mutable_ended_at() = Ts(r.Int(21));
  e.set_cancel_requested(r.Int(22) != 0);
  e.mutable_plan()->ParseFromString(r.Text(23));
  auto args = nlohmann::json::parse(r.Text(24), nullptr, false);
  if (args.is_object()) {
    for (const auto& [k, v] : args.items()) {
      if (v.is_string()) (*e.mutable_args())[k] = v.get<std::string>();
    }
  }
  return e;
}

std::vector<core::v1::Execution> FromRows(const store::Result& result) {
  std::vector<core::v1::Execution> out;
  out.reserve(result.rows.size());
  for (const auto& row : result.rows) out.push_back(FromRow(row));
  return out;
}

State StateOf(const core::v1::Execution& e) {
  auto s = ParseState(e.state());
  return s ? *s : State::kFailed;
}

LeaseView ViewOf(const core::v1::Execution& e) {
  return {
      .state = StateOf(e), .owner = e.executor_id(), .epoch = e.epoch(), .attempt = e.attempt()};
}

absl::StatusOr<core::v1::Execution> SelectOne(store::Transaction& tx, const std::string& where,
                                              const std::vector<store::Value>& params,
                                              const std::string& what) {
  auto rows =
      tx.Execute(absl::StrCat("SELECT ", kColumns, " FROM executions WHERE ", where), params);
  if (!rows.ok()) return rows.status();
  if (rows->rows.empty()) return absl::NotFoundError(what);
  return FromRow(rows->rows.front());
}

std::string LockClause(const store::Transaction& tx) {
  return tx.dialect() == store::Dialect::kPostgres ? " FOR UPDATE SKIP LOCKED" : "";
}

}  // namespace

std::vector<store::Migration> ExecutionStore::Migrations() {
  return {{1, "executions",
           "CREATE TABLE executions (seq ${AUTO_ID}, id TEXT NOT NULL UNIQUE, request_key TEXT NOT "
           "NULL UNIQUE, kind TEXT NOT NULL, project TEXT NOT NULL, namespace TEXT NOT NULL, name "
           "TEXT NOT NULL, scheduled_at_ms BIGINT NOT NULL, state TEXT NOT NULL, attempt INTEGER "
           "NOT NULL, max_attempts INTEGER NOT NULL, epoch BIGINT NOT NULL, lease_owner TEXT NOT "
           "NULL, lease_expires_ms BIGINT NOT NULL, priority INTEGER NOT NULL, pool TEXT NOT "
           "NULL, exit_code INTEGER, message TEXT NOT NULL, log_prefix TEXT NOT NULL, "
           "requested_by TEXT NOT NULL, created_ms BIGINT NOT NULL, started_ms BIGINT NOT NULL, "
           "ended_ms BIGINT NOT NULL, cancel_requested INTEGER NOT NULL, plan ${BLOB} NOT NULL, "
           "args TEXT NOT NULL, timeout_ms BIGINT NOT NULL, deadline_ms BIGINT NOT NULL);"
           // Partial indexes: a claim reads only the queue in claim order, housekeeping only
           // the held leases by expiry, a capacity check only an executor's held leases. Rows
           // leave them as they move on, so the hot indexes stay small however long the history.
           "CREATE INDEX executions_queue ON executions (pool, priority DESC, seq) WHERE state = "
           "'queued';"
           "CREATE INDEX executions_leases ON executions (lease_expires_ms) WHERE state IN "
           "('leased', 'running');"
           "CREATE INDEX executions_owner ON executions (lease_owner) WHERE state IN ('leased', "
           "'running');"
           "CREATE INDEX executions_history ON executions (project, name, seq)"}};
}

events::v1::JobRunEvent ExecutionEvent(const core::v1::Execution& e, State to, bool requeued,
                                       int64_t now_ms) {
  events::v1::JobRunEvent out;
  out.set_event_id(bus::NewEventId());
  out.set_project(e.project());
  out.set_namespace_(e.namespace_());
  out.set_job(e.name());
  out.set_type(std::string(EventType(to, requeued)));
  if (e.has_scheduled_at()) *out.mutable_scheduled_at() = e.scheduled_at();
  *out.mutable_event_time() = Ts(now_ms);
  const bool operator_event = to == State::kRunning || (to == State::kQueued && requeued);
  if (operator_event) {
    out.set_operator_("task");
    for (const auto& step : e.plan().steps()) {
      if (step.kind() == core::v1::ExecutionStep::KIND_TASK) out.set_task_id(step.name());
    }
  }
  out.set_attempt(e.attempt());
  out.set_status(std::string(StateName(to)));
  out.set_run_state(std::string(RunState(to)));
  out.set_message(e.message());
  out.set_log_url(e.log_prefix());
  out.set_execution_id(e.id());
  out.set_executor_id(e.executor_id());
  out.set_execution_state(std::string(StateName(to)));
  if (e.has_exit_code()) out.set_exit_code(e.exit_code());
  out.set_kind(e.kind());
  return out;
}

bus::OutgoingMessage EventRecord(const core::v1::Execution& e, State to, bool requeued,
                                 int64_t now_ms) {
  return pipeline::ProtoRecord(pipeline::kJobRunsTopic, pipeline::JobKey(e.project(), e.name()),
                               ExecutionEvent(e, to, requeued, now_ms));
}

absl::Status ExecutionStore::Publish(store::Transaction& tx, const core::v1::Execution& e, State to,
                                     bool requeued, int64_t now_ms) {
  return outbox_.Enqueue(tx, EventRecord(e, to, requeued, now_ms));
}

absl::StatusOr<ExecutionStore::Queued> ExecutionStore::Enqueue(const NewExecution& request,
                                                               int64_t now_ms) {
  Queued out;
  absl::Status s = db_.InTransaction([&](store::Transaction& tx) -> absl::Status {
    auto queued = EnqueueIn(tx, request, now_ms);
    if (!queued.ok()) return queued.status();
    out = *std::move(queued);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<ExecutionStore::Queued> ExecutionStore::EnqueueIn(store::Transaction& tx,
                                                                 const NewExecution& request,
                                                                 int64_t now_ms) {
  const std::string id = bus::NewEventId();
  const std::string key = request.request_key.empty() ? "once/" + id : request.request_key;
  nlohmann::json args = nlohmann::json::object();
  for (const auto& [k, v] : request.args) args[k] = v;
  auto inserted = tx.Execute(
      "INSERT INTO executions (id, request_key, kind, project, namespace, name, scheduled_at_ms, "
      "state, attempt, max_attempts, epoch, lease_owner, lease_expires_ms, priority, pool, "
      "exit_code, message, log_prefix, requested_by, created_ms, started_ms, ended_ms, "
      "cancel_requested, plan, args, timeout_ms, deadline_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, "
      "'queued', 1, $8, 0, '', 0, $9, $10, NULL, '', $11, $12, $13, 0, 0, 0, $14, $15, $16, 0) "
      "ON CONFLICT (request_key) DO NOTHING",
      {id, key, request.kind, request.project, request.namespace_name, request.name,
       request.scheduled_at_ms, static_cast<int64_t>(std::max(1, request.max_attempts)),
       static_cast<int64_t>(request.priority), request.pool,
       absl::StrCat("logs/", request.project, "/", request.name, "/", id, "/"),
       request.requested_by, now_ms, store::Blob{request.plan.SerializeAsString()}, args.dump(),
       request.timeout_ms});
  if (!inserted.ok()) return inserted.status();
  auto e = SelectOne(tx, "request_key = $1", {key}, "no execution of request " + key);
  if (!e.ok()) return e.status();
  Queued out{.execution = *std::move(e), .created = inserted->affected_rows > 0};
  if (!out.created) return out;  // asked again: the first request's execution stands
  if (absl::Status s = Publish(tx, out.execution, State::kQueued, false, now_ms); !s.ok()) return s;
  if (absl::Status s = tx.Notify(kQueueChannel); !s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<core::v1::Execution>> ExecutionStore::Claim(
    const std::string& executor, const std::vector<std::string>& pools, int max, int64_t now_ms,
    int capacity) {
  std::vector<core::v1::Execution> claimed;
  if (max <= 0 || pools.empty()) return claimed;
  absl::Status s = db_.InTransaction([&](store::Transaction& tx) -> absl::Status {
    std::vector<store::Value> params = {executor, now_ms + lease_ms_, static_cast<int64_t>(max),
                                        static_cast<int64_t>(capacity > 0 ? capacity : 1 << 30)};
    std::vector<std::string> marks;
    for (const std::string& pool : pools) {
      params.emplace_back(pool);
      marks.push_back(absl::StrCat("$", params.size()));
    }
    // One statement picks and leases: no scan-then-update window for another claimer. The
    // executor gets no more than its capacity minus what it holds already.
    const bool postgres = tx.dialect() == store::Dialect::kPostgres;
    auto rows = tx.Execute(
        absl::StrCat(
            "UPDATE executions SET state = 'leased', lease_owner = $1, epoch = epoch + 1, "
            "lease_expires_ms = $2 WHERE state = 'queued' AND seq ",
            // PostgreSQL: an array, so that the rows are found by key; with IN it
            // planned a hash join over every queued row.
            postgres ? "= ANY(ARRAY(" : "IN (",
            "SELECT seq FROM executions WHERE state = 'queued' AND pool IN (",
            absl::StrJoin(marks, ", "),
            ") ORDER BY priority DESC, seq LIMIT (SELECT CASE WHEN $4 - COUNT(*) < 1 THEN 0 "
            "WHEN $4 - COUNT(*) < $3 THEN $4 - COUNT(*) ELSE $3 END FROM executions "
            "WHERE lease_owner = $1 AND ",
            kHeld, ")", LockClause(tx), postgres ? "))" : ")", " RETURNING ", kColumns),
        params);
    if (!rows.ok()) return rows.status();
    // RETURNING gives no order: hand them out in claim order.
    std::vector<std::pair<QueueEntry, core::v1::Execution>> ordered;
    for (const auto& row : rows->rows) {
      core::v1::Execution e = FromRow(row);
      ordered.emplace_back(QueueEntry{.priority = e.priority(), .seq = row.Int(27)}, std::move(e));
    }
    std::sort(ordered.begin(), ordered.end(),
              [](const auto& a, const auto& b) { return ClaimsBefore(a.first, b.first); });
    claimed.clear();
    std::vector<bus::OutgoingMessage> events;
    for (auto& [entry, e] : ordered) {
      events.push_back(EventRecord(e, State::kLeased, false, now_ms));
      claimed.push_back(std::move(e));
    }
    return outbox_.EnqueueAll(tx, std::move(events));
  });
  if (!s.ok()) return s;
  return claimed;
}

absl::StatusOr<core::v1::Execution> ExecutionStore::Fenced(const std::string& id,
                                                           const std::string& executor,
                                                           int64_t epoch) {
  core::v1::Execution out;
  absl::Status s = db_.InReadTransaction([&](store::Transaction& tx) -> absl::Status {
    auto e = SelectOne(tx, "id = $1", {id}, "no execution " + id);
    if (!e.ok()) return e.status();
    out = *std::move(e);
    return CheckLease(id, ViewOf(out), executor, epoch);
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status ExecutionStore::StartIn(store::Transaction& tx, const std::string& id,
                                     const std::string& executor, int64_t epoch, int64_t now_ms,
                                     absl::Status& answer) {
  auto rows = tx.Execute(
      absl::StrCat("UPDATE executions SET state = 'running', started_ms = $1, lease_expires_ms "
                   "= $2, deadline_ms = CASE WHEN timeout_ms > 0 THEN $1 + timeout_ms ELSE 0 "
                   "END WHERE id = $3 AND lease_owner = $4 AND epoch = $5 AND state = 'leased' "
                   "RETURNING ",
                   kColumns),
      {now_ms, now_ms + lease_ms_, id, executor, epoch});
  if (!rows.ok()) return rows.status();
  if (!rows->rows.empty()) {
    answer = absl::OkStatus();
    return Publish(tx, FromRow(rows->rows.front()), State::kRunning, false, now_ms);
  }
  auto e = SelectOne(tx, "id = $1", {id}, "no execution " + id);
  if (!e.ok()) {
    if (!absl::IsNotFound(e.status())) return e.status();
    answer = e.status();
    return absl::OkStatus();
  }
  // A start reported again (its answer was lost) is already applied.
  answer = CheckLease(id, ViewOf(*e), executor, epoch);
  return absl::OkStatus();
}

absl::Status ExecutionStore::FinishIn(store::Transaction& tx, const ExecutionEnd& end,
                                      const std::string& executor, int64_t now_ms,
                                      absl::StatusOr<core::v1::Execution>& answer) {
  if (!IsTerminal(end.state)) {
    answer = absl::InvalidArgumentError(
        absl::StrCat("an execution ends succeeded, failed, cancelled or timed_out, not ",
                     std::string(StateName(end.state))));
    return absl::OkStatus();
  }
  auto rows = tx.Execute(
      absl::StrCat("UPDATE executions SET state = $1, exit_code = $2, message = $3, ended_ms = "
                   "$4, lease_expires_ms = 0 WHERE id = $5 AND lease_owner = $6 AND epoch = $7 "
                   "AND ",
                   kHeld, " RETURNING ", kColumns),
      {std::string(StateName(end.state)),
       end.exit_code ? store::Value(static_cast<int64_t>(*end.exit_code)) : store::Value(nullptr),
       end.message.substr(0, 4096), now_ms, end.id, executor, end.epoch});
  if (!rows.ok()) return rows.status();
  if (!rows->rows.empty()) {
    answer = FromRow(rows->rows.front());
    return Publish(tx, *answer, end.state, false, now_ms);
  }
  auto e = SelectOne(tx, "id = $1", {end.id}, "no execution " + end.id);
  if (!e.ok()) {
    if (!absl::IsNotFound(e.status())) return e.status();
    answer = e.status();
    return absl::OkStatus();
  }
  // The same end reported again by the executor that ran it: already applied.
  if (e->state() == StateName(end.state) && e->executor_id() == executor &&
      e->epoch() == end.epoch) {
    answer = *std::move(e);
    return absl::OkStatus();
  }
  answer = CheckLease(end.id, ViewOf(*e), executor, end.epoch);
  return absl::OkStatus();
}

absl::Status ExecutionStore::Start(const std::string& id, const std::string& executor,
                                   int64_t epoch, int64_t now_ms) {
  absl::Status answer;
  absl::Status s = db_.InTransaction(
      [&](store::Transaction& tx) { return StartIn(tx, id, executor, epoch, now_ms, answer); });
  return s.ok() ? answer : s;
}

absl::StatusOr<core::v1::Execution> ExecutionStore::Finish(
    const std::string& id, const std::string& executor, int64_t epoch, State state,
    std::optional<int32_t> exit_code, const std::string& message, int64_t now_ms) {
  const ExecutionEnd end{
      .id = id, .epoch = epoch, .state = state, .exit_code = exit_code, .message = message};
  absl::StatusOr<core::v1::Execution> answer;
  absl::Status s = db_.InTransaction(
      [&](store::Transaction& tx) { return FinishIn(tx, end, executor, now_ms, answer); });
  if (!s.ok()) return s;
  return answer;
}

absl::StatusOr<std::vector<ExecutionStore::Reported>> ExecutionStore::StartAndFinish(
    const std::string& executor, const std::vector<Report>& reports, int64_t now_ms) {
  std::vector<Reported> out;
  absl::Status s = db_.InTransaction([&](store::Transaction& tx) -> absl::Status {
    out.assign(reports.size(), Reported{});
    for (size_t i = 0; i < reports.size(); ++i) {
      const Report& r = reports[i];
      if (r.end) {
        absl::StatusOr<core::v1::Execution> ended;
        if (absl::Status db = FinishIn(tx, *r.end, executor, now_ms, ended); !db.ok()) return db;
        out[i].status = ended.status();
        if (ended.ok()) out[i].ended = *std::move(ended);
      } else if (absl::Status db =
                     StartIn(tx, r.start_id, executor, r.start_epoch, now_ms, out[i].status);
                 !db.ok()) {
        return db;
      }
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<Renewal> ExecutionStore::Renew(
    const std::string& executor, const std::vector<std::pair<std::string, int64_t>>& held,
    int64_t now_ms) {
  Renewal out;
  if (held.empty()) return out;
  absl::Status s = db_.InTransaction([&](store::Transaction& tx) -> absl::Status {
    out = Renewal{};
    for (const auto& [id, epoch] : held) {
      auto rows = tx.Execute(
          absl::StrCat("UPDATE executions SET lease_expires_ms = $1 WHERE id = $2 AND lease_owner "
                       "= $3 AND epoch = $4 AND ",
                       kHeld, " RETURNING cancel_requested"),
          {now_ms + lease_ms_, id, executor, epoch});
      if (!rows.ok()) return rows.status();
      if (rows->rows.empty()) {
        out.lost.push_back(id);
      } else if (rows->rows.front().Int(0) != 0) {
        out.cancel.push_back(id);
      } else {
        out.renewed.push_back(id);
      }
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<ExpiryResult> ExecutionStore::ExpireLeases(int64_t now_ms) {
  ExpiryResult result;
  absl::Status s = db_.InTransaction([&](store::Transaction& tx) -> absl::Status {
    result = ExpiryResult{};
    auto rows = tx.Execute(
        // In expiry order, which the held leases' index has: ordered by seq, SQLite walked
        // the whole table (every execution ever) four times a second to find a few held ones.
        absl::StrCat("SELECT ", kColumns, " FROM executions WHERE ", kHeld,
                     " AND (lease_expires_ms < $1 OR (deadline_ms > 0 AND deadline_ms < $2)) "
                     "ORDER BY lease_expires_ms, seq LIMIT 1000",
                     LockClause(tx)),
        {now_ms, now_ms - lease_ms_});
    if (!rows.ok()) return rows.status();
    bool requeued_any = false;
    for (const store::Row& row : rows->rows) {
      const core::v1::Execution e = FromRow(row);
      const int64_t deadline_ms = row.Int(26);
      State to;
      std::string message;
      if (deadline_ms > 0 && deadline_ms < now_ms - lease_ms_) {
        // Past its deadline by more than a lease: its executor did not stop it in time.
        to = State::kTimedOut;
        message = "the run passed its timeout and its executor did not stop it";
      } else {
        to = AfterLeaseExpiry(e.attempt(), e.max_attempts(), e.cancel_requested());
        message = absl::StrCat("lease expired on executor ", e.executor_id(), " (attempt ",
                               e.attempt(), " of ", e.max_attempts(), ")");
      }
      absl::StatusOr<store::Result> updated;
      if (to == State::kQueued) {
        updated = tx.Execute(
            absl::StrCat("UPDATE executions SET state = 'queued', attempt = attempt + 1, "
                         "lease_owner = '', lease_expires_ms = 0, started_ms = 0, deadline_ms = 0, "
                         "message = $1 WHERE id = $2 AND epoch = $3 AND ",
                         kHeld, " RETURNING ", kColumns),
            {message, e.id(), e.epoch()});
      } else {
        updated = tx.Execute(
            absl::StrCat("UPDATE executions SET state = $1, message = $2, ended_ms = $3, "
                         "lease_expires_ms = 0 WHERE id = $4 AND epoch = $5 AND ",
                         kHeld, " RETURNING ", kColumns),
            {std::string(StateName(to)), message, now_ms, e.id(), e.epoch()});
      }
      if (!updated.ok()) return updated.status();
      if (updated->rows.empty()) continue;  // reported or renewed meanwhile
      const core::v1::Execution after = FromRow(updated->rows.front());
      if (absl::Status p = Publish(tx, after, to, to == State::kQueued, now_ms); !p.ok()) return p;
      switch (to) {
        case State::kQueued:
          ++result.requeued;
          requeued_any = true;
          break;
        case State::kFailed:
          ++result.failed;
          break;
        case State::kCancelled:
          ++result.cancelled;
          break;
        default:
          ++result.timed_out;
          break;
      }
    }
    if (requeued_any) return tx.Notify(kQueueChannel);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return result;
}

absl::StatusOr<core::v1::Execution> ExecutionStore::Cancel(const std::string& project,
                                                           const std::string& id, int64_t now_ms) {
  core::v1::Execution out;
  absl::Status s = db_.InTransaction([&](store::Transaction& tx) -> absl::Status {
    auto e = CancelIn(tx, project, id, now_ms);
    if (!e.ok()) return e.status();
    out = *std::move(e);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<core::v1::Execution> ExecutionStore::CancelIn(store::Transaction& tx,
                                                             const std::string& project,
                                                             const std::string& id,
                                                             int64_t now_ms) {
  auto e = SelectOne(tx, "id = $1 AND project = $2", {id, project},
                     "no execution " + id + " in project " + project);
  if (!e.ok()) return e.status();
  if (IsTerminal(StateOf(*e))) {
    return absl::FailedPreconditionError("execution " + id + " has already ended (" + e->state() +
                                         ")");
  }
  auto rows = tx.Execute(
      absl::StrCat("UPDATE executions SET state = 'cancelled', ended_ms = $1, message = "
                   "'cancelled before it ran' WHERE id = $2 AND state = 'queued' RETURNING ",
                   kColumns),
      {now_ms, id});
  if (!rows.ok()) return rows.status();
  if (!rows->rows.empty()) {
    core::v1::Execution out = FromRow(rows->rows.front());
    if (absl::Status s = Publish(tx, out, State::kCancelled, false, now_ms); !s.ok()) return s;
    return out;
  }
  // Leased or running: its executor stops it when its next heartbeat learns of this.
  rows = tx.Execute(absl::StrCat("UPDATE executions SET cancel_requested = 1 WHERE id = $1 AND ",
                                 kHeld, " RETURNING ", kColumns),
                    {id});
  if (!rows.ok()) return rows.status();
  if (rows->rows.empty()) return absl::AbortedError("execution " + id + " changed; try again");
  return FromRow(rows->rows.front());
}

absl::StatusOr<core::v1::Execution> ExecutionStore::Get(const std::string& project,
                                                        const std::string& id) {
  core::v1::Execution out;
  absl::Status s = db_.InReadTransaction([&](store::Transaction& tx) -> absl::Status {
    auto e = project.empty() ? SelectOne(tx, "id = $1", {id}, "no execution " + id)
                             : SelectOne(tx, "id = $1 AND project = $2", {id, project},
                                         "no execution " + id + " in project " + project);
    if (!e.ok()) return e.status();
    out = *std::move(e);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<core::v1::Execution>> ExecutionStore::List(const ListFilter& filter) {
  std::vector<store::Value> params = {filter.project};
  std::string where = "project = $1";
  if (!filter.name.empty()) {
    params.emplace_back(filter.name);
    where += absl::StrCat(" AND name = $", params.size());
  }
  if (!filter.states.empty()) {
    std::vector<std::string> marks;
    for (const auto& state : filter.states) {
      if (!ParseState(state)) {
        return absl::InvalidArgumentError(
            "unknown state \"" + state +
            "\" (queued, leased, running, succeeded, failed, cancelled, timed_out)");
      }
      params.emplace_back(state);
      marks.push_back(absl::StrCat("$", params.size()));
    }
    where += " AND state IN (" + absl::StrJoin(marks, ", ") + ")";
  }
  if (!filter.before_id.empty()) {
    params.emplace_back(filter.before_id);
    where +=
        absl::StrCat(" AND seq < (SELECT seq FROM executions WHERE id = $", params.size(), ")");
  }
  const int64_t limit = filter.limit <= 0 ? 50 : std::min(filter.limit, 1000);
  params.emplace_back(limit);
  std::vector<core::v1::Execution> out;
  absl::Status s = db_.InReadTransaction([&](store::Transaction& tx) -> absl::Status {
    auto rows = tx.Execute(absl::StrCat("SELECT ", kColumns, " FROM executions WHERE ", where,
                                        " ORDER BY seq DESC LIMIT $", params.size()),
                           params);
    if (!rows.ok()) return rows.status();
    out = FromRows(*rows);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::map<std::string, int64_t>> ExecutionStore::CountOpen() {
  // Each from its partial index: the queue, and the held leases.
  std::map<std::string, int64_t> out = {{"queued", 0}, {"leased", 0}, {"running", 0}};
  absl::Status s = db_.InReadTransaction([&](store::Transaction& tx) -> absl::Status {
    auto queued = tx.Execute("SELECT COUNT(*) FROM executions WHERE state = 'queued'");
    if (!queued.ok()) return queued.status();
    out["queued"] = queued->rows.front().Int(0);
    auto held = tx.Execute(
        absl::StrCat("SELECT state, COUNT(*) FROM executions WHERE ", kHeld, " GROUP BY state"));
    if (!held.ok()) return held.status();
    for (const auto& row : held->rows) out[row.Text(0)] = row.Int(1);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::map<std::string, int64_t>> ExecutionStore::HeldByExecutor() {
  auto rows = db_.Execute(absl::StrCat("SELECT lease_owner, COUNT(*) FROM executions WHERE ", kHeld,
                                       " GROUP BY lease_owner"));
  if (!rows.ok()) return rows.status();
  std::map<std::string, int64_t> out;
  for (const auto& row : rows->rows) out[row.Text(0)] = row.Int(1);
  return out;
}

}  // namespace optimus::dispatcher
