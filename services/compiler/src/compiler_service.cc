// optimus-compiler: renders each resolved job into an Airflow DAG and publishes it to the
// object store when (and only when) its content changed; removes DAGs of deleted jobs.
#include "optimus/compiler/compiler_service.h"

#include "absl/strings/str_cat.h"
#include "optimus/blob/blob_store.h"
#include "optimus/config/config.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/telemetry/log.h"
#include "optimus/telemetry/metrics.h"

namespace optimus::compiler {
namespace {

using events::v1::Stage;
constexpr char kReporter[] = "optimus/compiler";

std::string ObjectKey(const std::string& project, const std::string& dag_path) {
  return absl::StrCat(project, "/", dag_path);
}

}  // namespace

absl::Status Compiler::Load(store::Database& db) {
  projects_.clear();
  plugins_.clear();
  auto projects = db.Execute("SELECT name, record FROM projects");
  if (!projects.ok()) return projects.status();
  for (const auto& r : projects->rows) projects_[r.Text(0)].ParseFromString(r.Text(1));
  auto plugins = db.Execute("SELECT record FROM plugins");
  if (!plugins.ok()) return plugins.status();
  for (const auto& r : plugins->rows) {
    events::v1::PluginRecord record;
    record.ParseFromString(r.Text(0));
    if (auto p = pipeline::PluginFromRecord(record); p.ok()) plugins_[p->name] = *std::move(p);
  }
  return absl::OkStatus();
}

absl::Status Compiler::EnsureLib(store::Transaction& tx, const std::string& project, int major) {
  const std::string& lib = LibPy(major);
  const std::string digest = pipeline::Sha256Hex(lib);
  auto row = tx.Execute("SELECT sha256 FROM libs WHERE project = $1", {project});
  if (!row.ok()) return row.status();
  if (!row->rows.empty() && row->rows[0].Text(0) == digest) return absl::OkStatus();
  if (absl::Status s = blob_.PutUnsynced(ObjectKey(project, "dags/__lib.py"), lib); !s.ok()) {
    return s;
  }
  unsynced_ = true;
  return tx
      .Execute(
          "INSERT INTO libs (project, sha256) VALUES ($1, $2) ON CONFLICT (project) DO UPDATE "
          "SET sha256 = excluded.sha256",
          {project, digest})
      .status();
}

absl::Status Compiler::Compile(store::Transaction& tx, const store::Outbox& outbox,
                               const events::v1::JobResolution& r, bool report) {
  const std::string key = pipeline::JobKey(r.project(), r.name());
  const std::string& deployment = r.deployment_id();
  auto fail = [&](const std::string& error) -> absl::Status {
    if (!report || deployment.empty()) return absl::OkStatus();
    return outbox.Enqueue(
        tx, pipeline::ProgressRecord(deployment, r.project(), r.namespace_(), r.name(),
                                     Stage::STAGE_FAILED, kReporter, error));
  };
  // Kept for re-rendering when the project or a plugin changes.
  auto kept = tx.Execute(
      "INSERT INTO resolutions (job_key, project, record) VALUES ($1, $2, $3) ON CONFLICT "
      "(job_key) DO UPDATE SET project = excluded.project, record = excluded.record",
      {key, r.project(), store::Blob{r.SerializeAsString()}});
  if (!kept.ok()) return kept.status();
  if (!r.error().empty()) return fail(r.error());  // the resolver said why; the old DAG stays
  auto project = projects_.find(r.project());
  const events::v1::ProjectRecord* p = project == projects_.end() ? nullptr : &project->second;
  if (p == nullptr) return fail("project " + r.project() + " is not registered");
  auto major = AirflowMajor(p);
  if (!major.ok()) return fail(std::string(major.status().message()));
  auto dag = RenderDag(r, p, plugins_, options_);
  if (!dag.ok()) return fail(std::string(dag.status().message()));
  const std::string digest = pipeline::Sha256Hex(*dag);
  const std::string uri = ObjectKey(r.project(), DagPath(r.namespace_(), r.name()));
  auto row = tx.Execute("SELECT uri, sha256 FROM dags WHERE job_key = $1", {key});
  if (!row.ok()) return row.status();
  const bool same =
      !row->rows.empty() && row->rows[0].Text(0) == uri && row->rows[0].Text(1) == digest;
  std::vector<bus::OutgoingMessage> out;
  if (!same) {
    if (absl::Status s = EnsureLib(tx, r.project(), *major); !s.ok()) return s;
    // Deterministic content under a deterministic key: a retry after a crash writes the same
    // bytes again, so a DAG is never duplicated or half-published.
    if (absl::Status s = blob_.PutUnsynced(uri, *dag); !s.ok()) return s;
    unsynced_ = true;
    if (!row->rows.empty() && row->rows[0].Text(0) != uri) {
      if (absl::Status s = blob_.Delete(row->rows[0].Text(0)); !s.ok() && !absl::IsNotFound(s)) {
        return s;
      }
    }
    auto saved = tx.Execute(
        "INSERT INTO dags (job_key, uri, sha256, spec_version) VALUES ($1, $2, $3, $4) ON "
        "CONFLICT (job_key) DO UPDATE SET uri = excluded.uri, sha256 = excluded.sha256, "
        "spec_version = excluded.spec_version",
        {key, uri, digest, r.spec_version()});
    if (!saved.ok()) return saved.status();
    events::v1::DagRecord record;
    record.set_project(r.project());
    record.set_namespace_(r.namespace_());
    record.set_name(r.name());
    record.set_uri(uri);
    record.set_sha256(digest);
    record.set_spec_version(r.spec_version());
    record.set_deployment_id(deployment);
    out.push_back(pipeline::ProtoRecord(pipeline::kDagsTopic, key, record));
  }
  if (report && !deployment.empty()) {
    out.push_back(pipeline::ProgressRecord(deployment, r.project(), r.namespace_(), r.name(),
                                           Stage::STAGE_PUBLISHED, kReporter, "", false));
  }
  if (out.empty()) return absl::OkStatus();
  return outbox.EnqueueAll(tx, std::move(out));
}

absl::Status Compiler::Remove(store::Transaction& tx, const store::Outbox& outbox,
                              const std::string& key, const std::string& deployment_id) {
  auto row = tx.Execute("SELECT uri FROM dags WHERE job_key = $1", {key});
  if (!row.ok()) return row.status();
  const std::string project = key.substr(0, key.find('/'));
  const std::string name = key.substr(key.find('/') + 1);
  std::vector<bus::OutgoingMessage> out;
  if (!row->rows.empty()) {
    const std::string uri = row->rows[0].Text(0);
    if (absl::Status s = blob_.Delete(uri); !s.ok() && !absl::IsNotFound(s)) return s;
    unsynced_ = true;
    for (const char* table :
         {"DELETE FROM dags WHERE job_key = $1", "DELETE FROM resolutions WHERE job_key = $1"}) {
      if (auto done = tx.Execute(table, {key}); !done.ok()) return done.status();
    }
    events::v1::DagRecord record;
    record.set_project(project);
    record.set_name(name);
    record.set_uri(uri);
    record.set_removed(true);
    record.set_deployment_id(deployment_id);
    out.push_back(pipeline::ProtoRecord(pipeline::kDagsTopic, key, record));
  }
  if (!deployment_id.empty()) {
    out.push_back(pipeline::ProgressRecord(deployment_id, project, "", name, Stage::STAGE_DELETED,
                                           kReporter));
  }
  if (out.empty()) return absl::OkStatus();
  return outbox.EnqueueAll(tx, std::move(out));
}

absl::Status Compiler::SyncWrites() {
  if (!unsynced_) return absl::OkStatus();
  if (absl::Status s = blob_.Sync(); !s.ok()) return s;
  unsynced_ = false;
  return absl::OkStatus();
}

absl::Status Compiler::Apply(store::Transaction& tx, const store::Outbox& outbox,
                             const bus::Message& m) {
  if (m.topic == pipeline::kPluginsTopic) {
    if (m.tombstone) return absl::OkStatus();
    auto record = pipeline::ParseRecord<events::v1::PluginRecord>(m);
    if (!record.ok()) return record.status();
    auto plugin = pipeline::PluginFromRecord(*record);
    if (!plugin.ok()) return plugin.status();
    plugins_[plugin->name] = *plugin;
    return tx
        .Execute(
            "INSERT INTO plugins (name, record) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET "
            "record = excluded.record",
            {plugin->name, store::Blob{m.payload}})
        .status();
  }
  if (m.topic == pipeline::kProjectsTopic) {
    if (m.tombstone) return absl::OkStatus();
    auto record = pipeline::ParseRecord<events::v1::ProjectRecord>(m);
    if (!record.ok()) return record.status();
    projects_[record->name()] = *record;
    auto saved = tx.Execute(
        "INSERT INTO projects (name, record) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET "
        "record = excluded.record",
        {record->name(), store::Blob{m.payload}});
    if (!saved.ok()) return saved.status();
    // The project's Airflow version or flags may have changed: every DAG of it again (only
    // those whose bytes differ are written).
    auto kept = tx.Execute("SELECT record FROM resolutions WHERE project = $1", {record->name()});
    if (!kept.ok()) return kept.status();
    for (const auto& row : kept->rows) {
      events::v1::JobResolution r;
      r.ParseFromString(row.Text(0));
      if (absl::Status s = Compile(tx, outbox, r, false); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  if (m.topic != pipeline::kResolutionsTopic) {
    return absl::InvalidArgumentError("unexpected topic " + m.topic);
  }
  if (m.tombstone) {
    return Remove(tx, outbox, m.key, m.HeaderValue(pipeline::kDeploymentHeader).value_or(""));
  }
  auto r = pipeline::ParseRecord<events::v1::JobResolution>(m);
  if (!r.ok()) return r.status();
  if (pipeline::JobKey(r->project(), r->name()) != m.key) {
    return absl::InvalidArgumentError("resolution keyed " + m.key + " is for another job");
  }
  return Compile(tx, outbox, *r, true);
}

CompilerService::CompilerService() = default;
CompilerService::~CompilerService() = default;

config::Schema CompilerService::ConfigSchema() const {
  config::Schema schema;
  schema.Add({.name = "compiler.runtime_host",
              .default_value = "http://localhost:8080",
              .description = "Base URL of runtime-context that compiled DAGs call (sensors, "
                             "job events)."});
  schema.Add({.name = "compiler.run_input_host",
              .default_value = "localhost:9100",
              .description = "gRPC host:port the task pods' init container asks for run input."});
  schema.Add({.name = "compiler.init_image",
              .default_value = "optimus/optimus:" + telemetry::BuildVersion(),
              .description = "Image of the init container that runs `optimus job run-input`."});
  return schema;
}

std::vector<store::Migration> CompilerService::Migrations() const {
  return {{1, "published DAGs",
           "CREATE TABLE projects (name TEXT PRIMARY KEY, record ${BLOB} NOT NULL);"
           "CREATE TABLE plugins (name TEXT PRIMARY KEY, record ${BLOB} NOT NULL);"
           "CREATE TABLE resolutions (job_key TEXT PRIMARY KEY, project TEXT NOT NULL, "
           "record ${BLOB} NOT NULL);"
           "CREATE INDEX resolutions_by_project ON resolutions (project);"
           "CREATE TABLE dags (job_key TEXT PRIMARY KEY, uri TEXT NOT NULL, sha256 TEXT NOT "
           "NULL, spec_version BIGINT NOT NULL);"
           "CREATE TABLE libs (project TEXT PRIMARY KEY, sha256 TEXT NOT NULL)"}};
}

absl::Status CompilerService::Start(app::Context& context) {
  if (absl::Status s = pipeline::EnsurePipelineTopics(context.bus); !s.ok()) return s;
  compiler_ = std::make_unique<Compiler>(
      context.blob,
      RenderOptions{.version = telemetry::BuildVersion(),
                    .runtime_host = context.config.String("compiler.runtime_host"),
                    .run_input_host = context.config.String("compiler.run_input_host"),
                    .init_image = context.config.String("compiler.init_image")});
  if (absl::Status s = compiler_->Load(context.db); !s.ok()) return s;
  const store::Outbox& outbox = context.outbox;
  store::Database& db = context.db;
  worker_ = std::make_unique<pipeline::ConsumerWorker>(
      context.bus, context.db,
      pipeline::ConsumerWorker::Options{
          .group = "compiler",
          .topics = {pipeline::kPluginsTopic, pipeline::kProjectsTopic,
                     pipeline::kResolutionsTopic},
          .after_failure =
              [this, &db] {
                std::lock_guard<std::mutex> lock(mu_);
                if (absl::Status s = compiler_->Load(db); !s.ok()) {
                  LOG_ERROR("cannot reload the compiler's state", {{"error", s}});
                }
              },
          .before_commit =
              [this](store::Transaction&) {
                std::lock_guard<std::mutex> lock(mu_);
                return compiler_->SyncWrites();
              }},
      [this, &outbox](store::Transaction& tx, const bus::Message& m) {
        std::lock_guard<std::mutex> lock(mu_);
        return compiler_->Apply(tx, outbox, m);
      });
  return worker_->Start();
}

void CompilerService::Stop() {
  if (worker_) worker_->Stop();
}

}  // namespace optimus::compiler
