// Scheduler events on a real SQLite database: Optimus's event shape checked, runs recorded and
// published in both schemas, and the expected runs a sensor sees.
#include "optimus/runtime_context/job_runs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "google/protobuf/util/time_util.h"
#include "optimus/pipeline/change_events.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/runtime_context/runtime_context_service.h"
#include "optimus/store/sqlite_database.h"
#include "optimus/testing/testing.h"

namespace optimus::runtime_context {
namespace {

using ::testing::ElementsAre;

absl::Time At(const std::string& text) {
  absl::Time t;
  std::string why;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, text, &t, &why)) << why;
  return t;
}

nlohmann::json Event(const std::string& type, const std::string& scheduled_at,
                     const std::string& task_id = "bq2bq", double event_time = 1709776800.5) {
  return {{"event",
           {{"type", type},
            {"value",
             {{"status", "running"},
              {"event_time", event_time},
              {"task_id", task_id},
              {"scheduled_at", scheduled_at},
              {"attempt", 1},
              {"log_url", "http://airflow/log"}}}}}};
}

class JobRunsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = *store::OpenDatabase("sqlite:" + dir_.File("rc.db"), "runtime_context");
    ASSERT_TRUE(store::ApplyMigrations(*db_, "store", store::CoreMigrations()).ok());
    ASSERT_TRUE(
        store::ApplyMigrations(*db_, "runtime-context", RuntimeContextService().Migrations()).ok());
    job_.name = "revenue";
    job_.schedule.start_date = "2024-03-05";
    job_.schedule.interval = "0 2 * * *";
  }

  absl::Status Post(const nlohmann::json& body) {
    auto event = ParseJobEvent(body);
    if (!event.ok()) return event.status();
    event->set_project("acme");
    event->set_namespace_("finance");
    event->set_job("revenue");
    return RecordJobEvent(*db_, outbox_, *std::move(event));
  }

  std::vector<std::string> Runs(const std::string& from, const std::string& to) {
    auto runs = JobRuns(*db_, "acme", job_, At(from), At(to));
    EXPECT_TRUE(runs.ok()) << runs.status();
    std::vector<std::string> out;
    for (const auto& r : *runs) {
      out.push_back(absl::FormatTime("%m-%d ", r.scheduled_at, absl::UTCTimeZone()) + r.state);
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
  store::Outbox outbox_{"optimus/runtime-context"};
  spec::JobSpec job_;
};

// Issue 17: SLA misses were answered 200 and dropped. Each run named is one sla_miss event on
// optimus.job.runs, recorded once however often Airflow posts it, and no run changes state.
TEST_F(JobRunsTest, SlaMissesAreRecordedOncePerRunAndChangeNoState) {
  const nlohmann::json sla = {{"event",
                               {{"type", "TYPE_SLA_MISS"},
                                {"value",
                                 {{"slas",
                                   {{{"dag_id", "revenue"},
                                     {"task_id", "bq2bq"},
                                     {"scheduled_at", "2024-03-06T02:00:00Z"},
                                     {"timestamp", "2024-03-06T05:00:00Z"}},
                                    {{"dag_id", "revenue"},
                                     {"task_id", "bq2bq"},
                                     {"scheduled_at", "2024-03-06T02:00:00Z"},
                                     {"timestamp", "2024-03-06T05:00:00Z"}},
                                    {{"dag_id", "revenue"},
                                     {"task_id", "bq2bq"},
                                     {"scheduled_at", "2024-03-07T02:00:00Z"},
                                     {"timestamp", "2024-03-07T05:00:00Z"}}}},
                                  {"job_url", "http://airflow/tree?dag_id=revenue"}}}}}};
  auto events = ParseJobEvents(sla);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 2u) << "the same run twice is one miss";
  EXPECT_EQ((*events)[0].type(), "sla_miss");
  EXPECT_EQ((*events)[0].log_url(), "http://airflow/tree?dag_id=revenue");
  for (int round = 0; round < 2; ++round) {  // Airflow posting again after a lost answer
    for (auto e : *events) {
      e.set_project("acme");
      e.set_namespace_("finance");
      e.set_job("revenue");
      ASSERT_TRUE(RecordJobEvent(*db_, outbox_, e).ok());
    }
  }
  auto rows = db_->Execute("SELECT payload FROM outbox WHERE topic = $1 ORDER BY id",
                           {std::string(pipeline::kJobRunsTopic)});
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->rows.size(), 2u);
  events::v1::JobRunEvent first;
  ASSERT_TRUE(first.ParseFromString(rows->rows[0].Text(0)));
  EXPECT_EQ(first.type(), "sla_miss");
  EXPECT_EQ(first.scheduled_at().seconds(), 1709690400);  // 2024-03-06T02:00:00Z
  EXPECT_THAT(Runs("2024-03-06T02:00:00Z", "2024-03-07T02:00:00Z"),
              ::testing::ElementsAre("03-06 pending", "03-07 pending"));
  auto bad = sla;
  bad["event"]["value"]["slas"] = nlohmann::json::array({{{"dag_id", "revenue"}}});
  EXPECT_THAT(std::string(ParseJobEvents(bad).status().message()),
              ::testing::HasSubstr("each entry of slas needs dag_id and scheduled_at"));
}

