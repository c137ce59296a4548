// The resolver on a real SQLite database: what each incoming record makes it publish.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "optimus/blob/file_blob_store.h"
#include "optimus/dependency_resolver/dependency_resolver_service.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/store/migrations.h"
#include "optimus/testing/testing.h"

namespace optimus::dependency_resolver {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr char kPlugin[] = R"(version: 2
name: bq2bq
description: BigQuery to BigQuery
destination_urn_template: "bigquery://<PROJECT>:<DATASET>.<TABLE>"
asset_parsers:
  bq:
  - filepath: ./query.sql
plugin_versions:
  default:
    image: example/bq2bq
    tag: "1.0"
    entrypoint: {shell: /bin/sh, script: "python3 main.py"}
)";

std::string Spec(const std::string& table, const std::string& extra = "") {
  return "version: 3\nname: " + table +
         "\nowner: o\nschedule: {start_date: '2024-01-01', interval: '0 2 * * *'}\n"
         "task:\n  name: bq2bq\n  config:\n    PROJECT: \"{{.GLOBAL__GCP_PROJECT}}\"\n"
         "    DATASET: d\n    TABLE: " +
         table + "\n" + extra;
}

// Jobs in a batch of the tests that stream a deploy in.
constexpr size_t kMany = 50;

struct Emitted {
  std::string topic, key;
  bool tombstone;
  events::v1::JobResolution resolution;
  events::v1::DeploymentProgress progress;
};

class ResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = store::OpenDatabase("sqlite:" + dir_.File("r.db"), "r");
    ASSERT_TRUE(db.ok());
    db_ = *std::move(db);
    ASSERT_TRUE(store::ApplyMigrations(*db_, "store", store::CoreMigrations()).ok());
    ASSERT_TRUE(store::ApplyMigrations(*db_, "dependency-resolver",
                                       DependencyResolverService().Migrations())
                    .ok());
    ASSERT_TRUE(resolver_.Load(*db_).ok());
  }

  absl::Status Feed(bus::Message m) {
    return db_->InTransaction([&](store::Transaction& tx) -> absl::Status {
      if (absl::Status s = resolver_.Apply(tx, outbox_, m); !s.ok()) return s;
      return resolver_.Flush(tx, outbox_);
    });
  }

  void Plugin(const std::string& yaml) {
    events::v1::PluginRecord p;
    p.set_name("bq2bq");
    p.set_spec_yaml(yaml);
    absl::Status s = Feed({pipeline::kPluginsTopic, "bq2bq", p.SerializeAsString()});
    ASSERT_TRUE(s.ok()) << s;
  }

  void Project() {
    events::v1::ProjectRecord p;
    p.set_name("p");
    (*p.mutable_variables())["gcp_project"] = "acme";
    ASSERT_TRUE(Feed({pipeline::kProjectsTopic, "p", p.SerializeAsString()}).ok());
  }

  void Job(const std::string& name, int64_t version, const std::string& yaml,
           const std::string& sql, const std::string& deployment = "d1") {
    // A deployment of one job: its spec, and spec-store's word that that was all.
    ASSERT_TRUE(
        Batch({SpecRecord(name, sql, deployment, version, yaml), StoredRecord(deployment, 1)})
            .ok());
  }

  // A job.specs record of `name` reading through `sql`, as spec-store sends it.
  // (version 1 and Spec(name) unless given).
  static bus::Message SpecRecord(const std::string& name, const std::string& sql,
                                 const std::string& deployment = "d1", int64_t version = 1,
                                 const std::string& yaml = "") {
    events::v1::JobSpecRecord r;
    r.set_project("p");
    r.set_namespace_("ns");
    r.set_name(name);
    r.set_version(version);
    r.set_spec_yaml(yaml.empty() ? Spec(name) : yaml);
    r.set_deployment_id(deployment);
    auto* a = r.add_assets();
    a->set_name("query.sql");
    a->set_inline_(sql);
    return bus::Message{pipeline::kJobSpecsTopic, "p/" + name, r.SerializeAsString()};
  }

  // A deploy streaming in: `first`, then fillers `<prefix>1`, `<prefix>2`... that read nothing,
  // kMany records of `deployment` in all.
  static std::vector<bus::Message> Streaming(bus::Message first, const std::string& prefix,
                                             const std::string& deployment = "d1") {
    std::vector<bus::Message> out{std::move(first)};
    for (size_t i = 1; i < kMany; ++i) {
      out.push_back(SpecRecord(prefix + std::to_string(i), "select 1", deployment));
    }
    return out;
  }

  // spec-store's word that it has deployment `id` whole and sent `specs` spec records for it.
  static bus::Message StoredRecord(const std::string& id, int64_t specs,
                                   const std::string& batch = "", int32_t size = 0) {
    events::v1::DeploymentStored r;
    r.set_deployment_id(id);
    r.set_project("p");
    r.set_namespace_("ns");
    r.set_job_specs(specs);
    r.set_batch_id(batch);
    r.set_batch_size(size);
    return bus::Message{pipeline::kStoredTopic, id, r.SerializeAsString()};
  }

  // Applies `messages` as one consumer batch: one transaction, one Flush.
  absl::Status Batch(const std::vector<bus::Message>& messages) {
    return db_->InTransaction([&](store::Transaction& tx) -> absl::Status {
      for (const auto& m : messages) {
        if (absl::Status s = resolver_.Apply(tx, outbox_, m); !s.ok()) return s;
      }
      return resolver_.Flush(tx, outbox_);
    });
  }

  std::vector<Emitted> Drain() {
    auto rows = db_->Execute(
        "SELECT topic, msg_key, tombstone, payload FROM outbox WHERE id > $1 ORDER BY id", {last_});
    std::vector<Emitted> out;
    for (const auto& r : rows->rows) {
      Emitted e{r.Text(0), r.Text(1), r.Int(2) != 0, {}, {}};
      if (e.topic == pipeline::kResolutionsTopic) e.resolution.ParseFromString(r.Text(3));
      if (e.topic == pipeline::kProgressTopic) e.progress.ParseFromString(r.Text(3));
      out.push_back(e);
    }
    last_ = db_->Execute("SELECT COALESCE(MAX(id), 0) FROM outbox")->rows[0].Int(0);
    return out;
  }

  // The last resolution of `key` and the last progress of job `name` in `out`.
  static events::v1::JobResolution ResolutionOf(const std::vector<Emitted>& out,
                                                const std::string& key) {
    events::v1::JobResolution r;
    for (const auto& e : out) {
      if (e.topic == pipeline::kResolutionsTopic && e.key == key) r = e.resolution;
    }
    return r;
  }
  static events::v1::DeploymentProgress ProgressOf(const std::vector<Emitted>& out,
                                                   const std::string& name) {
    events::v1::DeploymentProgress p;
    for (const auto& e : out) {
      if (e.topic == pipeline::kProgressTopic && e.progress.job_name() == name) p = e.progress;
    }
    return p;
  }

  static std::vector<std::string> Resolved(const std::vector<Emitted>& out) {
    std::vector<std::string> keys;
    for (const auto& e : out) {
      if (e.topic == pipeline::kResolutionsTopic) keys.push_back(e.key + (e.tombstone ? "-" : ""));
    }
    return keys;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
  store::Outbox outbox_{"optimus/dependency-resolver"};
  Resolver resolver_;
  int64_t last_ = 0;
};

