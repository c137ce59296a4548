// optimus-compiler: renders each resolved job into an Airflow DAG and publishes it to the
// object store when (and only when) its content changed; removes DAGs of deleted jobs.
#include "optimus/compiler/compiler_service.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "optimus/blob/blob_store.h"
#include "optimus/config/config.h"
#include "optimus/events/v1/secrets.pb.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/spec/parallel_for.h"
#include "optimus/spec/stored_spec.h"
#include "optimus/telemetry/log.h"
#include "optimus/telemetry/metrics.h"

namespace optimus::compiler {
namespace {

using events::v1::Stage;
constexpr char kReporter[] = "optimus/compiler";

// A failed write to a project's own storage that waiting may fix (the batch is retried); any
// other failure (a bucket that does not exist, refused credentials) fails the project's jobs.
bool Transient(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
      return true;
    default:
      return false;
  }
}

const std::string* ConfigValue(const events::v1::ProjectRecord& project, std::string_view key) {
  for (const auto& [name, value] : project.config()) {
    if (absl::EqualsIgnoreCase(name, absl::string_view(key.data(), key.size()))) return &value;
  }
  return nullptr;
}

}  // namespace

absl::Status Compiler::Load(store::Database& db) {
  projects_.clear();
  plugins_.clear();
  auto projects = db.Execute("SELECT name, record FROM projects");
  if (!projects.ok()) return projects.status();
  for (const auto& r : projects->rows) projects_[r.Text(0)].ParseFromString(r.Text(1));
  storage_secrets_.clear();
  auto secrets = db.Execute("SELECT project, sealed FROM storage_secrets");
  if (!secrets.ok()) return secrets.status();
  for (const auto& r : secrets->rows) storage_secrets_[r.Text(0)] = r.Text(1);
  auto plugins = db.Execute("SELECT record FROM plugins");
  if (!plugins.ok()) return plugins.status();
  for (const auto& r : plugins->rows) {
    events::v1::PluginRecord record;
    record.ParseFromString(r.Text(0));
    if (auto p = pipeline::PluginFromRecord(record); p.ok()) plugins_[p->name] = *std::move(p);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Compiler::RootOf(const events::v1::ProjectRecord& project) const {
  if (!project_storage_) return std::string();
  const std::string* path = ConfigValue(project, "STORAGE_PATH");
  return StorageRoot(path == nullptr ? "" : *path);
}

absl::StatusOr<std::string> Compiler::StorageCredentials(const std::string& project) const {
  auto sealed = storage_secrets_.find(project);
  if (sealed == storage_secrets_.end()) return std::string();
  if (!box_) {
    return absl::FailedPreconditionError(
        "the project's STORAGE secret cannot be opened: secrets are off on the compiler (set "
        "secrets.app_key, the same as on ingest)");
  }
  auto opened = box_->Open(sealed->second);
  if (!opened.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the project's STORAGE secret does not open with the compiler's app key: ",
                     opened.status().message()));
  }
  return opened;
}

absl::StatusOr<blob::BlobStore*> Compiler::StoreOf(const std::string& project,
                                                   const std::string& root) {
  if (root.empty()) return stores_.Store(root, "");
  auto credentials = StorageCredentials(project);
  if (!credentials.ok()) return credentials.status();
  return stores_.Store(root, *credentials);
}

absl::Status Compiler::EnsureLib(store::Transaction& tx, const std::string& project, int major,
                                 const std::string& root, blob::BlobStore& store) {
  const std::string& lib = LibPy(major);
  const std::string digest = pipeline::Sha256Hex(lib);
  auto row = tx.Execute("SELECT sha256, root FROM libs WHERE project = $1", {project});
  if (!row.ok()) return row.status();
  if (!row->rows.empty() && row->rows[0].Text(0) == digest && row->rows[0].Text(1) == root) {
    return absl::OkStatus();
  }
  const std::string uri = DagUri(root, project, "dags/__lib.py");
  if (absl::Status s = store.PutUnsynced(DagKey(root, uri), lib); !s.ok()) return s;
  unsynced_ = true;
  return tx
      .Execute(
          "INSERT INTO libs (project, sha256, root) VALUES ($1, $2, $3) ON CONFLICT (project) DO "
          "UPDATE SET sha256 = excluded.sha256, root = excluded.root",
          {project, digest, root})
      .status();
}

