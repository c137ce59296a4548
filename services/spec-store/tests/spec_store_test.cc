// spec-store's submission handling on a real SQLite database: versions only on change,
// replace-all deletions as tombstones, projects with upper-cased config keys.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "optimus/events/v1/jobs.pb.h"
#include "optimus/pipeline/change_events.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/spec_store/spec_store_service.h"
#include "optimus/store/migrations.h"
#include "optimus/store/sqlite_database.h"
#include "optimus/testing/testing.h"

namespace optimus::spec_store {
namespace {

using ::testing::ElementsAre;

struct Out {
  std::string topic, key;
  bool tombstone;
  std::string payload;
};

class SpecStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = store::OpenDatabase("sqlite:" + dir_.File("spec-store.db"), "spec_store");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    ASSERT_TRUE(store::ApplyMigrations(*db_, "store", store::CoreMigrations()).ok());
    ASSERT_TRUE(store::ApplyMigrations(*db_, "spec-store", SpecStoreService().Migrations()).ok());
  }

  absl::Status Apply(const events::v1::Submission& submission) {
    bus::Message m;
    m.topic = pipeline::kSubmissionsTopic;
    m.payload = submission.SerializeAsString();
    return db_->InTransaction(
        [&](store::Transaction& tx) { return ApplySubmission(tx, outbox_, m); });
  }

  // A job submission of deployment d1 in project p.
  static events::v1::Submission JobSubmission(const std::string& name, const std::string& yaml,
                                              const std::string& sql,
                                              const std::string& ns = "ns1") {
    events::v1::Submission s;
    auto* job = s.mutable_job();
    job->set_deployment_id("d1");
    job->set_project("p");
    job->set_namespace_(ns);
    job->set_job_name(name);
    job->set_spec_yaml(yaml);
    auto* asset = job->add_assets();
    asset->set_name("query.sql");
    asset->set_inline_(sql);
    return s;
  }

  // Project p (storage_path file://dags) with namespace ns1.
  static events::v1::Submission ProjectSubmission() {
    events::v1::Submission s;
    auto* p = s.mutable_project();
    p->set_name("p");
    (*p->mutable_config())["storage_path"] = "file://dags";
    p->add_namespaces()->set_name("ns1");
    return s;
  }

  absl::Status Job(const std::string& name, const std::string& yaml, const std::string& sql,
                   const std::string& ns = "ns1") {
    return Apply(JobSubmission(name, yaml, sql, ns));
  }

  // The compiler's word that the DAG of a job's version is published (optimus.dags).
  void Published(const std::string& name, int64_t version) {
    events::v1::DagRecord dag;
    dag.set_project("p");
    dag.set_name(name);
    dag.set_spec_version(version);
    bus::Message m;
    m.topic = pipeline::kDagsTopic;
    m.key = "p/" + name;
    m.payload = dag.SerializeAsString();
    ASSERT_TRUE(
        db_->InTransaction([&](store::Transaction& tx) { return ApplySubmission(tx, outbox_, m); })
            .ok());
  }

  // Everything enqueued since the last call, except change events (kept for Changes()). Unless
  // compiler_down_, every job spec sent is then published, as the pipeline would.
  std::vector<Out> Drain() {
    auto rows = db_->Execute(
        "SELECT topic, msg_key, tombstone, payload FROM outbox WHERE id > $1 ORDER BY id",
        {last_id_});
    EXPECT_TRUE(rows.ok()) << rows.status();
    std::vector<Out> out;
    for (const auto& r : rows->rows) {
      Out o{r.Text(0), r.Text(1), r.Int(2) != 0, r.Text(3)};
      if (o.topic == pipeline::kChangesTopic) {
        pipeline::OptimusChangeEvent event;
        EXPECT_TRUE(event.ParseFromString(o.payload));
        EXPECT_EQ(o.key, "p/" + event.job_name());
        changes_.push_back(std::move(event));
        continue;
      }
      if (o.topic == pipeline::kJobSpecsTopic && !o.tombstone && !compiler_down_) {
        events::v1::JobSpecRecord spec;
        EXPECT_TRUE(spec.ParseFromString(o.payload));
        Published(spec.name(), spec.version());
      }
      out.push_back(std::move(o));
    }
    auto max = db_->Execute("SELECT COALESCE(MAX(id), 0) FROM outbox");
    last_id_ = max->rows[0].Int(0);
    return out;
  }

