// Per-project DAG storage: storage_path parsing, and the compiler publishing each project's DAGs
// in its own place (real directories through file:// roots, on a real SQLite database), moving
// them when the path changes, and failing only that project's jobs when its storage refuses.
#include "optimus/compiler/dag_stores.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "optimus/blob/file_blob_store.h"
#include "optimus/compiler/compiler_service.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/store/migrations.h"
#include "optimus/store/sqlite_database.h"
#include "optimus/testing/testing.h"

namespace optimus::compiler {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(StorageRootTest, OwnPlacesAndTheServersStore) {
  EXPECT_EQ(*StorageRoot("file:///srv/airflow"), "file:///srv/airflow/");
  EXPECT_EQ(*StorageRoot("s3://dags/team-a"), "s3://dags/team-a/");
  EXPECT_EQ(*StorageRoot("s3://dags?endpoint=http://127.0.0.1:9000&path_style=true"),
            "s3://dags/?endpoint=http://127.0.0.1:9000&path_style=true");
  EXPECT_EQ(*StorageRoot("gs://bucket/composer/"), "gs://bucket/composer/");
  EXPECT_EQ(*StorageRoot(""), "");
  EXPECT_EQ(*StorageRoot("file://dags"), "");  // relative, as in Optimus's examples
  EXPECT_THAT(std::string(StorageRoot("oss://b/p").status().message()),
              HasSubstr("unsupported scheme \"oss\""));
  EXPECT_THAT(std::string(StorageRoot("gs:///p").status().message()), HasSubstr("names no bucket"));
  EXPECT_THAT(std::string(StorageRoot("/tmp/dags").status().message()), HasSubstr("not a URI"));
  EXPECT_FALSE(StorageRoot("file:///srv/../etc").ok());
}

TEST(StorageRootTest, UrisAndKeys) {
  EXPECT_EQ(DagUri("", "p", "dags/ns/j.py"), "p/dags/ns/j.py");
  EXPECT_EQ(DagKey("", "p/dags/ns/j.py"), "p/dags/ns/j.py");
  const std::string root = "s3://b/x/?endpoint=http://h:9";
  EXPECT_EQ(DagUri(root, "p", "dags/ns/j.py"), "s3://b/x/dags/ns/j.py?endpoint=http://h:9");
  EXPECT_EQ(DagKey(root, DagUri(root, "p", "dags/ns/j.py")), "dags/ns/j.py");
}

std::string Slurp(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

class CompilerStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = *store::OpenDatabase("sqlite:" + dir_.File("compiler.db"), "compiler");
    ASSERT_TRUE(store::ApplyMigrations(*db_, "store", store::CoreMigrations()).ok());
    ASSERT_TRUE(store::ApplyMigrations(*db_, "compiler", CompilerService().Migrations()).ok());
    server_ = *blob::FileBlobStore::Open(dir_.File("server"));
    compiler_ = std::make_unique<Compiler>(
        *server_, RenderOptions{"1.0", "http://rc:8080", "rc:9100", "optimus:1.0"}, 1, std::nullopt,
        [this](const std::string& root, const std::string& credentials) {
          opened_.push_back(root + (credentials.empty() ? "" : " with credentials"));
          if (root.starts_with("gs://")) {
            return absl::StatusOr<std::unique_ptr<blob::BlobStore>>(
                absl::PermissionDeniedError("gs://bucket/ needs the project's STORAGE secret"));
          }
          return DagStores::OpenRoot(root, credentials);
        });
    events::v1::PluginRecord plugin;
    plugin.set_name("bq2bq");
    plugin.set_spec_yaml(
        Slurp(std::string(OPTIMUS_EXAMPLE_PLUGINS) + "/optimus-plugin-bq2bq.yaml"));
    ASSERT_TRUE(Apply({pipeline::kPluginsTopic, "bq2bq", plugin.SerializeAsString()}).ok());
  }

  absl::Status Apply(const bus::Message& m) {
    return db_->InTransaction([&](store::Transaction& tx) {
      if (absl::Status s = compiler_->Apply(tx, outbox_, m); !s.ok()) return s;
      if (absl::Status s = compiler_->Flush(tx, outbox_); !s.ok()) return s;
      return compiler_->SyncWrites();
    });
  }

  absl::Status Project(const std::string& name, const std::string& storage_path) {
    events::v1::ProjectRecord p;
    p.set_name(name);
    (*p.mutable_config())["STORAGE_PATH"] = storage_path;
    (*p.mutable_config())["SCHEDULER_VERSION"] = "2.10";
    return Apply({pipeline::kProjectsTopic, name, p.SerializeAsString()});
  }

  absl::Status Job(const std::string& project, const std::string& name,
                   const std::string& extra = "") {
    events::v1::JobResolution r;
    r.set_project(project);
    r.set_namespace_("ns");
    r.set_name(name);
    r.set_spec_version(1);
    r.set_deployment_id("d1");
    r.set_spec_yaml(
        "version: 3\nname: " + name +
        "\nowner: o@example.com\nschedule: {start_date: '2024-01-01', interval: '0 2 "
        "* * *'}\ntask:\n  name: bq2bq\n  config: {PROJECT: p, DATASET: d, TABLE: t}\n" +
        extra);
    return Apply(
        {pipeline::kResolutionsTopic, pipeline::JobKey(project, name), r.SerializeAsString()});
  }