TEST_F(ResolverTest, InfersUpstreamsAndCascadesOnlyWhenTheyChange) {
  Plugin(kPlugin);
  Project();
  Drain();
  Job("a", 1, Spec("a"), "select * from `raw.r.x`");
  Job("b", 1, Spec("b"), "select * from `acme.d.a` join acme.d.zz using (k)");
  auto out = Drain();
  ASSERT_THAT(Resolved(out), ElementsAre("p/a", "p/b"));
  EXPECT_THAT(ResolutionOf(out, "p/a").unknown_sources(), ElementsAre("bigquery://raw:r.x"));
  const auto b = ResolutionOf(out, "p/b");
  ASSERT_EQ(b.upstreams_size(), 1);
  EXPECT_EQ(b.upstreams(0).name(), "a");
  EXPECT_EQ(b.upstreams(0).via(), "bigquery://acme:d.a");
  EXPECT_EQ(b.destination(), "bigquery://acme:d.b");
  EXPECT_THAT(b.unknown_sources(), ElementsAre("bigquery://acme:d.zz"));
  EXPECT_EQ(b.error(), "");
  EXPECT_EQ(ProgressOf(out, "b").stage(), events::v1::STAGE_RESOLVED);
  EXPECT_FALSE(ProgressOf(out, "b").cascaded());

  // New SQL, same tables written: a alone.
  Job("a", 2, Spec("a"), "select x from `raw.r.x`", "d2");
  EXPECT_THAT(Resolved(Drain()), ElementsAre("p/a"));
  // a writes another table: b loses its upstream and is resolved again, as cascaded.
  Job("a", 3, Spec("a2"), "select x from `raw.r.x`", "d3");
  out = Drain();
  EXPECT_THAT(Resolved(out), ElementsAre("p/a", "p/b"));
  EXPECT_EQ(ResolutionOf(out, "p/b").upstreams_size(), 0);
  EXPECT_TRUE(ProgressOf(out, "b").cascaded());
  EXPECT_EQ(ProgressOf(out, "b").deployment_id(), "d3");
  // Progress goes out before the resolutions it belongs to.
  EXPECT_EQ(out.front().topic, pipeline::kProgressTopic);
  // A late, older version changes nothing.
  Job("a", 1, Spec("a"), "select 1");
  EXPECT_THAT(Resolved(Drain()), IsEmpty());
}