void Compiler::Queue(const events::v1::JobResolution& r, bool report, std::string record) {
  const std::string key = pipeline::JobKey(r.project(), r.name());
  auto [it, inserted] = queued_.try_emplace(key);
  if (inserted) order_.push_back(key);
  // A later resolution of the same job in the batch supersedes the earlier one; every
  // deployment that asked about the job hears how it ended.
  it->second.resolution = r;
  if (!record.empty()) it->second.record = std::move(record);
  if (report && !r.deployment_id().empty()) it->second.report_to.insert(r.deployment_id());
}

void Compiler::Discard() {
  queued_.clear();
  order_.clear();
}

absl::Status Compiler::Flush(store::Transaction& tx, const store::Outbox& outbox) {
  if (order_.empty()) return absl::OkStatus();
  struct Work {
    const events::v1::JobResolution* r = nullptr;
    const std::set<std::string>* report_to = nullptr;
    const events::v1::ProjectRecord* project = nullptr;
    int major = 0;
    std::string key, uri, dag, digest, error, old_uri, root, old_root;
    blob::BlobStore* store = nullptr;
    bool write = false;
  };
  std::vector<Work> work;
  work.reserve(order_.size());
  for (const std::string& key : order_) {
    const Queued& q = queued_.at(key);
    Work w;
    w.r = &q.resolution;
    w.report_to = &q.report_to;
    w.key = key;
    if (!w.r->error().empty()) {
      w.error = w.r->error();  // the resolver said why; the old DAG stays
    } else if (auto p = projects_.find(w.r->project()); p == projects_.end()) {
      w.error = "project " + w.r->project() + " is not registered";
    } else {
      w.project = &p->second;
      auto major = AirflowMajor(w.project);
      auto root = RootOf(*w.project);
      if (!major.ok()) {
        w.error = std::string(major.status().message());
      } else if (!root.ok()) {
        w.error = std::string(root.status().message());
      } else {
        w.major = *major;
        w.root = *std::move(root);
      }
    }
    work.push_back(std::move(w));
  }
  // Each project's store, opened once (a project's own bucket may refuse: its jobs fail, with
  // the reason, and the other projects go on).
  std::map<std::string, absl::StatusOr<blob::BlobStore*>> stores;
  for (Work& w : work) {
    if (!w.error.empty()) continue;
    auto it = stores.find(w.r->project());
    if (it == stores.end())
      it = stores.emplace(w.r->project(), StoreOf(w.r->project(), w.root)).first;
    if (it->second.ok()) {
      w.store = *it->second;
    } else {
      w.error = std::string(it->second.status().message());
    }
  }
  // Rendering is pure and writing touches one object each: both run on the worker threads.
  spec::ParallelFor(work.size(), static_cast<size_t>(threads_), [&](size_t i) {
    Work& w = work[i];
    if (!w.error.empty()) return;
    auto dag = RenderDag(*w.r, w.project, plugins_, options_);
    if (!dag.ok()) {
      w.error = std::string(dag.status().message());
      return;
    }
    w.dag = *std::move(dag);
    w.digest = pipeline::Sha256Hex(w.dag);
    w.uri = DagUri(w.root, w.r->project(), DagPath(w.r->namespace_(), w.r->name()));
  });
  // The batch's bookkeeping in a few statements (a round trip per job would dominate on a
  // remote database): the resolutions kept for re-rendering, then what each DAG is now.
  std::vector<std::vector<store::Value>> kept;
  std::vector<store::Value> keys;
  for (const std::string& key : order_) {
    const Queued& q = queued_.at(key);
    if (!q.record.empty()) kept.push_back({key, q.resolution.project(), store::Blob{q.record}});
    keys.push_back(key);
  }
  if (absl::Status s = store::ExecuteValues(
          tx, "INSERT INTO resolutions (job_key, project, record)", kept,
          "ON CONFLICT (job_key) DO UPDATE SET project = excluded.project, record = "
          "excluded.record");
      !s.ok()) {
    return s;
  }
  auto current =
      store::ExecuteIn(tx, "SELECT job_key, uri, sha256, root FROM dags WHERE job_key", keys);
  if (!current.ok()) return current.status();
  struct Published {
    std::string uri, sha256, root;
  };
  std::map<std::string, Published> published;
  for (const auto& row : current->rows) {
    published[row.Text(0)] = {row.Text(1), row.Text(2), row.Text(3)};
  }
  std::map<std::string, const Work*> libs;  // by project: one of its jobs to write
  for (Work& w : work) {
    if (!w.error.empty()) continue;
    auto was = published.find(w.key);
    w.write = was == published.end() || was->second.uri != w.uri || was->second.sha256 != w.digest;
    if (was != published.end() && was->second.uri != w.uri) {
      w.old_uri = was->second.uri;
      w.old_root = was->second.root;
    }
    if (w.write) libs.emplace(w.r->project(), &w);
  }
  std::set<std::string> refused;  // projects whose own storage refused the lib
  for (const auto& [project, w] : libs) {
    absl::Status s = EnsureLib(tx, project, w->major, w->root, *w->store);
    if (s.ok()) continue;
    if (w->root.empty() || Transient(s)) return s;
    refused.insert(project);
    for (Work& each : work) {
      if (each.r->project() == project && each.write) {
        each.write = false;
        each.error =
            absl::StrCat("publishing to ", DagUri(w->root, project, ""), ": ", s.message());
      }
    }
  }
  // Deterministic content under a deterministic key: a retry after a crash writes the same
  // bytes again, so a DAG is never duplicated or half-published.
  std::vector<absl::Status> written(work.size());
  spec::ParallelFor(work.size(), static_cast<size_t>(threads_), [&](size_t i) {
    Work& w = work[i];
    if (w.write) written[i] = w.store->PutUnsynced(DagKey(w.root, w.uri), w.dag);
  });
  for (size_t i = 0; i < work.size(); ++i) {
    Work& w = work[i];
    if (!w.write || written[i].ok()) continue;
    if (w.root.empty() || Transient(written[i])) return written[i];
    w.write = false;
    w.error = absl::StrCat("publishing ", w.uri, ": ", written[i].message());
  }
  std::vector<bus::OutgoingMessage> out;
  std::vector<std::vector<store::Value>> dags;
  for (size_t i = 0; i < work.size(); ++i) {
    Work& w = work[i];
    const events::v1::JobResolution& r = *w.r;
    if (!w.error.empty()) {
      for (const std::string& deployment : *w.report_to) {
        out.push_back(pipeline::ProgressRecord(deployment, r.project(), r.namespace_(), r.name(),
                                               Stage::STAGE_FAILED, kReporter, w.error));
      }
      continue;
    }
    // optimus.dags says which spec version each published DAG is of: for a new DAG, and for a
    // deployment's version whose DAG came out the same (spec-store calls a job unchanged only
    // once the DAG of its version is published).
    if (w.write || !w.report_to->empty()) {
      if (w.write) {
        unsynced_ = true;
        if (!w.old_uri.empty()) {
          if (absl::Status s = DeleteDag(r.project(), w.old_root, w.old_uri); !s.ok()) return s;
        }
        dags.push_back({w.key, w.uri, w.digest, r.spec_version(), w.root});
      }
      events::v1::DagRecord record;
      record.set_project(r.project());
      record.set_namespace_(r.namespace_());
      record.set_name(r.name());
      record.set_uri(w.uri);
      record.set_sha256(w.digest);
      record.set_spec_version(r.spec_version());
      record.set_deployment_id(r.deployment_id());
      out.push_back(pipeline::ProtoRecord(pipeline::kDagsTopic, w.key, record));
    }
    for (const std::string& deployment : *w.report_to) {
      out.push_back(pipeline::ProgressRecord(deployment, r.project(), r.namespace_(), r.name(),
                                             Stage::STAGE_PUBLISHED, kReporter, "", false));
    }
  }
  if (absl::Status s = store::ExecuteValues(
          tx, "INSERT INTO dags (job_key, uri, sha256, spec_version, root)", dags,
          "ON CONFLICT (job_key) DO UPDATE SET uri = excluded.uri, sha256 = excluded.sha256, "
          "spec_version = excluded.spec_version, root = excluded.root");
      !s.ok()) {
    return s;
  }
  Discard();
  if (out.empty()) return absl::OkStatus();
  return outbox.EnqueueAll(tx, std::move(out));
}