  static std::vector<std::string> Topics(const std::vector<Out>& out) {
    std::vector<std::string> t;
    for (const auto& o : out)
      t.push_back(o.topic + " " + o.key + (o.tombstone ? " (deleted)" : ""));
    return t;
  }

  // The change events enqueued since the last call, as "TYPE job IMPACT".
  std::vector<std::string> Changes() {
    Drain();
    std::vector<std::string> out;
    for (const auto& e : changes_) {
      out.push_back(pipeline::OptimusChangeEvent::EventType_Name(e.event_type()) + " " +
                    e.job_name() + " " +
                    ::gotocompany::optimus::integration::v1beta1::ChangeImpact_Name(
                        e.job_change().change_impact()));
    }
    last_changes_ = std::move(changes_);
    changes_.clear();
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
  store::Outbox outbox_{"optimus/spec-store"};
  int64_t last_id_ = 0;
  bool compiler_down_ = false;
  std::vector<pipeline::OptimusChangeEvent> changes_, last_changes_;
};

TEST_F(SpecStoreTest, NewJobsAreStoredAndPublishedUnchangedOnesOnlyReported) {
  ASSERT_TRUE(Job("a", "name: a\n", "select 1").ok());
  auto out = Drain();
  EXPECT_THAT(Topics(out), ElementsAre("optimus.job.specs p/a", "optimus.deployments.progress d1"));
  events::v1::JobSpecRecord record;
  ASSERT_TRUE(record.ParseFromString(out[0].payload));
  EXPECT_EQ(record.version(), 1);
  EXPECT_EQ(record.assets(0).inline_(), "select 1");

  ASSERT_TRUE(Job("a", "name: a\n", "select 1").ok());
  out = Drain();
  ASSERT_THAT(Topics(out), ElementsAre("optimus.deployments.progress d1"));
  events::v1::DeploymentProgress progress;
  ASSERT_TRUE(progress.ParseFromString(out[0].payload));
  EXPECT_EQ(progress.stage(), events::v1::STAGE_UNCHANGED);

  ASSERT_TRUE(Job("a", "name: a\n", "select 2").ok());  // an asset changed
  out = Drain();
  ASSERT_TRUE(record.ParseFromString(out[0].payload));
  EXPECT_EQ(record.version(), 2);
  ASSERT_TRUE(Job("a", "name: a\n", "select 2", "ns2").ok());  // moved namespace
  ASSERT_TRUE(record.ParseFromString(Drain()[0].payload));
  EXPECT_EQ(record.version(), 3);
  EXPECT_EQ(record.namespace_(), "ns2");
}

// Issue 20, part 11: a redeploy after a crash must not call a job unchanged whose DAG the
// compiler never published; its spec goes down the pipeline again for the new deployment.
TEST_F(SpecStoreTest, UnchangedMeansTheDagOfThatVersionIsPublished) {
  compiler_down_ = true;  // the server stops after storing, before compiling
  ASSERT_TRUE(Job("a", "name: a\n", "select 1").ok());
  Drain();
  ASSERT_TRUE(Job("a", "name: a\n", "select 1").ok());  // deployed again, nothing changed
  auto out = Drain();
  ASSERT_THAT(Topics(out), ElementsAre("optimus.job.specs p/a", "optimus.deployments.progress d1"));
  events::v1::DeploymentProgress progress;
  ASSERT_TRUE(progress.ParseFromString(out[1].payload));
  EXPECT_EQ(progress.stage(), events::v1::STAGE_STORED) << "not unchanged: its DAG is not there";
  events::v1::JobSpecRecord record;
  ASSERT_TRUE(record.ParseFromString(out[0].payload));
  Published("a", record.version());  // the compiler catches up
  ASSERT_TRUE(Job("a", "name: a\n", "select 1").ok());
  out = Drain();
  ASSERT_THAT(Topics(out), ElementsAre("optimus.deployments.progress d1"));
  ASSERT_TRUE(progress.ParseFromString(out[0].payload));
  EXPECT_EQ(progress.stage(), events::v1::STAGE_UNCHANGED);
  Published("a", 1);  // an older word changes nothing
  ASSERT_TRUE(Job("a", "name: a\n", "select 1").ok());
  EXPECT_THAT(Topics(Drain()), ElementsAre("optimus.deployments.progress d1"));
}

TEST_F(SpecStoreTest, ChangesArePublishedAsOptimusChangeEventsWithTheirImpact) {
  const std::string v1 =
      "version: 3\nname: a\nowner: o@x\nschedule:\n  start_date: \"2024-01-01\"\n  interval: "
      "\"0 1 * * *\"\ntask:\n  name: bq2bq\n  config:\n    PROJECT: acme\n  window:\n    size: "
      "1d\nbehavior:\n  notify:\n    - on: failure\n      channels: [\"slack://#a\"]\n";
  ASSERT_TRUE(Job("a", v1, "select 1").ok());
  EXPECT_THAT(Changes(), ElementsAre("EVENT_TYPE_JOB_CREATE a CHANGE_IMPACT_TYPE_UNSPECIFIED"));
  const auto& created = last_changes_.at(0);
  EXPECT_EQ(created.project_name(), "p");
  EXPECT_EQ(created.namespace_name(), "ns1");
  EXPECT_FALSE(created.event_id().empty());
  EXPECT_GT(created.occurred_at().seconds(), 1700000000);
  const auto& spec = created.job_change().job_spec();
  EXPECT_EQ(spec.name(), "a");
  EXPECT_EQ(spec.version(), 3);
  EXPECT_EQ(spec.interval(), "0 1 * * *");
  EXPECT_EQ(spec.task_name(), "bq2bq");
  EXPECT_EQ(spec.window().size(), "1d");
  EXPECT_EQ(spec.window_size(), "");  // version 3 uses the window message
  ASSERT_EQ(spec.config_size(), 1);
  EXPECT_EQ(spec.config(0).name(), "PROJECT");
  EXPECT_EQ(spec.assets().at("query.sql"), "select 1");
  ASSERT_EQ(spec.behavior().notify_size(), 1);
  EXPECT_EQ(spec.behavior().notify(0).on(),
            ::gotocompany::optimus::core::v1beta1::JobEvent::TYPE_FAILURE);
  // Unchanged: no event. The owner only: INTERNAL. The interval, the config or an asset:
  // BEHAVIOUR.
  ASSERT_TRUE(Job("a", v1, "select 1").ok());
  EXPECT_THAT(Changes(), ElementsAre());
  std::string v2 = v1;
  v2.replace(v2.find("o@x"), 3, "p@x");
  ASSERT_TRUE(Job("a", v2, "select 1").ok());
  EXPECT_THAT(Changes(), ElementsAre("EVENT_TYPE_JOB_UPDATE a CHANGE_IMPACT_TYPE_INTERNAL"));
  ASSERT_TRUE(Job("a", v2, "select 2").ok());
  EXPECT_THAT(Changes(), ElementsAre("EVENT_TYPE_JOB_UPDATE a CHANGE_IMPACT_TYPE_BEHAVIOUR"));
  std::string v3 = v2;
  v3.replace(v3.find("0 1 * * *"), 9, "0 2 * * *");
  ASSERT_TRUE(Job("a", v3, "select 2").ok());
  EXPECT_THAT(Changes(), ElementsAre("EVENT_TYPE_JOB_UPDATE a CHANGE_IMPACT_TYPE_BEHAVIOUR"));
  // Deleted: BEHAVIOUR, with the spec it had.
  events::v1::Submission del;
  del.mutable_sealed()->set_deployment_id("d2");
  del.mutable_sealed()->set_project("p");
  del.mutable_sealed()->set_namespace_("ns1");
  del.mutable_sealed()->set_mode(events::v1::DEPLOY_MODE_DELETE);
  del.mutable_sealed()->add_job_names("a");
  ASSERT_TRUE(Apply(del).ok());
  EXPECT_THAT(Changes(), ElementsAre("EVENT_TYPE_JOB_DELETE a CHANGE_IMPACT_TYPE_BEHAVIOUR"));
  EXPECT_EQ(last_changes_.at(0).job_change().job_spec().interval(), "0 2 * * *");
  // Deployed again: created again.
  ASSERT_TRUE(Job("a", v3, "select 2").ok());
  EXPECT_THAT(Changes(), ElementsAre("EVENT_TYPE_JOB_CREATE a CHANGE_IMPACT_TYPE_UNSPECIFIED"));
}

TEST_F(SpecStoreTest, AJobTwiceInABatchGetsAnEventPerVersion) {
  const std::vector<std::string> specs = {"name: a\nowner: x\n", "name: a\nowner: y\n"};
  ASSERT_TRUE(db_->InTransaction([&](store::Transaction& tx) -> absl::Status {
                   SubmissionBatch batch(outbox_);
                   for (const auto& yaml : specs) {
                     bus::Message m;
                     m.topic = pipeline::kSubmissionsTopic;
                     m.payload = JobSubmission("a", yaml, "select 1").SerializeAsString();
                     if (absl::Status s = batch.Apply(tx, m); !s.ok()) return s;
                   }
                   return batch.Flush(tx);
                 })
                  .ok());
  EXPECT_THAT(Changes(), ElementsAre("EVENT_TYPE_JOB_CREATE a CHANGE_IMPACT_TYPE_UNSPECIFIED",
                                     "EVENT_TYPE_JOB_UPDATE a CHANGE_IMPACT_TYPE_INTERNAL"));
}

TEST_F(SpecStoreTest, ReplaceAllDeletesWhatTheDeploymentDoesNotList) {
  ASSERT_TRUE(Job("a", "name: a\n", "x").ok());
  ASSERT_TRUE(Job("b", "name: b\n", "x").ok());
  ASSERT_TRUE(Job("other", "name: other\n", "x", "ns2").ok());
  Drain();
  events::v1::Submission sealed;
  sealed.mutable_sealed()->set_deployment_id("d2");
  sealed.mutable_sealed()->set_project("p");
  sealed.mutable_sealed()->set_namespace_("ns1");
  sealed.mutable_sealed()->set_mode(events::v1::DEPLOY_MODE_REPLACE_ALL);
  sealed.mutable_sealed()->add_job_names("a");
  ASSERT_TRUE(Apply(sealed).ok());
  EXPECT_THAT(Topics(Drain()),
              ElementsAre("optimus.deployments.progress d2", "optimus.job.specs p/b (deleted)",
                          "optimus.deployments.progress d2", "optimus.deployments.stored d2"));
  // Again: nothing left to delete, only the deployment's end.
  ASSERT_TRUE(Apply(sealed).ok());
  EXPECT_THAT(Topics(Drain()),
              ElementsAre("optimus.deployments.progress d2", "optimus.deployments.stored d2"));
  // Deploying b again brings it back as a new version.
  ASSERT_TRUE(Job("b", "name: b\n", "x").ok());
  events::v1::JobSpecRecord record;
  ASSERT_TRUE(record.ParseFromString(Drain()[0].payload));
  EXPECT_EQ(record.version(), 3);
}

TEST_F(SpecStoreTest, DeleteOnlyReachesJobsOfItsNamespace) {
  ASSERT_TRUE(Job("a", "name: a\n", "x", "ns1").ok());
  Drain();
  events::v1::Submission del;
  del.mutable_sealed()->set_deployment_id("d3");
  del.mutable_sealed()->set_project("p");
  del.mutable_sealed()->set_namespace_("ns2");
  del.mutable_sealed()->set_mode(events::v1::DEPLOY_MODE_DELETE);
  del.mutable_sealed()->add_job_names("a");
  ASSERT_TRUE(Apply(del).ok());
  auto out = Drain();
  ASSERT_THAT(Topics(out),
              ElementsAre("optimus.deployments.progress d3", "optimus.deployments.progress d3",
                          "optimus.deployments.stored d3"));
  events::v1::DeploymentProgress p;
  ASSERT_TRUE(p.ParseFromString(out[0].payload));
  EXPECT_EQ(p.stage(), events::v1::STAGE_FAILED);
  EXPECT_EQ(p.error(), "no job a in namespace ns2 to delete");
  del.mutable_sealed()->set_namespace_("ns1");
  ASSERT_TRUE(Apply(del).ok());
  EXPECT_THAT(Topics(Drain()),
              ElementsAre("optimus.deployments.progress d3", "optimus.job.specs p/a (deleted)",
                          "optimus.deployments.progress d3", "optimus.deployments.stored d3"));
}

TEST_F(SpecStoreTest, ABatchStoresJobsInOrderAndASealSeesThem) {
  auto job = [](const std::string& name, const std::string& sql) {
    return bus::Message{pipeline::kSubmissionsTopic, "p/ns1",
                        JobSubmission(name, "name: " + name, sql).SerializeAsString()};
  };
  ASSERT_TRUE(Job("old", "name: old", "select 0").ok());
  Drain();
  events::v1::Submission sealed;
  sealed.mutable_sealed()->set_deployment_id("d1");
  sealed.mutable_sealed()->set_project("p");
  sealed.mutable_sealed()->set_namespace_("ns1");
  sealed.mutable_sealed()->set_mode(events::v1::DEPLOY_MODE_REPLACE_ALL);
  for (const char* name : {"a", "b"}) sealed.mutable_sealed()->add_job_names(name);
  SubmissionBatch batch(outbox_);
  absl::Status s = db_->InTransaction([&](store::Transaction& tx) -> absl::Status {
    for (const auto& m :
         {job("a", "select 1"), job("a", "select 2"), job("b", "select 1"), job("a", "select 2"),
          bus::Message{pipeline::kSubmissionsTopic, "p/ns1", sealed.SerializeAsString()}}) {
      if (absl::Status applied = batch.Apply(tx, m); !applied.ok()) return applied;
    }
    return batch.Flush(tx);
  });
  ASSERT_TRUE(s.ok()) << s;
  std::vector<std::string> stages;
  for (const auto& o : Drain()) {
    if (o.topic == pipeline::kJobSpecsTopic) {
      events::v1::JobSpecRecord r;
      r.ParseFromString(o.payload);
      stages.push_back(o.key + (o.tombstone ? " deleted" : " v" + std::to_string(r.version())));
    } else if (o.topic == pipeline::kStoredTopic) {
      events::v1::DeploymentStored d;
      d.ParseFromString(o.payload);
      stages.push_back(d.deployment_id() + " sent " + std::to_string(d.job_specs()));
    } else {
      events::v1::DeploymentProgress p;
      p.ParseFromString(o.payload);
      stages.push_back(p.job_name() + " " + events::v1::Stage_Name(p.stage()));
    }
  }
  // The second "select 2" is not unchanged: the DAG of v2 is not published yet, so it is sent
  // again, for its deployment to hear when it is.
  EXPECT_THAT(stages,
              ElementsAre("p/a v1", "a STAGE_STORED", "p/a v2", "a STAGE_STORED", "p/b v1",
                          "b STAGE_STORED", "p/a v3", "a STAGE_STORED", "old STAGE_ACCEPTED",
                          "p/old deleted", " STAGE_STORED", "d1 sent 2"));
  auto a = db_->Execute("SELECT version FROM jobs WHERE project = 'p' AND name = 'a'");
  EXPECT_EQ(a->rows[0].Int(0), 3);
}

TEST_F(SpecStoreTest, TheSealSaysHowManySpecsTheDeploymentSent) {
  ASSERT_TRUE(Job("a", "name: a\n", "x").ok());
  ASSERT_TRUE(Job("b", "name: b\n", "x").ok());
  Drain();
  // Deployment d2, one of a batch of three: a unchanged, b changed, c new; a job of another
  // namespace changed by d2 does not count for it.
  auto of_d2 = [](events::v1::Submission s) {
    s.mutable_job()->set_deployment_id("d2");
    return s;
  };
  ASSERT_TRUE(Apply(of_d2(JobSubmission("a", "name: a\n", "x"))).ok());
  ASSERT_TRUE(Apply(of_d2(JobSubmission("b", "name: b\n", "y"))).ok());
  ASSERT_TRUE(Apply(of_d2(JobSubmission("c", "name: c\n", "x"))).ok());
  ASSERT_TRUE(Apply(of_d2(JobSubmission("z", "name: z\n", "x", "ns2"))).ok());
  Drain();
  events::v1::Submission sealed;
  sealed.mutable_sealed()->set_deployment_id("d2");
  sealed.mutable_sealed()->set_project("p");
  sealed.mutable_sealed()->set_namespace_("ns1");
  sealed.mutable_sealed()->set_mode(events::v1::DEPLOY_MODE_UPSERT);
  sealed.mutable_sealed()->set_batch_id("batch-1");
  sealed.mutable_sealed()->set_batch_size(3);
  ASSERT_TRUE(Apply(sealed).ok());
  auto out = Drain();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].topic, pipeline::kStoredTopic);
  EXPECT_EQ(out[1].key, "d2");
  events::v1::DeploymentStored stored;
  ASSERT_TRUE(stored.ParseFromString(out[1].payload));
  EXPECT_EQ(stored.job_specs(), 2);
  EXPECT_EQ(stored.namespace_(), "ns1");
  EXPECT_EQ(stored.batch_id(), "batch-1");
  EXPECT_EQ(stored.batch_size(), 3);
}

