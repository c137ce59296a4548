// Native scheduling: the pure rules (due ticks, upstream ticks, retry delays) and the scheduler
// on a real SQLite schema with a clock the test moves: runs on cron ticks, the upstream gate,
// depends_on_past, retries, SLA misses, the lease between replicas.
#include "optimus/dispatcher/scheduler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>

#include "absl/strings/escaping.h"
#include "nlohmann/json.hpp"
#include "optimus/dispatcher/airflow_replays.h"
#include "optimus/dispatcher/job_plans.h"
#include "optimus/dispatcher/replays.h"
#include "optimus/events/v1/secrets.pb.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/rpc/http_server.h"
#include "optimus/schedule/time_util.h"
#include "optimus/secrets/secret_box.h"
#include "store_fixture.h"

namespace optimus::dispatcher {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::Time At(const std::string& rfc3339) { return *schedule::ParseRfc3339(rfc3339); }
int64_t Ms(const std::string& rfc3339) { return absl::ToUnixMillis(At(rfc3339)); }

JobTimeline Timeline(const std::string& cron, const std::string& start) {
  spec::JobSpec job;
  job.name = "j";
  job.schedule.interval = cron;
  job.schedule.start_date = start;
  return *TimelineOf(job);
}

NativeJob Daily(const std::string& window_size = "24h") {
  spec::JobSpec job;
  job.version = 2;
  job.name = "d";
  job.schedule.interval = "0 0 * * *";
  job.schedule.start_date = "2024-01-01";
  job.task.window.version = 2;
  job.task.window.size = window_size;
  auto native = NativeJobOf("p", "ns", job, {}, {});
  EXPECT_TRUE(native.ok()) << native.status();
  return *native;
}

TEST(ScheduleRules, TicksDueFromTheStartDateOrTheLastRun) {
  const JobTimeline daily = Timeline("0 2 * * *", "2024-01-01");
  // Catch-up: every tick since the start, oldest first.
  DueTicks all = TicksDue(daily, std::nullopt, At("2024-01-04T03:00:00Z"), true, 100);
  EXPECT_THAT(all.ticks, ElementsAre(At("2024-01-01T02:00:00Z"), At("2024-01-02T02:00:00Z"),
                                     At("2024-01-03T02:00:00Z"), At("2024-01-04T02:00:00Z")));
  EXPECT_EQ(all.skipped, 0);
  // Bounded: the newest ones, the rest counted.
  DueTicks bounded = TicksDue(daily, std::nullopt, At("2024-01-04T03:00:00Z"), true, 2);
  EXPECT_THAT(bounded.ticks, ElementsAre(At("2024-01-03T02:00:00Z"), At("2024-01-04T02:00:00Z")));
  EXPECT_EQ(bounded.skipped, 2);
  // Without catch-up: only the newest.
  EXPECT_THAT(TicksDue(daily, std::nullopt, At("2024-01-04T03:00:00Z"), false, 100).ticks,
              ElementsAre(At("2024-01-04T02:00:00Z")));
  // After the last run: only what is new.
  EXPECT_THAT(
      TicksDue(daily, At("2024-01-03T02:00:00Z"), At("2024-01-04T03:00:00Z"), true, 100).ticks,
      ElementsAre(At("2024-01-04T02:00:00Z")));
  EXPECT_TRUE(TicksDue(daily, At("2024-01-04T02:00:00Z"), At("2024-01-04T03:00:00Z"), true, 100)
                  .ticks.empty());
  // Before the start date nothing is due; after the end date nothing more.
  EXPECT_TRUE(TicksDue(daily, std::nullopt, At("2023-12-31T03:00:00Z"), true, 100).ticks.empty());
  JobTimeline ending = daily;
  ending.end = At("2024-01-03T00:00:00Z");
  EXPECT_THAT(TicksDue(ending, std::nullopt, At("2024-02-01T00:00:00Z"), true, 100).ticks,
              ElementsAre(At("2024-01-01T02:00:00Z"), At("2024-01-02T02:00:00Z")));
}

TEST(ScheduleRules, EveryIsAnchoredAtTheStartDate) {
  const JobTimeline every = Timeline("@every 90m", "2024-01-01");
  EXPECT_EQ(every.TickAfter(At("2024-01-01T00:00:00Z")), At("2024-01-01T01:30:00Z"));
  EXPECT_EQ(every.TickAfter(At("2023-12-31T00:00:00Z")), At("2024-01-01T00:00:00Z"));
  EXPECT_EQ(TickAtOrBefore(every, At("2024-01-01T02:59:00Z")), At("2024-01-01T01:30:00Z"));
}

TEST(ScheduleRules, UpstreamTicksFollowOptimusSensor) {
  const NativeJob daily = Daily();
  // A daily upstream at the same time: that day's run.
  EXPECT_THAT(
      *UpstreamTicks(daily, At("2024-01-05T00:00:00Z"), Timeline("0 0 * * *", "2024-01-01")),
      ElementsAre(At("2024-01-05T00:00:00Z")));
  // An hourly upstream: the 24 runs inside the window (-24h, 0].
  auto hourly =
      UpstreamTicks(daily, At("2024-01-05T00:00:00Z"), Timeline("0 * * * *", "2024-01-01"));
  ASSERT_TRUE(hourly.ok());
  ASSERT_EQ(hourly->size(), 24u);
  EXPECT_EQ(hourly->front(), At("2024-01-04T01:00:00Z"));
  EXPECT_EQ(hourly->back(), At("2024-01-05T00:00:00Z"));
  // A daily upstream at 02:00: the reference is its last run before, window from there.
  EXPECT_THAT(
      *UpstreamTicks(daily, At("2024-01-05T00:00:00Z"), Timeline("0 2 * * *", "2024-01-01")),
      ElementsAre(At("2024-01-04T02:00:00Z")));
  // An upstream that had not started yet: nothing to wait for.
  EXPECT_TRUE(UpstreamTicks(daily, At("2024-01-05T00:00:00Z"), Timeline("0 0 * * *", "2024-02-01"))
                  ->empty());
  // A 48h window waits for two daily runs.
  EXPECT_THAT(
      *UpstreamTicks(Daily("48h"), At("2024-01-05T00:00:00Z"), Timeline("0 0 * * *", "2024-01-01")),
      ElementsAre(At("2024-01-04T00:00:00Z"), At("2024-01-05T00:00:00Z")));
}

TEST(ScheduleRules, DependentTicksAreTheRunsThatWaitOnTheReplayedOnes) {
  // A daily downstream of an hourly upstream: replaying 10:00 and 11:00 on Jan 4 re-runs the
  // downstream of Jan 5 00:00 (whose window holds them).
  auto hits = DependentTicks(Daily(), Timeline("0 * * * *", "2024-01-01"),
                             {At("2024-01-04T10:00:00Z"), At("2024-01-04T11:00:00Z")});
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_THAT(*hits, ElementsAre(At("2024-01-05T00:00:00Z")));
}

TEST(ScheduleRules, RetryDelaysAndModes) {
  RetryPolicy fixed{.retries = 3, .delay = absl::Minutes(5)};
  EXPECT_EQ(RetryDelay(fixed, 2), absl::Minutes(5));
  EXPECT_EQ(RetryDelay(fixed, 4), absl::Minutes(5));
  RetryPolicy exp{.retries = 30, .delay = absl::Minutes(5), .exponential = true};
  EXPECT_EQ(RetryDelay(exp, 2), absl::Minutes(5));
  EXPECT_EQ(RetryDelay(exp, 3), absl::Minutes(10));
  EXPECT_EQ(RetryDelay(exp, 4), absl::Minutes(20));
  EXPECT_EQ(RetryDelay(exp, 30), absl::Hours(24));
  EXPECT_EQ(*ParseSchedulerMode("Native"), SchedulerMode::kNative);
  EXPECT_EQ(*ParseSchedulerMode(""), SchedulerMode::kAirflow);
  EXPECT_THAT(ParseSchedulerMode("cron").status().message(), HasSubstr("not airflow or native"));
}

constexpr char kShellPlugin[] = R"(version: 2
name: shell
description: runs a script
plugin_versions:
  default:
    image: docker.io/library/busybox
    tag: "1.36"
    entrypoint:
      shell: /bin/sh
      script: sh "$JOB_DIR/in/run.sh"
)";