TEST_F(ResolverTest, PriorityFallsWithLocalUpstreamsAndASharedDestinationWarns) {
  Plugin(kPlugin);
  Project();
  Drain();
  Job("a", 1, Spec("a"), "select 1");
  Job("b", 1, Spec("b"), "select 1");
  Job("c", 1, Spec("c"), "select * from `acme.d.a` join `acme.d.b` using (k)");
  auto out = Drain();
  EXPECT_EQ(ResolutionOf(out, "p/c").priority_weight(), 10000 - 2 * 10);
  EXPECT_EQ(ProgressOf(out, "c").warning(), "");
  EXPECT_EQ(ResolutionOf(out, "p/a").priority_weight(), 10000);

  // A second writer of acme.d.c: both are told, neither fails.
  std::string yaml = Spec("c");
  yaml.replace(yaml.find("name: c"), 7, "name: c2");
  Job("c2", 1, yaml, "select 1", "d2");
  out = Drain();
  const auto c2 = ResolutionOf(out, "p/c2");
  EXPECT_EQ(c2.priority_weight(), 10000);
  EXPECT_THAT(c2.shared_destination(), ElementsAre("p/c"));
  EXPECT_EQ(ProgressOf(out, "c2").stage(), events::v1::STAGE_RESOLVED);
  EXPECT_EQ(ProgressOf(out, "c2").warning(),
            "bigquery://acme:d.c is also written by p/c; jobs reading it depend on all of its "
            "writers");
  EXPECT_THAT(ResolutionOf(out, "p/c").shared_destination(), ElementsAre("p/c2"));
  EXPECT_TRUE(ProgressOf(out, "c").cascaded());
  EXPECT_THAT(ProgressOf(out, "c").warning(), ::testing::HasSubstr("also written by p/c2"));

  // A dependency on a job of another project this server does not hold: resolved, with a
  // warning the deploy prints (issue 17: only `job inspect` said so).
  Job("d", 1, Spec("d", "dependencies:\n- job: elsewhere/upstream\n"), "select 1", "d3");
  out = Drain();
  EXPECT_EQ(ProgressOf(out, "d").stage(), events::v1::STAGE_RESOLVED);
  EXPECT_EQ(ProgressOf(out, "d").warning(),
            "dependencies elsewhere/upstream name no job on this server: no sensor waits for them");
}

TEST_F(ResolverTest, ACascadeIsCreditedToTheDeploymentOfItsCause) {
  Plugin(kPlugin);
  Project();
  Job("r", 1, Spec("r"), "select * from `acme.d.u`", "d_r");
  Drain();
  // One batch, two deployments: x's comes first, u's makes r resolve again.
  ASSERT_TRUE(Batch({SpecRecord("x", "select 1", "d_a"), SpecRecord("u", "select 1", "d_b")}).ok());
  const auto out = Drain();
  EXPECT_TRUE(ProgressOf(out, "r").cascaded());
  EXPECT_EQ(ProgressOf(out, "r").deployment_id(), "d_b");
  EXPECT_EQ(ResolutionOf(out, "p/r").deployment_id(), "d_b");
}

TEST_F(ResolverTest, DeletedJobsAreTombstonedAndTheirReadersResolvedAgain) {
  Plugin(kPlugin);
  Project();
  Job("a", 1, Spec("a"), "select 1");
  Job("b", 1, Spec("b"), "select * from acme.d.a");
  Drain();
  bus::Message gone{pipeline::kJobSpecsTopic, "p/a", ""};
  gone.tombstone = true;
  ASSERT_TRUE(Feed(gone).ok());
  EXPECT_THAT(Resolved(Drain()), ElementsAre("p/a-", "p/b"));
}

TEST_F(ResolverTest, ErrorsAreReportedAndClearWhenTheCauseIsFixed) {
  Project();
  Job("a", 1, Spec("a"), "select 1");
  auto out = Drain();
  ASSERT_THAT(Resolved(out), ElementsAre("p/a"));
  EXPECT_EQ(ResolutionOf(out, "p/a").error(),
            "unknown task plugin \"bq2bq\" (not installed on the server)");
  EXPECT_EQ(ProgressOf(out, "a").stage(), events::v1::STAGE_FAILED);
  Plugin(kPlugin);  // the plugin arrives: a resolves cleanly
  out = Drain();
  ASSERT_THAT(Resolved(out), ElementsAre("p/a"));
  EXPECT_EQ(ResolutionOf(out, "p/a").error(), "");

  Job("c", 1, Spec("c", "dependencies:\n- job: nowhere\n"), "select 1");
  out = Drain();
  // A dependency naming no job of the project: waiting, and no DAG for the compiler yet.
  EXPECT_THAT(Resolved(out), IsEmpty());
  EXPECT_EQ(ProgressOf(out, "c").stage(), events::v1::STAGE_WAITING);
  EXPECT_EQ(ProgressOf(out, "c").error(), "dependencies name no known job: nowhere");
  // The job appears: c resolves as a cascade of it.
  Job("nowhere", 1, Spec("nowhere"), "select 1", "d9");
  out = Drain();
  EXPECT_THAT(Resolved(out), ElementsAre("p/c", "p/nowhere"));
  EXPECT_EQ(ProgressOf(out, "c").stage(), events::v1::STAGE_RESOLVED);
  EXPECT_TRUE(ProgressOf(out, "c").cascaded());

  Job("x", 1, Spec("x"), "select * from acme.d.y");
  Job("y", 1, Spec("y"), "select * from acme.d.x");
  out = Drain();
  // x first resolves cleanly; y closes the cycle and both are resolved again, failed.
  EXPECT_THAT(Resolved(out), ElementsAre("p/x", "p/x", "p/y"));
  EXPECT_EQ(ProgressOf(out, "x").error(), "cyclic dependency: p/x -> p/y -> p/x");
  EXPECT_TRUE(ProgressOf(out, "x").cascaded());
  EXPECT_EQ(ProgressOf(out, "y").error(), "cyclic dependency: p/y -> p/x -> p/y");
}