absl::Status Compiler::DeleteDag(const std::string& project, const std::string& root,
                                 const std::string& uri) {
  auto store = StoreOf(project, root);
  absl::Status s = store.ok() ? (*store)->Delete(DagKey(root, uri)) : store.status();
  if (s.ok() || absl::IsNotFound(s)) return absl::OkStatus();
  if (root.empty() || Transient(s)) return s;
  // A project's former storage that refuses now (its credentials moved on with it): the file
  // stays there, and the log says so; the job itself is not held back for it.
  LOG_WARN("cannot delete a DAG from the project's former storage",
           {{"project", project}, {"uri", uri}, {"error", s}});
  return absl::OkStatus();
}

absl::Status Compiler::ApplySecret(store::Transaction& tx, const store::Outbox& outbox,
                                   const bus::Message& m) {
  // Optimus reads the project's STORAGE secret for its bucket; other secrets are not ours.
  std::optional<events::v1::SecretRecord> record;
  if (!m.tombstone) {
    auto parsed = pipeline::ParseRecord<events::v1::SecretRecord>(m);
    if (!parsed.ok()) return parsed.status();
    if (parsed->name() == "STORAGE" && parsed->namespace_().empty()) record = *std::move(parsed);
  }
  auto was = tx.Execute("SELECT project FROM storage_secrets WHERE secret_key = $1", {m.key});
  if (!was.ok()) return was.status();
  if (!record && was->rows.empty()) return absl::OkStatus();
  std::string project = record ? record->project() : was->rows[0].Text(0);
  absl::Status s =
      record ? tx.Execute(
                     "INSERT INTO storage_secrets (secret_key, project, sealed) VALUES ($1, "
                     "$2, $3) ON CONFLICT (secret_key) DO UPDATE SET project = "
                     "excluded.project, sealed = excluded.sealed",
                     {m.key, project, store::Blob{record->sealed()}})
                   .status()
             : tx.Execute("DELETE FROM storage_secrets WHERE secret_key = $1", {m.key}).status();
  if (!s.ok()) return s;
  if (record) {
    storage_secrets_[project] = record->sealed();
  } else {
    storage_secrets_.erase(project);
  }
  // DAGs that could not be published for want of the secret go out now.
  return Requeue(tx, outbox, project);
}