// A dispatcher schema, a scheduler on it, and a clock the test moves.
class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
#ifdef OPTIMUS_SCHEDULER_TEST_ON_POSTGRES
    // The same cases on PostgreSQL (dispatcher_pgtest), each in a schema of its own.
    OPTIMUS_REQUIRE_INFRA("OPTIMUS_TEST_PG_URI");
    db_ = OpenDispatcherDb(testing::InfraEnv("OPTIMUS_TEST_PG_URI"),
                           "sched_" + testing::UniqueSuffix());
#else
    db_ = OpenDispatcherDb("sqlite:" + dir_.File("d.db"), "dispatcher");
#endif
    ASSERT_NE(db_, nullptr);
    executions_ = std::make_unique<ExecutionStore>(*db_, outbox_, 60'000);
    scheduler_ = MakeScheduler("one");
    events::v1::PluginRecord p;
    p.set_name("shell");
    p.set_spec_yaml(kShellPlugin);
    Apply(pipeline::kPluginsTopic, "shell", p);
  }

  std::unique_ptr<Scheduler> MakeScheduler(const std::string& holder) {
    return std::make_unique<Scheduler>(*db_, outbox_, *executions_,
                                       SchedulerOptions{.lease_ms = 10'000,
                                                        .catch_up_limit = 10,
                                                        .max_active_runs = 16,
                                                        .sensor_timeout_ms = 6 * 3600'000LL,
                                                        .holder = holder},
                                       [this] { return now_; });
  }

  void Apply(const std::string& topic, const std::string& key,
             const google::protobuf::Message& record) {
    bus::Message m;
    m.topic = topic;
    m.key = key;
    m.payload = record.SerializeAsString();
    absl::Status s = db_->InTransaction([&](store::Transaction& tx) {
      if (topic == pipeline::kProjectsTopic) return Scheduler::ApplyProject(tx, m);
      if (topic == pipeline::kJobRunsTopic) return Scheduler::ApplyJobRun(tx, m);
      if (topic == pipeline::kSecretsTopic) return AirflowReplays::ApplySecret(tx, m);
      return JobPlans::Apply(tx, m);
    });
    ASSERT_TRUE(s.ok()) << s;
  }

  void Project(const std::string& name, const std::string& mode,
               const std::map<std::string, std::string>& config = {}) {
    events::v1::ProjectRecord r;
    r.set_name(name);
    (*r.mutable_config())["SCHEDULER"] = mode;
    for (const auto& [k, v] : config) (*r.mutable_config())[k] = v;
    Apply(pipeline::kProjectsTopic, name, r);
  }

  void Job(const std::string& project, const std::string& name, const std::string& extra,
           const std::vector<std::string>& upstreams = {}, int64_t version = 1) {
    events::v1::JobResolution r;
    r.set_project(project);
    r.set_namespace_("ns");
    r.set_name(name);
    r.set_spec_version(version);
    r.set_spec_yaml("version: 2\nname: " + name +
                    "\nowner: o\nschedule:\n  start_date: \"2024-01-01\"\n  interval: \"0 0 * * "
                    "*\"\ntask:\n  name: shell\n  window:\n    size: 24h\n" +
                    extra);
    for (const std::string& u : upstreams) {
      auto* ref = r.add_upstreams();
      ref->set_project(u.substr(0, u.find('/')));
      ref->set_name(u.substr(u.find('/') + 1));
    }
    Apply(pipeline::kResolutionsTopic, project + "/" + name, r);
  }

  TickStats Tick() {
    auto stats = scheduler_->Tick();
    EXPECT_TRUE(stats.ok()) << stats.status();
    return stats.ok() ? *stats : TickStats{};
  }

  // Claims every queued execution and ends it as `end`; returns them (job name -> scheduled).
  std::vector<std::pair<std::string, int64_t>> RunQueued(State end = State::kSucceeded,
                                                         const std::string& only = "") {
    std::vector<std::pair<std::string, int64_t>> out;
    auto claimed = executions_->Claim("e1", {""}, 1000, now_);
    EXPECT_TRUE(claimed.ok()) << claimed.status();
    for (const auto& e : *claimed) {
      const int64_t at = e.scheduled_at().seconds() * 1000;
      if (!only.empty() && e.name() != only) {
        // Leave it running.
        EXPECT_TRUE(executions_->Start(e.id(), "e1", e.epoch(), now_).ok());
        held_.push_back(e);
        continue;
      }
      EXPECT_TRUE(executions_->Start(e.id(), "e1", e.epoch(), now_).ok());
      EXPECT_TRUE(executions_->Finish(e.id(), "e1", e.epoch(), end, 0, "", now_).ok());
      out.push_back({e.name(), at});
    }
    return out;
  }

  std::vector<events::v1::JobRunEvent> Events(const std::string& type) {
    std::vector<events::v1::JobRunEvent> out;
    for (auto& e : RunEvents(*db_, &seen_)) {
      if (e.type() == type) out.push_back(std::move(e));
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
  store::Outbox outbox_{"optimus/dispatcher"};
  std::unique_ptr<ExecutionStore> executions_;
  std::unique_ptr<Scheduler> scheduler_;
  std::vector<core::v1::Execution> held_;
  int64_t now_ = Ms("2024-01-03T00:30:00Z");
  int64_t seen_ = 0;
};

TEST_F(SchedulerTest, RunsStartOnlyAfterTheirUpstreamsSucceeded) {
  Project("p", "native");
  Job("p", "a", "behavior:\n  catch_up: true\n");
  Job("p", "b", "behavior:\n  catch_up: true\n", {"p/a"});
  TickStats first = Tick();
  EXPECT_TRUE(first.active);
  EXPECT_EQ(first.created, 6);  // Jan 1, 2, 3 for each
  EXPECT_EQ(first.queued, 3);   // a's three; b waits
  EXPECT_EQ(scheduler_->RunsOf("p/b").at(Ms("2024-01-01T00:00:00Z")).message,
            "waiting for p/a at 2024-01-01T00:00:00Z");
  // a's runs finish: b's start, one per window; nothing twice.
  auto ran = RunQueued();
  EXPECT_EQ(ran.size(), 3u);
  TickStats second = Tick();
  EXPECT_EQ(second.succeeded, 3);
  EXPECT_EQ(second.queued, 3);
  ran = RunQueued();
  EXPECT_EQ(ran.size(), 3u);
  for (const auto& [name, at] : ran) EXPECT_EQ(name, "b");
  EXPECT_EQ(Tick().succeeded, 3);
  EXPECT_EQ(Tick().queued, 0);
  // The next day: one more run each, in order.
  now_ = Ms("2024-01-04T00:00:05Z");
  TickStats next = Tick();
  EXPECT_EQ(next.created, 2);
  EXPECT_EQ(next.queued, 1);
}

TEST_F(SchedulerTest, PassesReadTheOpenRunsNotTheHistory) {
  Project("p", "native");
  Job("p", "a", "behavior:\n  catch_up: true\n");
  EXPECT_EQ(Tick().queued, 3);
  AddHistory(*db_, 3000);
  EXPECT_TRUE(RunQueued(State::kSucceeded, "none of them").empty());  // all three run on
  const int64_t before = db_->RowsScannedInFull();
  now_ += 2'500;  // a pass that looks at every open run's execution
  EXPECT_EQ(Tick().succeeded, 0);
  for (const auto& e : held_) {
    ASSERT_TRUE(executions_->Finish(e.id(), "e1", e.epoch(), State::kSucceeded, 0, "", now_).ok());
  }
  now_ += 250;
  EXPECT_EQ(Tick().succeeded, 3);
  EXPECT_LT(db_->RowsScannedInFull() - before, 100);
}

TEST_F(SchedulerTest, AnUpstreamNotKnownYetIsWaitedFor) {
  // In a deploy, a job's resolution can arrive before its upstream's (other partitions).
  Project("p", "native");
  Job("p", "b", "", {"p/a"});
  TickStats first = Tick();
  EXPECT_EQ(first.created, 1);
  EXPECT_EQ(first.queued, 0);
  EXPECT_THAT(scheduler_->RunsOf("p/b").begin()->second.message,
              HasSubstr("waiting for upstream p/a, which this scheduler does not know yet"));
  Job("p", "a", "");
  EXPECT_EQ(Tick().queued, 1);  // a's run; b still waits for it
  auto ran = RunQueued();
  ASSERT_EQ(ran.size(), 1u);
  EXPECT_EQ(ran[0].first, "a");
  EXPECT_EQ(Tick().queued, 1);
  EXPECT_EQ(RunQueued()[0].first, "b");
}

TEST_F(SchedulerTest, AirflowProjectsAreLeftToAirflow) {
  Project("p", "airflow");
  Job("p", "a", "behavior:\n  catch_up: true\n");
  EXPECT_EQ(Tick().created, 0);
  // Switching the project to native schedules it.
  Project("p", "native");
  EXPECT_EQ(Tick().created, 3);
}

TEST_F(SchedulerTest, WithoutCatchUpOnlyTheNewestTickRuns) {
  Project("p", "native");
  Job("p", "a", "");
  EXPECT_EQ(Tick().created, 1);
  EXPECT_EQ(scheduler_->RunsOf("p/a").begin()->first, Ms("2024-01-03T00:00:00Z"));
}

TEST_F(SchedulerTest, DependsOnPastRunsWindowsOneAfterAnother) {
  Project("p", "native");
  Job("p", "a", "behavior:\n  catch_up: true\n  depends_on_past: true\n");
  EXPECT_EQ(Tick().queued, 1);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(RunQueued().size(), 1u);
    EXPECT_EQ(Tick().queued, 1);
  }
  // A failed run holds the next window back.
  now_ = Ms("2024-01-04T00:00:05Z");
  EXPECT_EQ(RunQueued(State::kFailed).size(), 1u);
  TickStats after = Tick();
  EXPECT_EQ(after.failed, 1);
  EXPECT_EQ(after.queued, 0);
  EXPECT_THAT(scheduler_->RunsOf("p/a").at(Ms("2024-01-04T00:00:00Z")).message,
              HasSubstr("waiting for p/a at 2024-01-03T00:00:00Z"));
}