TEST_F(ResolverTest, AReloadRebuildsTheSameGraph) {
  Plugin(kPlugin);
  Project();
  Job("a", 1, Spec("a"), "select 1");
  Job("b", 1, Spec("b"), "select * from acme.d.a");
  Resolver again;
  ASSERT_TRUE(again.Load(*db_).ok());
  EXPECT_EQ(again.graph().Resolve("p/b"), resolver_.graph().Resolve("p/b"));
  EXPECT_EQ(again.graph().size(), 2u);
}

TEST_F(ResolverTest, ABatchResolvesAJobAndItsUpstreamOnce) {
  Plugin(kPlugin);
  Project();
  Drain();
  // The reader first, its upstream second, in one transaction: no cascade, one resolution each.
  ASSERT_TRUE(Batch({SpecRecord("b", "select * from acme.d.a"), SpecRecord("a", "select 1")}).ok());
  auto out = Drain();
  EXPECT_THAT(Resolved(out), ElementsAre("p/a", "p/b"));
  EXPECT_EQ(ResolutionOf(out, "p/b").upstreams_size(), 1);
  EXPECT_FALSE(ProgressOf(out, "b").cascaded());
}

TEST_F(ResolverTest, DuringABacklogAReaderWaitsForItsWriterAndResolvesOnce) {
  Plugin(kPlugin);
  Project();
  Drain();
  // A full batch (a deploy streaming in): the reader of acme.d.writer plus filler jobs that
  // read nothing. The reader is held; the fillers go out.
  std::vector<bus::Message> first =
      Streaming(SpecRecord("reader", "select * from acme.d.writer"), "f");
  ASSERT_TRUE(Batch(first).ok());
  auto out = Drain();
  EXPECT_EQ(Resolved(out).size(), kMany - 1);
  EXPECT_EQ(ResolutionOf(out, "p/reader").name(), "");
  EXPECT_TRUE(resolver_.holding());
  // A crash now loses nothing: the held job is in the table.
  Resolver reloaded;
  ASSERT_TRUE(reloaded.Load(*db_).ok());
  EXPECT_TRUE(reloaded.holding());
  // The writer arrives in a small batch (the stream's tail): the reader goes out once, with
  // its upstream, under its own deployment, not as a cascade.
  ASSERT_TRUE(Batch({SpecRecord("writer", "select 2", "d2")}).ok());
  out = Drain();
  EXPECT_THAT(Resolved(out), ElementsAre("p/reader", "p/writer"));
  EXPECT_EQ(ResolutionOf(out, "p/reader").upstreams_size(), 1);
  EXPECT_EQ(ProgressOf(out, "reader").deployment_id(), "d1");
  EXPECT_FALSE(ProgressOf(out, "reader").cascaded());
  EXPECT_FALSE(resolver_.holding());
}

TEST_F(ResolverTest, ASmallBatchInTheStreamDoesNotReleaseHeldJobs) {
  Plugin(kPlugin);
  Project();
  Drain();
  std::vector<bus::Message> full =
      Streaming(SpecRecord("reader", "select * from acme.d.writer"), "f");
  ASSERT_TRUE(Batch(full).ok());
  Drain();
  // A few unrelated jobs between two large batches: they go out, the reader keeps waiting.
  ASSERT_TRUE(Batch({SpecRecord("other", "select 3", "d2")}).ok());
  auto out = Drain();
  EXPECT_THAT(Resolved(out), ElementsAre("p/other"));
  EXPECT_TRUE(resolver_.holding());
  // Its writer comes later in the stream: the reader is compiled once, with its upstream.
  ASSERT_TRUE(Batch({SpecRecord("writer", "select 2", "d3")}).ok());
  out = Drain();
  EXPECT_THAT(Resolved(out), ElementsAre("p/reader", "p/writer"));
  EXPECT_EQ(ResolutionOf(out, "p/reader").upstreams_size(), 1);
  EXPECT_FALSE(resolver_.holding());
}