absl::Status Compiler::RequeueUsersOf(store::Transaction& tx, const store::Outbox& outbox,
                                      const std::string& plugin) {
  auto kept = tx.Execute("SELECT record FROM resolutions");
  if (!kept.ok()) return kept.status();
  for (const auto& row : kept->rows) {
    events::v1::JobResolution r;
    r.ParseFromString(row.Text(0));
    spec::Diagnostics diagnostics;
    auto job = spec::LoadStoredJobSpec(r.name() + "/job.yaml", r.spec_yaml(), diagnostics);
    if (!job) continue;
    bool uses = job->task.name == plugin;
    for (const auto& hook : job->hooks) uses |= hook.name == plugin;
    for (const auto& step : job->recipe) uses |= step.name == plugin;
    if (uses) Queue(r, false);
  }
  return Flush(tx, outbox);
}

absl::Status Compiler::Requeue(store::Transaction& tx, const store::Outbox& outbox,
                               const std::string& project) {
  auto kept = tx.Execute("SELECT record FROM resolutions WHERE project = $1", {project});
  if (!kept.ok()) return kept.status();
  for (const auto& row : kept->rows) {
    events::v1::JobResolution r;
    r.ParseFromString(row.Text(0));
    Queue(r, false);
  }
  return Flush(tx, outbox);
}