TEST_F(SchedulerTest, FailedRunsAreRetriedAfterTheirDelay) {
  Project("p", "native");
  Job("p", "a",
      "behavior:\n  retry:\n    count: 2\n    delay: 10m\n    exponential_backoff: true\n"
      "  notify:\n  - on: failure\n    channels: [pagerduty://#oncall]\n    severity: WARNING\n");
  EXPECT_EQ(Tick().queued, 1);
  EXPECT_EQ(RunQueued(State::kFailed).size(), 1u);
  TickStats t = Tick();
  EXPECT_EQ(t.retried, 1);
  EXPECT_EQ(t.queued, 0);
  auto retry = Events("run_retry_scheduled");
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_THAT(retry[0].message(), HasSubstr("try 2 of 3 at 2024-01-03T00:40:00Z"));
  now_ += 10 * 60'000;
  EXPECT_EQ(Tick().queued, 1);
  EXPECT_EQ(RunQueued(State::kFailed).size(), 1u);
  EXPECT_EQ(Tick().retried, 1);
  now_ += 10 * 60'000;
  EXPECT_EQ(Tick().queued, 0);  // exponential: 20 minutes this time
  now_ += 10 * 60'000;
  EXPECT_EQ(Tick().queued, 1);
  EXPECT_EQ(RunQueued(State::kFailed).size(), 1u);
  EXPECT_EQ(Tick().failed, 1);
  auto failed = Events("run_failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_THAT(failed[0].notify_channels(), ElementsAre("pagerduty://#oncall"));
  EXPECT_EQ(failed[0].severity(), "WARNING");
  EXPECT_EQ(scheduler_->RunsOf("p/a").begin()->second.state, RunStatus::kFailed);
}

TEST_F(SchedulerTest, SlaMissesArePublishedOnceWithTheirChannels) {
  Project("p", "native");
  Job("p", "a",
      "behavior:\n  notify:\n  - on: sla_miss\n    config:\n      duration: 1h\n    channels: "
      "[slack://#data]\n    severity: CRITICAL\n");
  EXPECT_EQ(Tick().sla_missed, 0);
  RunQueued(State::kSucceeded, "none");  // started, still running
  now_ = Ms("2024-01-03T01:00:01Z");
  EXPECT_EQ(Tick().sla_missed, 1);
  EXPECT_EQ(Tick().sla_missed, 0);
  auto sla = Events("sla_miss");
  ASSERT_EQ(sla.size(), 1u);
  EXPECT_THAT(sla[0].notify_channels(), ElementsAre("slack://#data"));
  EXPECT_EQ(sla[0].severity(), "CRITICAL");
  EXPECT_EQ(sla[0].scheduler(), "native");
}

TEST_F(SchedulerTest, UpstreamsOnAirflowGateByTheirReportedRuns) {
  Project("up", "airflow");
  Project("p", "native");
  Job("up", "a", "");
  Job("p", "b", "", {"up/a"});
  EXPECT_EQ(Tick().queued, 0);
  events::v1::JobRunEvent e;
  e.set_project("up");
  e.set_job("a");
  e.set_type("job_success");
  e.set_run_state("success");
  e.mutable_scheduled_at()->set_seconds(Ms("2024-01-03T00:00:00Z") / 1000);
  Apply(pipeline::kJobRunsTopic, "up/a", e);
  EXPECT_EQ(Tick().queued, 1);
  // The consumer reads such records only: the dispatcher's own, the native scheduler's and
  // task events are passed over; a record it cannot read is read (and reported).
  const auto wanted = [](const events::v1::JobRunEvent& event) {
    bus::Message m;
    m.topic = pipeline::kJobRunsTopic;
    m.key = "up/a";
    m.payload = event.SerializeAsString();
    return Scheduler::WantsJobRun(m);
  };
  EXPECT_TRUE(wanted(e));
  events::v1::JobRunEvent own = e;
  own.set_execution_id("x1");
  EXPECT_FALSE(wanted(own));
  own = e;
  own.set_scheduler("native");
  EXPECT_FALSE(wanted(own));
  own = e;
  own.set_kind("task");
  EXPECT_FALSE(wanted(own));
  bus::Message garbled;
  garbled.topic = pipeline::kJobRunsTopic;
  garbled.payload = "not a record";
  EXPECT_TRUE(Scheduler::WantsJobRun(garbled));
}

TEST_F(SchedulerTest, OneReplicaSchedulesAndAnotherTakesOverWhenItStops) {
  Project("p", "native");
  Job("p", "a", "behavior:\n  catch_up: true\n");
  EXPECT_EQ(Tick().queued, 3);
  auto other = MakeScheduler("two");
  auto passive = other->Tick();
  ASSERT_TRUE(passive.ok());
  EXPECT_FALSE(passive->active);
  scheduler_->Release();
  RunQueued();
  auto took = other->Tick();
  ASSERT_TRUE(took.ok()) << took.status();
  EXPECT_TRUE(took->active);
  EXPECT_EQ(took->succeeded, 3);  // it read the runs the first one made
  EXPECT_EQ(took->created, 0);
  auto stale = scheduler_->Tick();
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(stale->active);
}

// a -> b -> c, daily, every run of Jan 1 to 3 done.
class ReplayTest : public SchedulerTest {
 protected:
  void SetUp() override {
    SchedulerTest::SetUp();
    if (IsSkipped()) return;  // no PostgreSQL for dispatcher_pgtest
    replays_ = std::make_unique<Replays>(*db_, [this] { return now_; });
    Project("p", "native");
    Job("p", "a", "behavior:\n  catch_up: true\n");
    Job("p", "b", "behavior:\n  catch_up: true\n", {"p/a"});
    Job("p", "c", "behavior:\n  catch_up: true\n", {"p/b"});
    for (int i = 0; i < 4; ++i) {
      Tick();
      RunQueued();
    }
    Tick();
    for (const char* j : {"p/a", "p/b", "p/c"}) {
      for (const auto& [tick, run] : scheduler_->RunsOf(j)) {
        ASSERT_EQ(run.state, RunStatus::kSucceeded) << j << " " << tick;
      }
    }
  }

  replay_api::ReplayRequest Request(const std::string& job, const std::string& start,
                                    const std::string& end, bool downstream) {
    replay_api::ReplayRequest r;
    r.set_project_name("p");
    r.set_job_name(job);
    r.mutable_start_time()->set_seconds(Ms(start) / 1000);
    r.mutable_end_time()->set_seconds(Ms(end) / 1000);
    r.set_include_downstream(downstream);
    return r;
  }

  std::unique_ptr<Replays> replays_;
};

TEST_F(ReplayTest, ReplaysRunAgainInWindowAndDependencyOrder) {
  auto dry = replays_->DryRun(Request("b", "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z", true));
  ASSERT_TRUE(dry.ok()) << dry.status();
  std::vector<std::string> planned;
  for (const auto& r : dry->replay_runs()) {
    planned.push_back(r.job_name() + "@" + std::to_string(r.scheduled_at().seconds()));
  }
  const std::string d2 = std::to_string(Ms("2024-01-02T00:00:00Z") / 1000);
  const std::string d3 = std::to_string(Ms("2024-01-03T00:00:00Z") / 1000);
  EXPECT_THAT(planned, ElementsAre("b@" + d2, "c@" + d2, "b@" + d3, "c@" + d3));
  auto id =
      replays_->Create(Request("b", "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z", true), "test");
  ASSERT_TRUE(id.ok()) << id.status();
  // One run at a time, each after the one before it succeeded.
  std::vector<std::pair<std::string, int64_t>> order;
  for (int i = 0; i < 6; ++i) {
    Tick();
    for (auto& r : RunQueued()) order.push_back(r);
  }
  EXPECT_THAT(order, ElementsAre(std::pair<std::string, int64_t>{"b", Ms("2024-01-02T00:00:00Z")},
                                 std::pair<std::string, int64_t>{"c", Ms("2024-01-02T00:00:00Z")},
                                 std::pair<std::string, int64_t>{"b", Ms("2024-01-03T00:00:00Z")},
                                 std::pair<std::string, int64_t>{"c", Ms("2024-01-03T00:00:00Z")}));
  auto done = replays_->Get("p", *id);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status(), "success");
  ASSERT_EQ(done->replay_runs_size(), 4);
  for (const auto& r : done->replay_runs()) EXPECT_EQ(r.status(), "success");
  EXPECT_EQ(scheduler_->RunsOf("p/b").at(Ms("2024-01-02T00:00:00Z")).generation, 2);
  EXPECT_EQ(scheduler_->RunsOf("p/a").at(Ms("2024-01-02T00:00:00Z")).generation, 1);
  EXPECT_EQ(Events("run_replayed").size(), 4u);
}

