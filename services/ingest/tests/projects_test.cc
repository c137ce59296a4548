// ingest's project read model: records in, listings out; a tombstone forgets, garbage is poison.
#include "optimus/ingest/projects.h"

#include <gtest/gtest.h>

#include "optimus/events/v1/jobs.pb.h"
#include "optimus/ingest/ingest_service.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/store/migrations.h"
#include "optimus/testing/testing.h"

namespace optimus::ingest {
namespace {

class ProjectsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = *store::OpenDatabase("sqlite:" + dir_.File("ingest.db"), "ingest");
    ASSERT_TRUE(store::ApplyMigrations(*db_, "ingest", IngestService().Migrations()).ok());
  }

  absl::Status Apply(const bus::Message& m) {
    return db_->InTransaction([&](store::Transaction& tx) { return ApplyProjectRecord(tx, m); });
  }

  static bus::Message Record(const std::string& name, int64_t version,
                             std::vector<std::string> namespaces) {
    events::v1::ProjectRecord r;
    r.set_name(name);
    r.set_version(version);
    (*r.mutable_config())["STORAGE_PATH"] = "file:///dags/" + name;
    for (const auto& ns : namespaces) r.add_namespaces()->set_name(ns);
    return bus::Message{pipeline::kProjectsTopic, name, r.SerializeAsString()};
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
};

TEST_F(ProjectsTest, TheLatestRecordOfEachProjectIsListed) {
  ASSERT_TRUE(Apply(Record("zeta", 1, {"a"})).ok());
  ASSERT_TRUE(Apply(Record("alpha", 1, {"a"})).ok());
  ASSERT_TRUE(Apply(Record("zeta", 2, {"a", "b"})).ok());
  auto all = ListProjects(*db_);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name(), "alpha");
  EXPECT_EQ((*all)[1].name(), "zeta");
  EXPECT_EQ((*all)[1].version(), 2);
  ASSERT_EQ((*all)[1].namespaces_size(), 2);
  EXPECT_EQ((*all)[1].namespaces(1).name(), "b");
  auto one = GetProject(*db_, "alpha");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->config().at("STORAGE_PATH"), "file:///dags/alpha");

  bus::Message gone{pipeline::kProjectsTopic, "alpha", ""};
  gone.tombstone = true;
  ASSERT_TRUE(Apply(gone).ok());
  auto missing = GetProject(*db_, "alpha");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(),
            "project alpha is not registered (optimus project register)");
}

TEST_F(ProjectsTest, GarbageIsPoison) {
  EXPECT_EQ(Apply({pipeline::kProjectsTopic, "p", "\xff\xff"}).code(),
            absl::StatusCode::kInvalidArgument);
  events::v1::ProjectRecord nameless;
  nameless.set_version(1);
  EXPECT_EQ(Apply({pipeline::kProjectsTopic, "p", nameless.SerializeAsString()}).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace optimus::ingest