TEST_F(ResolverTest, JobSpecsAreListedByProjectNamespaceAndName) {
  Plugin(kPlugin);
  Project();
  auto other = [](const std::string& project, const std::string& ns) {
    bus::Message m = SpecRecord("z", "select 1");
    events::v1::JobSpecRecord r;
    r.ParseFromString(m.payload);
    r.set_project(project);
    r.set_namespace_(ns);
    m.key = project + "/z";
    m.payload = r.SerializeAsString();
    return m;
  };
  // Projects whose names sort right before and after "p/" must not leak into p's list.
  ASSERT_TRUE(Batch({SpecRecord("a", "select * from acme.d.b"), SpecRecord("b", "select 1"),
                     other("p-x", "ns"), other("p0", "ns"), other("p", "ns2")})
                  .ok());
  auto names = [&](const std::string& project, const std::string& ns, const std::string& job) {
    core::v1::ListJobSpecsRequest request;
    request.set_project(project);
    request.set_namespace_(ns);
    request.set_job(job);
    std::vector<std::string> out;
    const core::v1::ListJobSpecsResponse found = resolver_.ListJobSpecs(request);
    for (const auto& j : found.jobs()) {
      out.push_back(j.project() + "/" + j.namespace_() + "/" + j.name());
    }
    return out;
  };
  EXPECT_THAT(names("p", "", ""), ElementsAre("p/ns/a", "p/ns/b", "p/ns2/z"));
  EXPECT_THAT(names("p", "ns", ""), ElementsAre("p/ns/a", "p/ns/b"));
  EXPECT_THAT(names("p", "", "b"), ElementsAre("p/ns/b"));
  EXPECT_THAT(names("", "", "z"), ElementsAre("p-x/ns/z", "p/ns2/z", "p0/ns/z"));  // by key
  EXPECT_THAT(names("q", "", ""), ElementsAre());
  // Page by page (issue 20, part 7: one answer for 5,000 jobs passed gRPC's 4 MiB).
  for (const std::string project : {"p", ""}) {
    core::v1::ListJobSpecsRequest paged;
    paged.set_project(project);
    paged.set_page_size(2);
    std::vector<std::string> seen;
    int pages = 0;
    do {
      const auto page = resolver_.ListJobSpecs(paged);
      ASSERT_LE(page.jobs_size(), 2);
      for (const auto& j : page.jobs()) seen.push_back(j.project() + "/" + j.name());
      paged.set_page_token(page.next_page_token());
      ASSERT_LT(++pages, 10);
    } while (!paged.page_token().empty());
    std::vector<std::string> whole;
    core::v1::ListJobSpecsRequest all;
    all.set_project(project);
    const auto listed = resolver_.ListJobSpecs(all);
    for (const auto& j : listed.jobs()) whole.push_back(j.project() + "/" + j.name());
    EXPECT_EQ(seen, whole) << "project " << project;
  }
  core::v1::ListJobSpecsRequest one;
  one.set_project("p");
  one.set_job("a");
  const auto a = resolver_.ListJobSpecs(one);
  ASSERT_EQ(a.jobs_size(), 1);
  EXPECT_EQ(a.jobs(0).assets().at("query.sql"), "select * from acme.d.b");
  EXPECT_EQ(a.jobs(0).destination(), "bigquery://acme:d.a");
  EXPECT_THAT(a.jobs(0).sources(), ElementsAre("bigquery://acme:d.b"));
}

TEST_F(ResolverTest, HeldJobsGoOutOnceTheirDeploymentIsStoredWhole) {
  Plugin(kPlugin);
  Project();
  Drain();
  std::vector<bus::Message> full =
      Streaming(SpecRecord("j0", "select * from acme.raw.events"), "j");
  ASSERT_TRUE(Batch(full).ok());
  EXPECT_EQ(ResolutionOf(Drain(), "p/j0").name(), "");
  // The input pausing releases nothing while the deployment's specs are still on their way.
  ASSERT_TRUE(
      db_->InTransaction([&](store::Transaction& tx) { return resolver_.Release(tx, outbox_); })
          .ok());
  EXPECT_THAT(Resolved(Drain()), IsEmpty());
  EXPECT_FALSE(resolver_.ReleaseDue());
  // spec-store sent one more; its count overtakes it.
  ASSERT_TRUE(Batch({StoredRecord("d1", kMany + 1)}).ok());
  EXPECT_THAT(Resolved(Drain()), IsEmpty());
  EXPECT_TRUE(resolver_.holding());
  // The last one: nothing more is coming, the held job goes with it at once.
  ASSERT_TRUE(Batch({SpecRecord("last", "select 1")}).ok());
  auto out = Drain();
  EXPECT_THAT(Resolved(out), UnorderedElementsAre("p/j0", "p/last"));
  EXPECT_THAT(ResolutionOf(out, "p/j0").unknown_sources(),
              ElementsAre("bigquery://acme:raw.events"));
  EXPECT_EQ(ProgressOf(out, "j0").deployment_id(), "d1");
  EXPECT_EQ(db_->Execute("SELECT COUNT(*) FROM held")->rows[0].Int(0), 0);
}