TEST_F(ReplayTest, OldRunsLeaveMemoryAndAreReadBackWhenNeeded) {
  // A scheduler that keeps one day: a week later the runs of Jan 1 to 3 are only in the store.
  scheduler_->Release();
  scheduler_ = std::make_unique<Scheduler>(
      *db_, outbox_, *executions_,
      SchedulerOptions{.lease_ms = 10'000, .history_ms = 86400'000LL, .holder = "short"},
      [this] { return now_; });
  now_ = Ms("2024-01-10T00:30:00Z");
  for (int i = 0; i < 3; ++i) {  // only the newest tick of each job runs: no catch-up left
    Tick();
    RunQueued();
  }
  Tick();
  EXPECT_EQ(scheduler_->RunsOf("p/b").count(Ms("2024-01-02T00:00:00Z")), 0u);
  // A replay of Jan 2 reads it back: the same run, one generation on.
  auto id =
      replays_->Create(Request("b", "2024-01-02T00:00:00Z", "2024-01-02T00:00:00Z", false), "test");
  ASSERT_TRUE(id.ok()) << id.status();
  Tick();
  ASSERT_EQ(RunQueued().size(), 1u);
  Tick();
  EXPECT_EQ(replays_->Get("p", *id)->status(), "success");
  EXPECT_EQ(scheduler_->RunsOf("p/b").at(Ms("2024-01-02T00:00:00Z")).generation, 2);
}