TEST_F(SpecStoreTest, ProjectsKeepUpperCasedConfigAndVersionOnlyOnChange) {
  const events::v1::Submission s = ProjectSubmission();
  ASSERT_TRUE(Apply(s).ok());
  auto out = Drain();
  ASSERT_THAT(Topics(out), ElementsAre("optimus.projects p", "optimus.deployments.progress "));
  events::v1::ProjectRecord record;
  ASSERT_TRUE(record.ParseFromString(out[0].payload));
  EXPECT_EQ(record.config().at("STORAGE_PATH"), "file://dags");
  EXPECT_EQ(record.version(), 1);
  ASSERT_TRUE(Apply(s).ok());
  EXPECT_THAT(Topics(Drain()), ElementsAre("optimus.deployments.progress "));
}

TEST_F(SpecStoreTest, RegisteringAgainKeepsWhatTheSubmissionSaysToKeep) {
  events::v1::Submission full = ProjectSubmission();
  (*full.mutable_project()->mutable_variables())["bucket"] = "b1";
  full.mutable_project()->set_presets_yaml("presets:\n  yesterday:\n    window:\n      size: 1d\n");
  ASSERT_TRUE(Apply(full).ok());
  Drain();
  // As the REST route registers: no presets field, no variables, a new config.
  events::v1::Submission rest;
  auto* p = rest.mutable_project();
  p->set_name("p");
  (*p->mutable_config())["storage_path"] = "file://elsewhere";
  p->set_keep_presets(true);
  p->set_keep_variables(true);
  ASSERT_TRUE(Apply(rest).ok());
  auto out = Drain();
  ASSERT_EQ(out[0].topic, pipeline::kProjectsTopic);
  events::v1::ProjectRecord record;
  ASSERT_TRUE(record.ParseFromString(out[0].payload));
  EXPECT_EQ(record.config().at("STORAGE_PATH"), "file://elsewhere");
  // Keys come back upper-cased, as Optimus keeps them (registered as "bucket").
  EXPECT_EQ(record.variables().at("BUCKET"), "b1");
  EXPECT_EQ(record.presets_yaml(), full.project().presets_yaml());
  // Without the flags an empty field clears (the CLI sends the whole optimus.yaml every time).
  p->set_keep_presets(false);
  p->set_keep_variables(false);
  ASSERT_TRUE(Apply(rest).ok());
  out = Drain();
  ASSERT_TRUE(record.ParseFromString(out[0].payload));
  EXPECT_TRUE(record.variables().empty());
  EXPECT_EQ(record.presets_yaml(), "");
}