TEST_F(ResolverTest, HeldJobsWaitForTheRestOfTheirBatch) {
  Plugin(kPlugin);
  Project();
  Drain();
  // Namespace one of two: its reader waits for a writer that may be in namespace two.
  std::vector<bus::Message> first =
      Streaming(SpecRecord("reader", "select * from acme.d.writer"), "f");
  first.push_back(StoredRecord("d1", kMany, "b", 2));
  ASSERT_TRUE(Batch(first).ok());
  Drain();
  EXPECT_TRUE(resolver_.holding());
  EXPECT_FALSE(resolver_.ReleaseDue());
  // Namespace two brings the writer: the reader goes once, with its upstream.
  std::vector<bus::Message> second = Streaming(SpecRecord("writer", "select 2", "d2"), "g", "d2");
  second.push_back(StoredRecord("d2", kMany, "b", 2));
  ASSERT_TRUE(Batch(second).ok());
  auto out = Drain();
  EXPECT_EQ(ResolutionOf(out, "p/reader").upstreams_size(), 1);
  EXPECT_EQ(ProgressOf(out, "reader").deployment_id(), "d1");
  EXPECT_FALSE(resolver_.holding());
}

TEST_F(ResolverTest, AJobNoKnownJobWritesForGoesOutWhenTheBatchEnds) {
  Plugin(kPlugin);
  Project();
  Drain();
  std::vector<bus::Message> first =
      Streaming(SpecRecord("reader", "select * from acme.raw.events"), "f");
  first.push_back(StoredRecord("d1", kMany, "b", 2));
  ASSERT_TRUE(Batch(first).ok());
  Drain();
  EXPECT_TRUE(resolver_.holding());
  // The batch's other deployment changed nothing: no specs, only its count.
  ASSERT_TRUE(Batch({StoredRecord("d2", 0, "b", 2)}).ok());
  auto out = Drain();
  EXPECT_THAT(Resolved(out), ElementsAre("p/reader"));
  EXPECT_THAT(ResolutionOf(out, "p/reader").unknown_sources(),
              ElementsAre("bigquery://acme:raw.events"));
  EXPECT_FALSE(resolver_.holding());
}

TEST_F(ResolverTest, ADeploymentStillStreamingHoldsNobodyElsesJobs) {
  Plugin(kPlugin);
  Project();
  Drain();
  // d1 streams in and never says it is complete (its client is slow, or its count was lost).
  std::vector<bus::Message> first =
      Streaming(SpecRecord("reader", "select * from acme.d.writer"), "f");
  ASSERT_TRUE(Batch(first).ok());
  Drain();
  EXPECT_TRUE(resolver_.holding());
  // Meanwhile a one-job deployment of a job reading external data: it goes out at once.
  ASSERT_TRUE(
      Batch({SpecRecord("lone", "select * from acme.raw.events", "d2"), StoredRecord("d2", 1)})
          .ok());
  auto out = Drain();
  EXPECT_THAT(Resolved(out), ElementsAre("p/lone"));
  EXPECT_TRUE(resolver_.holding());  // d1's reader still waits for its writer
  EXPECT_FALSE(resolver_.ReleaseDue());
}