TEST_F(ReplayTest, ParallelReplaysStillWaitForTheirUpstreams) {
  auto r = Request("a", "2024-01-01T00:00:00Z", "2024-01-03T00:00:00Z", true);
  r.set_parallel(true);
  r.set_job_config("ignore_upstream=False, extra = 1");
  ASSERT_TRUE(replays_->Create(r, "test").ok());
  Tick();
  auto first = RunQueued();
  EXPECT_EQ(first.size(), 3u);  // a's three windows at once; b and c wait for them
  for (const auto& [name, at] : first) EXPECT_EQ(name, "a");
  Tick();
  EXPECT_EQ(RunQueued().size(), 3u);  // then b's
  Tick();
  EXPECT_EQ(RunQueued().size(), 3u);  // then c's
}

TEST_F(ReplayTest, BadReplaysAreClearErrors) {
  const auto error = [&](const replay_api::ReplayRequest& r) {
    return std::string(replays_->Create(r, "t").status().message());
  };
  EXPECT_THAT(error(Request("b", "2023-12-30T00:00:00Z", "2024-01-02T00:00:00Z", false)),
              HasSubstr("before the start date of b (2024-01-01)"));
  EXPECT_THAT(error(Request("gone", "2024-01-02T00:00:00Z", "2024-01-02T00:00:00Z", false)),
              HasSubstr("no job gone in project p (never deployed, or deleted)"));
  EXPECT_THAT(error(Request("b", "2024-01-02T00:00:00Z", "2024-02-02T00:00:00Z", false)),
              HasSubstr("in the future"));
  EXPECT_THAT(error(Request("b", "2024-01-02T00:00:00Z", "2024-01-01T00:00:00Z", false)),
              HasSubstr("before it starts"));
  EXPECT_THAT(error(Request("b", "2024-01-02T01:00:00Z", "2024-01-02T02:00:00Z", false)),
              HasSubstr("has no run from"));
  auto bad_config = Request("b", "2024-01-02T00:00:00Z", "2024-01-02T00:00:00Z", false);
  bad_config.set_job_config("A=1,oops");
  EXPECT_THAT(error(bad_config), HasSubstr("\"oops\" is not KEY=VALUE"));
  ASSERT_TRUE(
      replays_->Create(Request("b", "2024-01-02T00:00:00Z", "2024-01-02T00:00:00Z", false), "t")
          .ok());
  EXPECT_THAT(error(Request("b", "2024-01-01T00:00:00Z", "2024-01-03T00:00:00Z", false)),
              HasSubstr("over an overlapping range is still going"));
  Project("q", "airflow");
  Job("q", "x", "");
  auto airflow = Request("x", "2024-01-02T00:00:00Z", "2024-01-02T00:00:00Z", false);
  airflow.set_project_name("q");
  EXPECT_THAT(error(airflow), HasSubstr("scheduled by Airflow but has no scheduler_host"));
  airflow.set_include_downstream(true);
  EXPECT_THAT(error(airflow), HasSubstr("scheduled by Airflow but has no scheduler_host"));
}