TEST_F(SpecStoreTest, NamespacesMergeByNameAndANamespaceNeedsItsProject) {
  events::v1::Submission only;
  auto* n = only.mutable_project();
  n->set_deployment_id("d2");
  n->set_name("p");
  n->set_namespaces_only(true);
  auto* ns2 = n->add_namespaces();
  ns2->set_name("ns2");
  (*ns2->mutable_config())["bq_dataset"] = "two";
  // Before the project exists: the deployment fails, with the reason, and nothing is stored.
  ASSERT_TRUE(Apply(only).ok());
  auto out = Drain();
  ASSERT_THAT(Topics(out), ElementsAre("optimus.deployments.progress d2"));
  events::v1::DeploymentProgress failed;
  ASSERT_TRUE(failed.ParseFromString(out[0].payload));
  EXPECT_EQ(failed.stage(), events::v1::STAGE_FAILED);
  EXPECT_EQ(failed.job_name(), "");
  EXPECT_EQ(failed.error(),
            "project p is not registered (register it first: optimus project register)");

  const events::v1::Submission s = ProjectSubmission();
  ASSERT_TRUE(Apply(s).ok());
  Drain();
  ASSERT_TRUE(Apply(only).ok());
  out = Drain();
  ASSERT_THAT(Topics(out), ElementsAre("optimus.projects p", "optimus.deployments.progress d2"));
  events::v1::ProjectRecord record;
  ASSERT_TRUE(record.ParseFromString(out[0].payload));
  EXPECT_EQ(record.version(), 2);
  EXPECT_EQ(record.config().at("STORAGE_PATH"), "file://dags");  // kept
  ASSERT_EQ(record.namespaces_size(), 2);
  EXPECT_EQ(record.namespaces(0).name(), "ns1");
  EXPECT_EQ(record.namespaces(1).name(), "ns2");
  EXPECT_EQ(record.namespaces(1).config().at("BQ_DATASET"), "two");
  // Registering the project again without ns2 keeps it.
  ASSERT_TRUE(Apply(s).ok());
  EXPECT_THAT(Topics(Drain()), ElementsAre("optimus.deployments.progress "));
}