TEST_F(ResolverTest, ARestartMidDeployKeepsCountingTheDeploymentsRecords) {
  Plugin(kPlugin);
  Project();
  Drain();
  std::vector<bus::Message> first =
      Streaming(SpecRecord("j0", "select * from acme.raw.events"), "j");
  ASSERT_TRUE(Batch(first).ok());
  Drain();
  // The resolver restarts: what it had counted comes back from its table.
  Resolver restarted;
  ASSERT_TRUE(restarted.Load(*db_).ok());
  EXPECT_TRUE(restarted.holding());
  EXPECT_FALSE(restarted.ReleaseDue());
  absl::Status s = db_->InTransaction([&](store::Transaction& tx) -> absl::Status {
    for (const auto& m : {StoredRecord("d1", kMany + 1), SpecRecord("last", "select 1")}) {
      if (absl::Status applied = restarted.Apply(tx, outbox_, m); !applied.ok()) return applied;
    }
    return restarted.Flush(tx, outbox_);
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_THAT(Resolved(Drain()), UnorderedElementsAre("p/j0", "p/last"));
  EXPECT_FALSE(restarted.holding());
  EXPECT_EQ(db_->Execute("SELECT COUNT(*) FROM open_deployments")->rows[0].Int(0), 0);
}

TEST_F(ResolverTest, ACascadeHeldUnderItsCauseIsReportedToThatDeploymentAtOnce) {
  Plugin(kPlugin);
  Project();
  // Deployed alone earlier: a reader of a table no job writes yet, and of external data.
  Job("reader", 1, Spec("reader"), "select * from acme.d.writer join acme.raw.events using (id)",
      "d0");
  Drain();
  // d2 streams in with the writer: the reader is resolved again for d2, and held while d2's
  // specs are on their way (it still reads a table no job writes).
  ASSERT_TRUE(Batch(Streaming(SpecRecord("writer", "select 2", "d2"), "g", "d2")).ok());
  auto out = Drain();
  EXPECT_EQ(ResolutionOf(out, "p/reader").name(), "");
  EXPECT_TRUE(resolver_.holding());
  const events::v1::DeploymentProgress told = ProgressOf(out, "reader");
  EXPECT_EQ(told.deployment_id(), "d2");
  EXPECT_EQ(told.stage(), events::v1::STAGE_STORED);
  EXPECT_TRUE(told.cascaded());
  // Once d2 is whole the reader goes, still under d2.
  ASSERT_TRUE(Batch({StoredRecord("d2", kMany)}).ok());
  out = Drain();
  EXPECT_EQ(ResolutionOf(out, "p/reader").upstreams_size(), 1);
  EXPECT_EQ(ProgressOf(out, "reader").deployment_id(), "d2");
  EXPECT_EQ(ProgressOf(out, "reader").stage(), events::v1::STAGE_RESOLVED);
}

// A plugin's change resolves again (and so compiles again) the jobs that use it, as their task or
// a hook, and no others.
TEST_F(ResolverTest, APluginChangeResolvesOnlyTheJobsThatUseIt) {
  Plugin(kPlugin);
  auto audit = [&](const std::string& tag) {
    events::v1::PluginRecord p;
    p.set_name("audit");
    p.set_spec_yaml(
        "version: 2\nname: audit\nplugintype: hook\nhooktype: post\n"
        "plugin_versions:\n  default: {image: example/audit, tag: '" +
        tag + "', entrypoint: {script: audit}}\n");
    return Feed({pipeline::kPluginsTopic, "audit", p.SerializeAsString()});
  };
  ASSERT_TRUE(audit("1").ok());
  Project();
  Job("a", 1, Spec("a", "hooks:\n- name: audit\n"), "select 1");
  Job("b", 1, Spec("b"), "select 1");
  Job("c", 1, Spec("c", "hooks:\n- name: audit\n"), "select 1");
  Drain();
  ASSERT_TRUE(audit("2").ok());
  auto keys = Resolved(Drain());
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"p/a", "p/c"}));
  Plugin(std::string(kPlugin) + "default_config: {SQL_TYPE: STANDARD}\n");
  keys = Resolved(Drain());
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"p/a", "p/b", "p/c"}));
}

TEST_F(ResolverTest, AssetsInTheObjectStoreAreRead) {
  auto blob = blob::FileBlobStore::Open(dir_.path() / "blob");
  ASSERT_TRUE(blob.ok());
  const std::string big = "select * from `acme.d.a`\n" + std::string(300 * 1024, '-') + "\n";
  ASSERT_TRUE((*blob)->Put("assets/abc", big).ok());
  Resolver with_blob(blob->get());
  ASSERT_TRUE(with_blob.Load(*db_).ok());
  auto feed = [&](const bus::Message& m) {
    return db_->InTransaction([&](store::Transaction& tx) -> absl::Status {
      if (absl::Status s = with_blob.Apply(tx, outbox_, m); !s.ok()) return s;
      return with_blob.Flush(tx, outbox_);
    });
  };
  events::v1::PluginRecord plugin;
  plugin.set_name("bq2bq");
  plugin.set_spec_yaml(kPlugin);
  ASSERT_TRUE(feed({pipeline::kPluginsTopic, "bq2bq", plugin.SerializeAsString()}).ok());
  events::v1::ProjectRecord project;
  project.set_name("p");
  (*project.mutable_variables())["gcp_project"] = "acme";
  ASSERT_TRUE(feed({pipeline::kProjectsTopic, "p", project.SerializeAsString()}).ok());
  for (const std::string name : {"a", "b"}) {
    events::v1::JobSpecRecord r;
    r.set_project("p");
    r.set_namespace_("ns");
    r.set_name(name);
    r.set_version(1);
    r.set_spec_yaml(Spec(name));
    r.set_deployment_id("d1");
    auto* asset = r.add_assets();
    asset->set_name("query.sql");
    if (name == "b") {
      asset->set_blob_key("assets/abc");
    } else {
      asset->set_inline_("select 1");
    }
    ASSERT_TRUE(feed({pipeline::kJobSpecsTopic, "p/" + name, r.SerializeAsString()}).ok());
  }
  auto out = Drain();
  EXPECT_EQ(ResolutionOf(out, "p/b").upstreams_size(), 1);
  EXPECT_EQ(ResolutionOf(out, "p/b").error(), "");
  // Without the object store the job fails, saying why, instead of losing its upstream.
  events::v1::JobSpecRecord r;
  r.set_project("p");
  r.set_namespace_("ns");
  r.set_name("c");
  r.set_version(1);
  r.set_spec_yaml(Spec("c"));
  r.add_assets()->set_blob_key("assets/missing");
  r.mutable_assets(0)->set_name("query.sql");
  ASSERT_TRUE(feed({pipeline::kJobSpecsTopic, "p/c", r.SerializeAsString()}).ok());
  EXPECT_THAT(ResolutionOf(Drain(), "p/c").error(),
              ::testing::HasSubstr("cannot read asset query.sql from the object store"));
}

