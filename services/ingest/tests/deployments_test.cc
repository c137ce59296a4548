// Deployment bookkeeping: stages only move forward, late jobs join, done means sealed and
// every job terminal, and watchers get only what changed.
#include "optimus/ingest/deployments.h"

#include <gtest/gtest.h>

#include <map>

#include "optimus/ingest/ingest_service.h"
#include "optimus/store/migrations.h"
#include "optimus/testing/testing.h"

namespace optimus::ingest {
namespace {

using events::v1::Stage;

class DeploymentsTest : public ::testing::Test {
 protected:
  void SetUp() override { db_ = NewDatabase(dir_); }

  // An ingest database with deployment d1 of jobs "a" (accepted) and "bad" (refused).
  static std::unique_ptr<store::Database> NewDatabase(const testing::TempDir& dir) {
    auto db = *store::OpenDatabase("sqlite:" + dir.File("ingest.db"), "ingest");
    EXPECT_TRUE(store::ApplyMigrations(*db, "ingest", IngestService().Migrations()).ok());
    std::vector<core::v1::JobProgress> jobs(2);
    jobs[0].set_job("a");
    jobs[0].set_stage(Stage::STAGE_ACCEPTED);
    jobs[1].set_job("bad");
    jobs[1].set_stage(Stage::STAGE_FAILED);
    jobs[1].set_error("invalid cron");
    EXPECT_TRUE(db->InTransaction([&](store::Transaction& tx) {
                    return RecordDeployment(tx, "d1", "p", "ns", jobs);
                  }).ok());
    return db;
  }

  // A progress record of job `job` of deployment d1.
  static events::v1::DeploymentProgress Record(const std::string& job, Stage stage,
                                               bool cascaded = false,
                                               const std::string& warning = "") {
    events::v1::DeploymentProgress p;
    p.set_deployment_id("d1");
    p.set_project("p");
    p.set_namespace_("ns");
    p.set_job_name(job);
    p.set_stage(stage);
    p.set_cascaded(cascaded);
    p.set_warning(warning);
    return p;
  }

  void Progress(const std::string& job, Stage stage, bool cascaded = false,
                const std::string& warning = "") {
    const auto p = Record(job, stage, cascaded, warning);
    ASSERT_TRUE(
        db_->InTransaction([&](store::Transaction& tx) { return ApplyProgress(tx, p); }).ok());
  }