absl::Status Compiler::Remove(store::Transaction& tx, const store::Outbox& outbox,
                              const std::string& key, const std::string& deployment_id) {
  auto row = tx.Execute("SELECT uri, root FROM dags WHERE job_key = $1", {key});
  if (!row.ok()) return row.status();
  const std::string project = key.substr(0, key.find('/'));
  const std::string name = key.substr(key.find('/') + 1);
  std::vector<bus::OutgoingMessage> out;
  if (!row->rows.empty()) {
    const std::string uri = row->rows[0].Text(0);
    if (absl::Status s = DeleteDag(project, row->rows[0].Text(1), uri); !s.ok()) return s;
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
  if (absl::Status s = stores_.Sync(); !s.ok()) return s;
  unsynced_ = false;
  return absl::OkStatus();
}

absl::Status Compiler::Apply(store::Transaction& tx, const store::Outbox& outbox,
                             const bus::Message& m) {
  if ((m.topic != pipeline::kResolutionsTopic && m.topic != pipeline::kSecretsTopic) ||
      m.tombstone) {
    // Plugins and projects change how queued jobs render, and a deletion must follow them.
    if (absl::Status s = Flush(tx, outbox); !s.ok()) return s;
  }
  if (m.topic == pipeline::kPluginsTopic) {
    if (m.tombstone) return absl::OkStatus();
    auto record = pipeline::ParseRecord<events::v1::PluginRecord>(m);
    if (!record.ok()) return record.status();
    auto plugin = pipeline::PluginFromRecord(*record);
    if (!plugin.ok()) return plugin.status();
    auto before = tx.Execute("SELECT record FROM plugins WHERE name = $1", {plugin->name});
    if (!before.ok()) return before.status();
    const bool changed = !before->rows.empty() && before->rows[0].Text(0) != m.payload;
    plugins_[plugin->name] = *plugin;
    if (absl::Status s = pipeline::SaveRecord(tx, "plugins", "name", plugin->name, m.payload);
        !s.ok()) {
      return s;
    }
    // The jobs that use it, as their task, a hook or a recipe step, compile again (the
    // resolver sends them too, but its word may come before this record does).
    return changed ? RequeueUsersOf(tx, outbox, plugin->name) : absl::OkStatus();
  }
  if (m.topic == pipeline::kProjectsTopic) {
    if (m.tombstone) return absl::OkStatus();
    auto record = pipeline::ParseRecord<events::v1::ProjectRecord>(m);
    if (!record.ok()) return record.status();
    projects_[record->name()] = *record;
    if (absl::Status s = pipeline::SaveRecord(tx, "projects", "name", record->name(), m.payload);
        !s.ok()) {
      return s;
    }
    // The project's Airflow version, flags or storage_path may have changed: every DAG of it
    // again (only those whose bytes or place differ are written; a moved one leaves its old
    // place).
    return Requeue(tx, outbox, record->name());
  }
  if (m.topic == pipeline::kSecretsTopic) return ApplySecret(tx, outbox, m);
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
  Queue(*r, true, m.payload);
  return absl::OkStatus();
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
  schema.Add({.name = "compiler.threads",
              .type = config::Type::kInt,
              .default_value = "4",
              .description = "Threads that render and write the DAGs of a batch in parallel.",
              .min = 1,
              .max = 64});
  schema.Add({.name = "compiler.project_storage",
              .type = config::Type::kBool,
              .default_value = "true",
              .description = "Publish each project's DAGs where its storage_path says (file:///, "
                             "s3://, gs://; credentials from its STORAGE secret); false: all in "
                             "the server's blob store under <project>/."});
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
           "CREATE TABLE libs (project TEXT PRIMARY KEY, sha256 TEXT NOT NULL)"},
          {2, "DAGs in each project's storage",
           "ALTER TABLE dags ADD COLUMN root TEXT NOT NULL DEFAULT '';"
           "ALTER TABLE libs ADD COLUMN root TEXT NOT NULL DEFAULT '';"
           "CREATE TABLE storage_secrets (secret_key TEXT PRIMARY KEY, project TEXT NOT NULL, "
           "sealed ${BLOB} NOT NULL)"}};
}

absl::Status CompilerService::Start(app::Context& context) {
  if (absl::Status s = pipeline::EnsurePipelineTopics(context.bus); !s.ok()) return s;
  std::optional<secrets::SecretBox> box;
  if (!context.app_key.empty()) {
    auto made = secrets::SecretBox::FromAppKey(context.app_key);
    if (!made.ok()) return made.status();
    box = *std::move(made);
  }
  compiler_ = std::make_unique<Compiler>(
      context.blob,
      RenderOptions{.version = telemetry::BuildVersion(),
                    .runtime_host = context.config.String("compiler.runtime_host"),
                    .run_input_host = context.config.String("compiler.run_input_host"),
                    .init_image = context.config.String("compiler.init_image")},
      static_cast<int>(context.config.Int("compiler.threads")), std::move(box), DagStores::OpenRoot,
      context.config.Bool("compiler.project_storage"));
  if (absl::Status s = compiler_->Load(context.db); !s.ok()) return s;
  const store::Outbox& outbox = context.outbox;
  store::Database& db = context.db;
  worker_ = std::make_unique<pipeline::ConsumerWorker>(
      context.bus, context.db,
      pipeline::ConsumerWorker::Options{
          .group = "compiler",
          .topics = {pipeline::kPluginsTopic, pipeline::kProjectsTopic, pipeline::kResolutionsTopic,
                     pipeline::kSecretsTopic},
          .after_failure =
              [this, &db] {
                std::lock_guard<std::mutex> lock(mu_);
                compiler_->Discard();
                return compiler_->Load(db);
              },
          .before_commit =
              [this, &outbox](store::Transaction& tx) {
                std::lock_guard<std::mutex> lock(mu_);
                if (absl::Status s = compiler_->Flush(tx, outbox); !s.ok()) return s;
                return compiler_->SyncWrites();
              },
          // The server's own object store: while it is away (a restart, a network cut), the
          // records wait for it instead of being set aside. A project's own storage that refuses
          // still fails that project's jobs.
          .dependencies =
              [&blob = context.blob] {
                auto listed = blob.List("optimus-health-probe/");
                return listed.ok() || absl::IsNotFound(listed.status()) ? absl::OkStatus()
                                                                        : listed.status();
              },
          .on_dead_letter =
              [&db, &outbox](const bus::Message& m, const absl::Status& error) {
                pipeline::ReportSetAside(db, outbox, m, error, kReporter);
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