  // The deployment's last word on each job: published or failed (with its message).
  std::map<std::string, std::string> Outcomes() {
    std::map<std::string, std::string> out;
    auto rows = db_->Execute("SELECT payload FROM outbox WHERE topic = $1 ORDER BY id",
                             {std::string(pipeline::kProgressTopic)});
    for (const auto& row : rows->rows) {
      events::v1::DeploymentProgress p;
      if (!p.ParseFromString(row.Text(0)) || p.job_name().empty()) continue;
      out[p.job_name()] = events::v1::Stage_Name(p.stage()) + " " + p.error();
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<blob::FileBlobStore> server_;
  store::Outbox outbox_{"optimus/compiler"};
  std::unique_ptr<Compiler> compiler_;
  std::vector<std::string> opened_;
};

TEST_F(CompilerStorageTest, EachProjectPublishesWhereItsStoragePathSaysAndMovesWithIt) {
  const std::string a = dir_.File("airflow-a"), b = dir_.File("airflow-b");
  ASSERT_TRUE(Project("alpha", "file://" + a).ok());
  ASSERT_TRUE(Project("beta", "file://dags").ok());  // relative: the server's store
  ASSERT_TRUE(Job("alpha", "alpha.orders").ok());
  ASSERT_TRUE(Job("beta", "beta.orders").ok());
  EXPECT_TRUE(std::filesystem::exists(a + "/dags/ns/alpha.orders.py"));
  EXPECT_TRUE(std::filesystem::exists(a + "/dags/__lib.py"));
  EXPECT_TRUE(std::filesystem::exists(dir_.File("server") + "/beta/dags/ns/beta.orders.py"));
  EXPECT_FALSE(std::filesystem::exists(dir_.File("server") + "/alpha"));

  // Moving the project's storage_path republishes its DAGs there and removes them from the old
  // place (the lib stays: another project may share that folder).
  ASSERT_TRUE(Project("alpha", "file://" + b).ok());
  EXPECT_TRUE(std::filesystem::exists(b + "/dags/ns/alpha.orders.py"));
  EXPECT_TRUE(std::filesystem::exists(b + "/dags/__lib.py"));
  EXPECT_FALSE(std::filesystem::exists(a + "/dags/ns/alpha.orders.py"));
  auto row = db_->Execute("SELECT uri FROM dags WHERE job_key = 'alpha/alpha.orders'");
  EXPECT_EQ(row->rows.at(0).Text(0), "file://" + b + "/dags/ns/alpha.orders.py");

  // Deleting the job removes its DAG from where it is now.
  bus::Message gone{pipeline::kResolutionsTopic, pipeline::JobKey("alpha", "alpha.orders"), ""};
  gone.tombstone = true;
  ASSERT_TRUE(Apply(gone).ok());
  EXPECT_FALSE(std::filesystem::exists(b + "/dags/ns/alpha.orders.py"));
}

TEST_F(CompilerStorageTest, AStorageThatRefusesFailsOnlyItsProjectsJobsWithTheReason) {
  ASSERT_TRUE(Project("gamma", "gs://bucket").ok());
  ASSERT_TRUE(Project("delta", "oss://bucket/p").ok());
  ASSERT_TRUE(Project("beta", "file://dags").ok());
  ASSERT_TRUE(Job("gamma", "gamma.orders").ok());
  ASSERT_TRUE(Job("delta", "delta.orders").ok());
  ASSERT_TRUE(Job("beta", "beta.orders").ok());
  auto outcomes = Outcomes();
  EXPECT_THAT(outcomes["gamma.orders"], HasSubstr("STAGE_FAILED"));
  EXPECT_THAT(outcomes["gamma.orders"], HasSubstr("needs the project's STORAGE secret"));
  EXPECT_THAT(outcomes["delta.orders"], HasSubstr("unsupported scheme \"oss\""));
  EXPECT_EQ(outcomes["beta.orders"], "STAGE_PUBLISHED ");
  EXPECT_EQ(db_->Execute("SELECT count(*) FROM dags")->rows.at(0).Int(0), 1);
}

// A plugin's change compiles again the jobs that use it, and writes only their DAGs.
TEST_F(CompilerStorageTest, APluginChangeRecompilesOnlyTheJobsThatUseIt) {
  auto audit = [&](const std::string& tag) {
    events::v1::PluginRecord p;
    p.set_name("audit");
    p.set_spec_yaml(
        "version: 2\nname: audit\nplugintype: hook\nhooktype: post\n"
        "plugin_versions:\n  default: {image: example/audit, tag: '" +
        tag + "', entrypoint: {script: audit}}\n");
    return Apply({pipeline::kPluginsTopic, "audit", p.SerializeAsString()});
  };
  ASSERT_TRUE(audit("1").ok());
  ASSERT_TRUE(Project("beta", "file://dags").ok());
  ASSERT_TRUE(Job("beta", "beta.a", "hooks:\n- name: audit\n").ok());
  ASSERT_TRUE(Job("beta", "beta.b").ok());
  ASSERT_TRUE(Job("beta", "beta.c", "hooks:\n- name: audit\n").ok());
  auto published = [&] {
    return db_
        ->Execute("SELECT count(*) FROM outbox WHERE topic = $1",
                  {std::string(pipeline::kDagsTopic)})
        ->rows.at(0)
        .Int(0);
  };
  const int64_t before = published();
  ASSERT_THAT(Slurp(dir_.File("server") + "/beta/dags/ns/beta.a.py"), HasSubstr("example/audit:1"));
  ASSERT_TRUE(audit("2").ok());
  EXPECT_EQ(published() - before, 2);  // beta.a and beta.c, with the new image
  const std::string dag = Slurp(dir_.File("server") + "/beta/dags/ns/beta.a.py");
  EXPECT_THAT(dag, HasSubstr("example/audit:2"));
  EXPECT_THAT(Slurp(dir_.File("server") + "/beta/dags/ns/beta.b.py"), Not(HasSubstr("audit")));
  ASSERT_TRUE(audit("2").ok());  // the same record again: nothing
  EXPECT_EQ(published() - before, 2);
}

}  // namespace
}  // namespace optimus::compiler