TEST_F(SpecStoreTest, ADeadLetteredJobIsReportedFailedToItsDeployment) {
  events::v1::Submission s;
  s.mutable_job()->set_deployment_id("d7");
  s.mutable_job()->set_project("p");
  s.mutable_job()->set_namespace_("ns1");
  s.mutable_job()->set_job_name("broken");
  bus::Message m;
  m.topic = pipeline::kSubmissionsTopic;
  m.payload = s.SerializeAsString();
  ASSERT_TRUE(
      ReportDeadLetter(*db_, outbox_, m, absl::InvalidArgumentError("the database said no")).ok());
  auto out = Drain();
  ASSERT_THAT(Topics(out), ElementsAre("optimus.deployments.progress d7"));
  events::v1::DeploymentProgress p;
  ASSERT_TRUE(p.ParseFromString(out[0].payload));
  EXPECT_EQ(p.job_name(), "broken");
  EXPECT_EQ(p.stage(), events::v1::STAGE_FAILED);
  EXPECT_EQ(p.error(),
            "the submission could not be stored and went to optimus.spec.submissions.dlq: the "
            "database said no");
  // Unreadable bytes without ingest's headers have no deployment to tell.
  m.payload = "\xff\xff";
  ASSERT_TRUE(ReportDeadLetter(*db_, outbox_, m, absl::InvalidArgumentError("x")).ok());
  EXPECT_TRUE(Drain().empty());
  // With them, the job is reported failed to its deployment.
  m.key = "p/ns1";
  m.headers = {{pipeline::kDeploymentHeader, "d8"}, {pipeline::kJobHeader, "mangled"}};
  ASSERT_TRUE(
      ReportDeadLetter(*db_, outbox_, m, absl::InvalidArgumentError("not a Submission")).ok());
  out = Drain();
  ASSERT_THAT(Topics(out), ElementsAre("optimus.deployments.progress d8"));
  ASSERT_TRUE(p.ParseFromString(out[0].payload));
  EXPECT_EQ(p.project(), "p");
  EXPECT_EQ(p.namespace_(), "ns1");
  EXPECT_EQ(p.job_name(), "mangled");
  EXPECT_EQ(p.stage(), events::v1::STAGE_FAILED);
  EXPECT_EQ(p.error(),
            "the submission could not be stored and went to optimus.spec.submissions.dlq: not a "
            "Submission");
}