  core::v1::DeploymentStatus Now(int64_t after = 0, int64_t* last = nullptr) {
    int64_t ignored = 0;
    auto s = Status(*db_, "d1", after, last != nullptr ? last : &ignored);
    EXPECT_TRUE(s.ok()) << s.status();
    return *s;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
};

TEST_F(DeploymentsTest, StagesMoveForwardAndDoneNeedsTheSeal) {
  auto s = Now();
  EXPECT_EQ(s.total(), 2);
  EXPECT_EQ(s.accepted(), 1);
  EXPECT_EQ(s.failed(), 1);
  EXPECT_FALSE(s.done());
  Progress("a", Stage::STAGE_RESOLVED);
  Progress("a", Stage::STAGE_STORED);  // late: ignored
  EXPECT_EQ(Now().resolved(), 1);
  Progress("a", Stage::STAGE_PUBLISHED);
  EXPECT_EQ(Now().published(), 1);
  EXPECT_FALSE(Now().done());  // spec-store has not sealed it yet
  Progress("", Stage::STAGE_STORED);
  EXPECT_TRUE(Now().done());
  Progress("a", Stage::STAGE_RESOLVED);  // never back from a terminal stage
  EXPECT_EQ(Now().published(), 1);
}

TEST_F(DeploymentsTest, CascadedAndDeletedJobsJoinAndHoldDoneUntilTerminal) {
  Progress("a", Stage::STAGE_PUBLISHED);
  Progress("", Stage::STAGE_STORED);
  Progress("downstream", Stage::STAGE_RESOLVED, true);
  auto s = Now();
  EXPECT_EQ(s.cascaded(), 1);
  EXPECT_FALSE(s.done());
  Progress("downstream", Stage::STAGE_PUBLISHED, true);
  Progress("old", Stage::STAGE_ACCEPTED);
  EXPECT_FALSE(Now().done());
  Progress("old", Stage::STAGE_DELETED);
  s = Now();
  EXPECT_TRUE(s.done());
  EXPECT_EQ(s.deleted(), 1);
  EXPECT_EQ(s.total(), 2);  // what was submitted
}

TEST_F(DeploymentsTest, AnUnchangedJobRecompiledByAnUpstreamChangeHasMoreWork) {
  Progress("a", Stage::STAGE_UNCHANGED);
  Progress("", Stage::STAGE_STORED);
  EXPECT_TRUE(Now().done());
  Progress("a", Stage::STAGE_RESOLVED, true);  // an upstream of a changed
  EXPECT_FALSE(Now().done());
  Progress("a", Stage::STAGE_PUBLISHED, true);
  auto s = Now();
  EXPECT_TRUE(s.done());
  EXPECT_EQ(s.published(), 1);
  bool recompiled = false;
  for (const auto& c : s.changes()) recompiled = recompiled || (c.job() == "a" && c.recompiled());
  EXPECT_TRUE(recompiled);
}

TEST_F(DeploymentsTest, AWarningStaysWithTheJobUntilItsCauseGoes) {
  Progress("a", Stage::STAGE_RESOLVED, false, "t is also written by p/b");
  int64_t last = 0;
  auto s = Now(0, &last);
  Progress("a", Stage::STAGE_PUBLISHED);
  s = Now(last, &last);
  ASSERT_EQ(s.changes_size(), 1);
  EXPECT_EQ(s.changes(0).stage(), Stage::STAGE_PUBLISHED);
  EXPECT_EQ(s.changes(0).warning(), "t is also written by p/b");
  // Resolved again without the warning (b writes elsewhere now): it goes, and watchers hear.
  Progress("a", Stage::STAGE_RESOLVED, true);
  s = Now(last, &last);
  ASSERT_EQ(s.changes_size(), 1);
  EXPECT_EQ(s.changes(0).warning(), "");
}

TEST_F(DeploymentsTest, ADeploymentRefusedAsAWholeIsDoneWithItsReason) {
  auto p = Record("", Stage::STAGE_FAILED);
  p.set_error("project p is not registered");
  Progress("a", Stage::STAGE_FAILED);
  ASSERT_TRUE(
      db_->InTransaction([&](store::Transaction& tx) { return ApplyProgress(tx, p); }).ok());
  auto s = Now();
  EXPECT_TRUE(s.done());
  EXPECT_EQ(s.error(), "project p is not registered");
}

TEST_F(DeploymentsTest, ABatchEndsWhereRecordByRecordEnds) {
  const std::vector<events::v1::DeploymentProgress> records = {
      Record("a", Stage::STAGE_STORED),
      Record("a", Stage::STAGE_RESOLVED, false, "t is also written by p/b"),
      Record("a", Stage::STAGE_STORED),  // late: ignored
      Record("down", Stage::STAGE_RESOLVED, true),
      Record("a", Stage::STAGE_PUBLISHED),
      Record("a", Stage::STAGE_RESOLVED, true),  // an upstream changed: more work
      Record("down", Stage::STAGE_PUBLISHED, true),
      Record("", Stage::STAGE_STORED),
      [&] {  // another ingest's deployment: ignored
        auto p = Record("elsewhere", Stage::STAGE_STORED);
        p.set_deployment_id("d9");
        return p;
      }(),
      Record("a", Stage::STAGE_PUBLISHED, true)};
  // The same records into a second database, one transaction each.
  testing::TempDir other_dir;
  auto other = NewDatabase(other_dir);
  for (const auto& r : records) {
    ASSERT_TRUE(
        other->InTransaction([&](store::Transaction& tx) { return ApplyProgress(tx, r); }).ok());
  }
  ASSERT_TRUE(
      db_->InTransaction([&](store::Transaction& tx) { return ApplyProgress(tx, records); }).ok());
  int64_t last = 0;
  auto one_by_one = *Status(*other, "d1", 0, &last);
  auto batched = Now();
  auto by_job = [](const core::v1::DeploymentStatus& s) {
    std::map<std::string, std::string> out;
    for (const auto& c : s.changes()) out[c.job()] = c.ShortDebugString();
    return out;
  };
  EXPECT_EQ(by_job(batched), by_job(one_by_one));
  batched.clear_changes();
  one_by_one.clear_changes();
  EXPECT_EQ(batched.ShortDebugString(), one_by_one.ShortDebugString());
  EXPECT_TRUE(batched.done());
  EXPECT_EQ(batched.published(), 2);
  EXPECT_EQ(batched.cascaded(), 1);
}

TEST_F(DeploymentsTest, WatchersGetOnlyChanges) {
  int64_t last = 0;
  auto first = Now(0, &last);
  EXPECT_EQ(first.changes_size(), 2);
  Progress("a", Stage::STAGE_STORED);
  int64_t next = 0;
  auto second = Now(last, &next);
  ASSERT_EQ(second.changes_size(), 1);
  EXPECT_EQ(second.changes(0).job(), "a");
  EXPECT_EQ(second.changes(0).stage(), Stage::STAGE_STORED);
  EXPECT_GT(next, last);
  int64_t unused = 0;
  EXPECT_EQ(Status(*db_, "nope", 0, &unused).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace optimus::ingest