TEST_F(ReplayTest, CancelledReplaysStopTheirRuns) {
  auto id =
      replays_->Create(Request("a", "2024-01-01T00:00:00Z", "2024-01-03T00:00:00Z", false), "t");
  ASSERT_TRUE(id.ok());
  Tick();
  EXPECT_EQ(RunQueued(State::kSucceeded, "none").size(), 0u);  // a@Jan 1 runs, held
  auto cancelled = replays_->Cancel("p", *id);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->job_name(), "a");
  Tick();  // asks the running execution to stop
  auto e = executions_->Get("p", held_.front().id());
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->cancel_requested());
  EXPECT_THAT(replays_->Cancel("p", *id).status().message(), HasSubstr("has ended already"));
  auto details = [&] {
    replay_api::GetReplayDetailsRequest d;
    d.set_project_name("p");
    d.add_job_names("a");
    d.set_status("cancelled");
    d.mutable_scheduled_at()->set_seconds(Ms("2024-01-02T00:00:00Z") / 1000);
    return replays_->Details(d);
  }();
  ASSERT_TRUE(details.ok()) << details.status();
  ASSERT_EQ(details->replays_size(), 1);
  EXPECT_EQ(details->replays(0).id(), *id);
}

// A project's own Airflow credentials are its SCHEDULER_AUTH secret (as in Optimus), opened
// with the app key; the server-wide scheduler.airflow_auth is for projects without one.
TEST_F(ReplayTest, AirflowReplaysUseTheProjectsSchedulerAuthSecret) {
  std::mutex mu;
  std::vector<std::string> seen;  // Authorization headers, in order
  const std::string want = "Basic " + absl::Base64Escape("q-user:q-pass");
  rpc::HttpServer airflow(rpc::HttpServerOptions{.host = "127.0.0.1", .access_log = false});
  const auto guarded = [&](auto answer) {
    return [&, answer](const rpc::HttpRequest& r) {
      {
        std::lock_guard lock(mu);
        seen.push_back(r.Header("Authorization"));
      }
      if (r.Header("Authorization") != want) {
        return rpc::HttpResponse::Json(R"({"detail": "Unauthorized"})", 401);
      }
      return answer(r);
    };
  };
  airflow.Get("/api/v1/dags/{dag}/dagRuns", guarded([](const rpc::HttpRequest&) {
                return rpc::HttpResponse::Json(R"({"dag_runs": [], "total_entries": 0})");
              }));
  airflow.Post("/api/v1/dags/{dag}/dagRuns", guarded([](const rpc::HttpRequest&) {
                 return rpc::HttpResponse::Json(
                     R"({"dag_run_id": "replayed__2024-01-02T00:00:00+00:00", "state": "queued"})");
               }));
  airflow.Get(
      "/api/v1/dags/{dag}/dagRuns/{run}", guarded([](const rpc::HttpRequest& r) {
        return rpc::HttpResponse::Json(
            nlohmann::json{{"dag_run_id", r.PathParam("run")}, {"state", "success"}}.dump());
      }));
  ASSERT_TRUE(airflow.Start().ok());
  Project("q", "airflow",
          {{"SCHEDULER_HOST", "http://127.0.0.1:" + std::to_string(airflow.port())},
           {"SCHEDULER_VERSION", "2.10"}});
  Job("q", "x", "");
  auto box = secrets::SecretBox::FromAppKey("an-app-key-of-at-least-32-characters!");
  ASSERT_TRUE(box.ok());
  const auto secret = [&](const std::string& project, const std::string& name,
                          const std::string& value, const std::string& ns = "") {
    events::v1::SecretRecord r;
    r.set_project(project);
    r.set_namespace_(ns);
    r.set_name(name);
    r.set_sealed(*box->Seal(value));
    Apply(pipeline::kSecretsTopic, pipeline::JobKey(project, name), r);
  };
  secret("q", "SCHEDULER_AUTH", "q-user:q-pass");
  secret("q", "OTHER", "not:this");
  secret("p", "SCHEDULER_AUTH", "p-user:p-pass");
  const auto replay = [&] {
    auto r = Request("x", "2024-01-02T00:00:00Z", "2024-01-02T00:00:00Z", false);
    r.set_project_name("q");
    auto id = replays_->Create(r, "t");
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : "";
  };
  const auto state = [&](const std::string& id) {
    auto rows = db_->Execute("SELECT state, message FROM replays WHERE id = $1", {id});
    EXPECT_TRUE(rows.ok() && rows->rows.size() == 1);
    return rows->rows[0].Text(0) + ": " + rows->rows[0].Text(1);
  };

  const std::string first = replay();
  AirflowReplays replays(*db_, "server:wide", *box, [this] { return now_; });
  for (int i = 0; i < 3 && state(first).starts_with("created"); ++i) {
    ASSERT_TRUE(replays.Advance().ok());
  }
  ASSERT_TRUE(replays.Advance().ok());
  EXPECT_EQ(state(first), "success: ");
  {
    std::lock_guard lock(mu);
    ASSERT_FALSE(seen.empty());
    EXPECT_THAT(seen, ::testing::Each(want));
  }

  // Under another app key the secret does not open: the replay fails and says why.
  auto other = secrets::SecretBox::FromAppKey("another-app-key-of-at-least-32-chars!");
  ASSERT_TRUE(other.ok());
  const std::string second = replay();
  ASSERT_TRUE(AirflowReplays(*db_, "server:wide", *other, [this] { return now_; }).Advance().ok());
  EXPECT_THAT(state(second),
              HasSubstr("failed: the project's SCHEDULER_AUTH secret does not open"));

  // Deleted, the server-wide credentials serve again (and Airflow refuses them here).
  bus::Message gone;
  gone.topic = pipeline::kSecretsTopic;
  gone.key = pipeline::JobKey("q", "SCHEDULER_AUTH");
  gone.tombstone = true;
  ASSERT_TRUE(db_->InTransaction(
                     [&](store::Transaction& tx) { return AirflowReplays::ApplySecret(tx, gone); })
                  .ok());
  const std::string third = replay();
  ASSERT_TRUE(replays.Advance().ok());
  EXPECT_THAT(state(third), HasSubstr("HTTP 401"));
  std::lock_guard lock(mu);
  EXPECT_EQ(seen.back(), "Basic " + absl::Base64Escape("server:wide"));
}

}  // namespace
}  // namespace optimus::dispatcher