TEST_F(ResolverTest, LineageImpactAndDeletionChecks) {
  Plugin(kPlugin);
  Project();
  Job("a", 1, Spec("a"), "select 1");
  Job("b", 1, Spec("b"), "select * from acme.d.a");
  Job("c", 1, Spec("c"), "select * from acme.d.b join raw.r.x using (k)");
  auto lineage = resolver_.Lineage("p", "b");
  ASSERT_TRUE(lineage.ok()) << lineage.status();
  EXPECT_EQ(lineage->destination(), "bigquery://acme:d.b");
  ASSERT_EQ(lineage->upstreams_size(), 1);
  EXPECT_EQ(lineage->upstreams(0).name(), "a");
  ASSERT_EQ(lineage->downstreams_size(), 1);
  EXPECT_EQ(lineage->downstreams(0).name(), "c");
  EXPECT_EQ(lineage->downstreams(0).namespace_(), "ns");
  EXPECT_THAT(resolver_.Lineage("p", "c")->unknown_sources(), ElementsAre("bigquery://raw:r.x"));
  EXPECT_EQ(resolver_.Lineage("p", "nope").status().code(), absl::StatusCode::kNotFound);
  auto impact = resolver_.Impact("p", "a");
  ASSERT_TRUE(impact.ok());
  EXPECT_EQ(impact->jobs_size(), 2);

  core::v1::CheckDeletionRequest del;
  del.set_project("p");
  del.set_namespace_("ns");
  del.add_delete_jobs("b");
  auto answer = resolver_.CheckDeletion(del);
  ASSERT_EQ(answer.blocked_size(), 1);
  EXPECT_EQ(answer.blocked(0).job(), "b");
  EXPECT_THAT(answer.blocked(0).downstreams(), ElementsAre("p/c"));
  del.add_delete_jobs("c");  // deleting the reader too: both may go
  answer = resolver_.CheckDeletion(del);
  EXPECT_EQ(answer.blocked_size(), 0);
  EXPECT_THAT(answer.deletable(), ElementsAre("b", "c"));
  core::v1::CheckDeletionRequest replace;
  replace.set_project("p");
  replace.set_namespace_("ns");
  replace.set_replace_all(true);
  replace.add_keep_jobs("b");
  replace.add_keep_jobs("c");
  answer = resolver_.CheckDeletion(replace);  // a would go, but b reads it
  ASSERT_EQ(answer.blocked_size(), 1);
  EXPECT_EQ(answer.blocked(0).job(), "a");
  replace.set_namespace_("other");  // another namespace's jobs are never touched
  EXPECT_EQ(resolver_.CheckDeletion(replace).blocked_size(), 0);
  EXPECT_EQ(resolver_.CheckDeletion(replace).deletable_size(), 0);
  // Keeping only c: b stays because c reads it, and then a stays because b, kept, reads it
  // (issue 20, part 4: a was deleted from under b).
  replace.set_namespace_("ns");
  replace.clear_keep_jobs();
  replace.add_keep_jobs("c");
  answer = resolver_.CheckDeletion(replace);
  EXPECT_EQ(answer.deletable_size(), 0);
  ASSERT_EQ(answer.blocked_size(), 2);
  EXPECT_EQ(answer.blocked(0).job(), "a");
  EXPECT_THAT(answer.blocked(0).downstreams(), ElementsAre("p/b"));
  EXPECT_EQ(answer.blocked(1).job(), "b");
  EXPECT_THAT(answer.blocked(1).downstreams(), ElementsAre("p/c"));
  del.clear_delete_jobs();  // the same for an explicit delete of a and b
  del.add_delete_jobs("a");
  del.add_delete_jobs("b");
  EXPECT_EQ(resolver_.CheckDeletion(del).blocked_size(), 2);
  // A job reading the table it writes does not list it among its sources (issue 17), and a
  // JOIN ... USING (col) in its MERGE's source names no table.
  Job("m", 1, Spec("m"),
      "MERGE acme.d.m T USING (SELECT * FROM acme.d.m JOIN raw.r.z USING (id)) S ON T.id = S.id "
      "WHEN MATCHED THEN UPDATE SET v = S.v");
  auto merged = resolver_.Lineage("p", "m");
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_THAT(merged->sources(), ElementsAre("bigquery://raw:r.z"));
  EXPECT_THAT(merged->unknown_sources(), ElementsAre("bigquery://raw:r.z"));
}

TEST_F(ResolverTest, GarbageIsPoison) {
  EXPECT_TRUE(bus::IsPoison(Feed({pipeline::kJobSpecsTopic, "p/a", "\x08\xff\xff\xff"})));
  events::v1::JobSpecRecord wrong;
  wrong.set_project("p");
  wrong.set_name("other");
  EXPECT_TRUE(bus::IsPoison(Feed({pipeline::kJobSpecsTopic, "p/a", wrong.SerializeAsString()})));
}

}  // namespace
}  // namespace optimus::dependency_resolver