TEST_F(SpecStoreTest, TheSameProjectInAnotherKeyOrderIsUnchanged) {
  auto project = [](bool reversed) {
    events::v1::Submission s;
    auto* p = s.mutable_project();
    p->set_name("p");
    std::vector<std::string> keys;
    for (int i = 0; i < 64; ++i) keys.push_back("key_" + std::to_string(i));
    if (reversed) std::reverse(keys.begin(), keys.end());
    for (const auto& k : keys) (*p->mutable_config())[k] = "v" + k;
    for (const auto& k : keys) (*p->mutable_variables())[k] = k;
    return s;
  };
  ASSERT_TRUE(Apply(project(false)).ok());
  Drain();
  ASSERT_TRUE(Apply(project(true)).ok());
  // Only the deployment's end: no new project version, so nothing downstream recompiles.
  EXPECT_THAT(Topics(Drain()), ElementsAre("optimus.deployments.progress "));
}

TEST_F(SpecStoreTest, GarbageIsPoison) {
  bus::Message m;
  m.topic = pipeline::kSubmissionsTopic;
  m.payload = "\xff\xff not a protobuf";
  absl::Status s =
      db_->InTransaction([&](store::Transaction& tx) { return ApplySubmission(tx, outbox_, m); });
  EXPECT_TRUE(bus::IsPoison(s)) << s;
  EXPECT_TRUE(bus::IsPoison(Apply(events::v1::Submission())));
}

}  // namespace
}  // namespace optimus::spec_store