TEST_F(JobRunsTest, FingerprintsOfOldEventsAreForgotten) {
  ASSERT_TRUE(Post(Event("TYPE_TASK_START", "2024-03-06T02:00:00Z")).ok());
  ASSERT_TRUE(Post(Event("TYPE_TASK_START", "2024-03-07T02:00:00Z")).ok());
  ASSERT_TRUE(db_->Execute("UPDATE seen_events SET seen_ms = 1000 WHERE fingerprint IN (SELECT "
                           "fingerprint FROM seen_events LIMIT 1)")
                  .ok());
  auto forgotten = RuntimeContextService().Forget(*db_, 5000);
  ASSERT_TRUE(forgotten.ok()) << forgotten.status();
  EXPECT_EQ(*forgotten, 1);
  EXPECT_EQ(db_->Execute("SELECT COUNT(*) FROM seen_events")->rows[0].Int(0), 1);
}

TEST_F(JobRunsTest, EventsMustHaveOptimusShape) {
  EXPECT_EQ(ParseJobEvent(Event("TYPE_TASK_BEGIN", "2024-03-07T02:00:00Z")).status().message(),
            "unknown event type \"TYPE_TASK_BEGIN\"");
  auto no_time = Event("TYPE_TASK_START", "2024-03-07T02:00:00Z");
  no_time["event"]["value"].erase("scheduled_at");
  EXPECT_EQ(ParseJobEvent(no_time).status().message(), "event value needs scheduled_at");
  EXPECT_EQ(ParseJobEvent(Event("TYPE_TASK_START", "yesterday")).status().message(),
            "event value scheduled_at must be an RFC 3339 time, got \"yesterday\"");
  EXPECT_EQ(ParseJobEvent(nlohmann::json::array()).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto ok = ParseJobEvent(Event("TYPE_SENSOR_RETRY", "2024-03-07T02:00:00Z", "wait_x"));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->type(), "sensor_retry");
  EXPECT_EQ(ok->operator_(), "sensor");
  EXPECT_EQ(ok->task_id(), "wait_x");
  EXPECT_EQ(ok->event_time().seconds(), 1709776800);
  // An SLA miss names the runs that are late; without any it is refused, as Optimus does.
  EXPECT_THAT(
      std::string(ParseJobEvent({{"event", {{"type", "TYPE_SLA_MISS"}}}}).status().message()),
      ::testing::HasSubstr("needs a non-empty list \"slas\""));
  // Times past 2262 overflow the nanoseconds they are kept in: refused, not silently merged.
  EXPECT_EQ(ParseJobEvent(Event("TYPE_TASK_START", "2308-01-04T08:26:40Z")).status().message(),
            "scheduled_at 2308-01-04T08:26:40Z is outside 1970..2199");
  auto far = Event("TYPE_TASK_START", "2024-03-07T02:00:00Z");
  far["event"]["value"]["event_time"] = 1.0e10;
  EXPECT_EQ(ParseJobEvent(far).status().code(), absl::StatusCode::kInvalidArgument);
  far["event"]["value"]["event_time"] = -5;
  EXPECT_EQ(ParseJobEvent(far).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(JobRunsTest, RunsAreRecordedPublishedAndExpectedBySensors) {
  ASSERT_TRUE(Post(Event("TYPE_SENSOR_START", "2024-03-06T02:00:00Z", "wait_up")).ok());
  ASSERT_TRUE(Post(Event("TYPE_TASK_START", "2024-03-06T02:00:00Z")).ok());
  ASSERT_TRUE(Post(Event("TYPE_JOB_SUCCESS", "2024-03-06T02:00:00Z")).ok());
  ASSERT_TRUE(Post(Event("TYPE_SENSOR_START", "2024-03-07T02:00:00Z", "wait_up")).ok());
  // A callback posting the same event again (its answer was lost) changes nothing.
  ASSERT_TRUE(Post(Event("TYPE_SENSOR_START", "2024-03-07T02:00:00Z", "wait_up")).ok());
  // Before the job's start date nothing is expected; runs never reported are pending.
  EXPECT_THAT(Runs("2024-03-01T00:00:00Z", "2024-03-08T00:00:00Z"),
              ElementsAre("03-05 pending", "03-06 success", "03-07 running"));
  EXPECT_THAT(Runs("2024-03-06T02:00:00Z", "2024-03-06T02:00:00Z"), ElementsAre("03-06 success"));
  auto ops = db_->Execute(
      "SELECT operator, task_id, state FROM operator_runs ORDER BY started_ms, operator");
  ASSERT_EQ(ops->rows.size(), 3u);

  // Both schemas, in order: every event on optimus.job.runs; the job-run states on
  // optimus.changes.
  auto rows = db_->Execute("SELECT topic, msg_key, payload FROM outbox ORDER BY id");
  std::vector<std::string> seen;
  for (const auto& r : rows->rows) {
    if (r.Text(0) == pipeline::kJobRunsTopic) {
      events::v1::JobRunEvent e;
      ASSERT_TRUE(e.ParseFromString(r.Text(2)));
      seen.push_back("runs " + e.type() + " " + e.run_state());
    } else {
      pipeline::OptimusChangeEvent e;
      ASSERT_TRUE(e.ParseFromString(r.Text(2)));
      seen.push_back("changes " + pipeline::OptimusChangeEvent::EventType_Name(e.event_type()));
      EXPECT_EQ(e.job_run().job_name(), "revenue");
    }
    EXPECT_EQ(r.Text(1), "acme/revenue");
  }
  EXPECT_THAT(
      seen, ElementsAre("runs sensor_start wait_upstream", "changes EVENT_TYPE_JOB_WAIT_UPSTREAM",
                        "runs task_start in_progress", "changes EVENT_TYPE_JOB_IN_PROGRESS",
                        "runs job_success success", "changes EVENT_TYPE_JOB_SUCCESS",
                        "runs sensor_start wait_upstream", "changes EVENT_TYPE_JOB_WAIT_UPSTREAM"));
  // A late operator event does not undo a finished run.
  ASSERT_TRUE(Post(Event("TYPE_HOOK_SUCCESS", "2024-03-06T02:00:00Z", "hook_x")).ok());
  EXPECT_THAT(Runs("2024-03-06T02:00:00Z", "2024-03-06T02:00:00Z"), ElementsAre("03-06 success"));
  // An unscheduled job has no expected runs.
  job_.schedule.interval.clear();
  EXPECT_EQ(JobRuns(*db_, "acme", job_, At("2024-03-01T00:00:00Z"), At("2024-03-02T00:00:00Z"))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// The record the dispatcher publishes when an execution of acme/revenue moves to `state`.
events::v1::JobRunEvent ExecutionRecord(const std::string& state,
                                        const std::string& scheduled = "2024-03-06T02:00:00Z",
                                        const std::string& kind = "job",
                                        const std::string& execution = "x1") {
  events::v1::JobRunEvent e;
  e.set_project("acme");
  e.set_job("revenue");
  e.set_kind(kind);
  e.set_execution_id(execution);
  e.set_execution_state(state);
  *e.mutable_scheduled_at() =
      google::protobuf::util::TimeUtil::MillisecondsToTimestamp(absl::ToUnixMillis(At(scheduled)));
  *e.mutable_event_time() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1709800000);
  return e;
}

TEST_F(JobRunsTest, RunsTheDispatcherMadeJoinTheRunHistory) {
  const auto record = [&](const std::string& state, const std::string& scheduled,
                          const std::string& kind = "job", const std::string& execution = "x1") {
    const events::v1::JobRunEvent e = ExecutionRecord(state, scheduled, kind, execution);
    return db_->InTransaction([&](store::Transaction& tx) { return RecordExecutionRun(tx, e); });
  };
  ASSERT_TRUE(record("queued", "2024-03-06T02:00:00Z").ok());
  EXPECT_THAT(Runs("2024-03-06T02:00:00Z", "2024-03-07T02:00:00Z"),
              ElementsAre("03-06 pending", "03-07 pending"));
  ASSERT_TRUE(record("running", "2024-03-06T02:00:00Z").ok());
  ASSERT_TRUE(record("timed_out", "2024-03-07T02:00:00Z", "job", "x2").ok());
  EXPECT_THAT(Runs("2024-03-06T02:00:00Z", "2024-03-07T02:00:00Z"),
              ElementsAre("03-06 running", "03-07 failed"));
  ASSERT_TRUE(record("succeeded", "2024-03-06T02:00:00Z").ok());
  // A catalog task of the same name is not the job; records without an execution are not ours.
  ASSERT_TRUE(record("failed", "2024-03-06T02:00:00Z", "task").ok());
  ASSERT_TRUE(record("failed", "2024-03-06T02:00:00Z", "job", "").ok());
  EXPECT_THAT(Runs("2024-03-06T02:00:00Z", "2024-03-07T02:00:00Z"),
              ElementsAre("03-06 success", "03-07 failed"));
}

TEST(RecordsExecutionRun, OnlyTheRecordsThatChangeTheHistoryAreRead) {
  // The consumer passes the others over without a transaction: most of the topic.
  for (const char* state : {"running", "succeeded", "failed", "timed_out", "cancelled"}) {
    EXPECT_TRUE(RecordsExecutionRun(ExecutionRecord(state))) << state;
  }
  const std::string at = "2024-03-06T02:00:00Z";
  EXPECT_FALSE(RecordsExecutionRun(ExecutionRecord("queued")));
  EXPECT_FALSE(RecordsExecutionRun(ExecutionRecord("leased")));
  EXPECT_FALSE(RecordsExecutionRun(ExecutionRecord("succeeded", at, "task")));
  EXPECT_FALSE(RecordsExecutionRun(ExecutionRecord("succeeded", at, "job", "")));
  events::v1::JobRunEvent unscheduled = ExecutionRecord("succeeded");
  unscheduled.clear_scheduled_at();
  EXPECT_FALSE(RecordsExecutionRun(unscheduled));
}

TEST_F(JobRunsTest, EventsFromManyThreadsShareTransactionsAndEachIsRecordedOnce) {
  auto event = [](const std::string& type, int day, const std::string& task = "bq2bq") {
    auto e = ParseJobEvent(Event(
        type,
        absl::FormatTime("%Y-%m-%dT02:00:00Z", At("2024-03-05T02:00:00Z") + absl::Hours(24 * day),
                         absl::UTCTimeZone()),
        task));
    EXPECT_TRUE(e.ok()) << e.status();
    e->set_project("acme");
    e->set_namespace_("finance");
    e->set_job("revenue");
    return *e;
  };
  constexpr int kThreads = 8, kDays = 25;
  {
    EventRecorder recorder(*db_, outbox_, 16);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int day = t; day < kDays * 2; day += kThreads) {
          // Even days succeed, odd ones start; each event is posted twice (a retrying callback).
          const auto e = event(day % 2 == 0 ? "TYPE_JOB_SUCCESS" : "TYPE_TASK_START", day);
          EXPECT_TRUE(recorder.Record(e).ok());
          EXPECT_TRUE(recorder.Record(e).ok());
        }
      });
    }
    for (auto& th : threads) th.join();
  }  // the recorder answers what is queued, then stops
  auto runs = Runs("2024-03-05T00:00:00Z", "2024-04-30T00:00:00Z");
  ASSERT_GE(runs.size(), 50u);
  for (int day = 0; day < kDays * 2; ++day) {
    EXPECT_THAT(runs[day], ::testing::EndsWith(day % 2 == 0 ? " success" : " running")) << day;
  }
  auto published = db_->Execute("SELECT COUNT(*) FROM outbox WHERE topic = $1",
                                {std::string(pipeline::kJobRunsTopic)});
  EXPECT_EQ(published->rows[0].Int(0), kDays * 2) << "each event once, though posted twice";

  // Events of one run keep their order inside a shared transaction.
  EventRecorder recorder(*db_, outbox_);
  ASSERT_TRUE(recorder.Record(event("TYPE_TASK_START", 60)).ok());
  ASSERT_TRUE(recorder.Record(event("TYPE_FAILURE", 60)).ok());
  EXPECT_THAT(Runs("2024-05-04T02:00:00Z", "2024-05-04T02:00:00Z"), ElementsAre("05-04 failed"));
}

}  // namespace
}  // namespace optimus::runtime_context
