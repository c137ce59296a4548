// optimus-spec-store: the store of record for projects and job specs. It consumes submissions,
// keeps one row per job (content hash, version, the JobSpecRecord) and publishes changes
// through its outbox, in the same transaction as the rows.
#include "optimus/spec_store/spec_store_service.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "optimus/events/v1/jobs.pb.h"
#include "optimus/pipeline/change_events.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/parallel_for.h"
#include "optimus/telemetry/log.h"

namespace optimus::spec_store {
namespace {

using events::v1::Stage;
constexpr char kReporter[] = "optimus/spec-store";

std::string ContentHash(const events::v1::JobSubmission& job) {
  std::string text = job.namespace_() + "\n" + job.spec_yaml();
  std::vector<std::pair<std::string, std::string>> assets;
  for (const auto& a : job.assets()) {
    const std::string digest = a.sha256().empty() ? pipeline::Sha256Hex(a.inline_()) : a.sha256();
    assets.emplace_back(a.name(), digest);
  }
  std::sort(assets.begin(), assets.end());
  for (const auto& [name, digest] : assets) absl::StrAppend(&text, "\n", name, "=", digest);
  return pipeline::Sha256Hex(text);
}

// A job spec record's spec, or nothing when it does not load (ingest checked it; an older
// version may predate a check).
std::optional<spec::JobSpec> SpecOf(const events::v1::JobSpecRecord& record) {
  spec::Diagnostics ignored;
  return spec::LoadJobSpec(record.name() + "/job.yaml", record.spec_yaml(), ignored);
}

// Optimus's change events for the job versions a batch stores, in order: JOB_CREATE for a job
// new (or deleted) before, JOB_UPDATE with the change's impact otherwise. `existing` holds the
// jobs stored before the batch, whose old records are read from `tx` here.
absl::StatusOr<std::vector<bus::OutgoingMessage>> ChangeEvents(
    store::Transaction& tx, const std::set<std::pair<std::string, std::string>>& existing,
    const std::vector<events::v1::JobSpecRecord>& stored) {
  using Key = std::pair<std::string, std::string>;
  std::map<std::string, std::vector<store::Value>> names;  // by project
  for (const auto& r : stored) {
    if (existing.count({r.project(), r.name()}) > 0) names[r.project()].push_back(r.name());
  }
  std::map<Key, events::v1::JobSpecRecord> before;
  for (const auto& [project, in_project] : names) {
    auto rows = store::ExecuteIn(tx, "SELECT name, record FROM jobs WHERE project = $1 AND name",
                                 in_project, "", {project});
    if (!rows.ok()) return rows.status();
    for (const auto& row : rows->rows) before[{project, row.Text(0)}].ParseFromString(row.Text(1));
  }
  // Loading specs is the costly part: on every core.
  std::vector<std::optional<spec::JobSpec>> after(stored.size());
  spec::ParallelFor(stored.size(), std::max(1u, std::thread::hardware_concurrency()),
                    [&](size_t i) { after[i] = SpecOf(stored[i]); });
  std::vector<bus::OutgoingMessage> out;
  for (size_t i = 0; i < stored.size(); ++i) {
    const auto& record = stored[i];
    const spec::StringMap assets = pipeline::InlineAssets(record);
    const spec::JobSpec* job = after[i] ? &*after[i] : nullptr;
    auto old = before.find({record.project(), record.name()});
    if (old == before.end()) {
      out.push_back(pipeline::JobChangeRecord(
          pipeline::OptimusChangeEvent::EVENT_TYPE_JOB_CREATE, record.project(),
          record.namespace_(), record.name(), job, assets,
          pipeline::ChangeImpact::CHANGE_IMPACT_TYPE_UNSPECIFIED));
    } else {
      const std::optional<spec::JobSpec> was = SpecOf(old->second);
      const pipeline::ChangeImpact impact =
          was && job ? pipeline::ImpactOf(*was, pipeline::InlineAssets(old->second), *job, assets)
                     : pipeline::ChangeImpact::CHANGE_IMPACT_TYPE_BEHAVIOUR;
      out.push_back(pipeline::JobChangeRecord(pipeline::OptimusChangeEvent::EVENT_TYPE_JOB_UPDATE,
                                              record.project(), record.namespace_(), record.name(),
                                              job, assets, impact));
    }
    before[{record.project(), record.name()}] = record;  // a second version compares to this
  }
  return out;
}

// Stores a batch of job submissions in a few statements: a new version only when a job's
// content hash changed. Submissions apply in order (a job twice in the batch gets two
// versions, the second stored).
absl::Status StoreJobs(store::Transaction& tx, const store::Outbox& outbox,
                       const std::vector<events::v1::JobSubmission>& jobs, bool changes) {
  struct Current {
    int64_t version = 0;
    std::string hash;
    bool deleted = false;
    int64_t published = 0;  // the spec version whose DAG is published
  };
  using Key = std::pair<std::string, std::string>;  // project, job
  std::map<Key, Current> current;
  std::map<std::string, std::vector<store::Value>> names;  // by project
  for (const auto& job : jobs) names[job.project()].push_back(job.job_name());
  for (const auto& [project, in_project] : names) {
    auto rows = store::ExecuteIn(
        tx,
        "SELECT name, version, content_hash, deleted, published_version FROM jobs WHERE project = "
        "$1 AND name",
        in_project, "", {project});
    if (!rows.ok()) return rows.status();
    for (const auto& r : rows->rows) {
      current[{project, r.Text(0)}] = Current{r.Int(1), r.Text(2), r.Int(3) != 0, r.Int(4)};
    }
  }
  std::set<Key> current_before;  // jobs stored and not deleted before this batch
  for (const auto& [key, c] : current) {
    if (!c.deleted) current_before.insert(key);
  }
  std::vector<bus::OutgoingMessage> out;
  std::map<Key, std::vector<store::Value>> rows;  // the last version of each job
  std::vector<events::v1::JobSpecRecord> stored;  // in order, for the change events
  for (const auto& job : jobs) {
    const std::string hash = ContentHash(job);
    const Key key{job.project(), job.job_name()};
    auto it = current.find(key);
    // Unchanged means the DAG of this version is published. A version stored but not published
    // yet (the server stopped before its compiler got to it) goes down the pipeline again for
    // this deployment, which then hears when it is.
    if (it != current.end() && it->second.hash == hash && !it->second.deleted &&
        it->second.published >= it->second.version) {
      out.push_back(pipeline::ProgressRecord(job.deployment_id(), job.project(), job.namespace_(),
                                             job.job_name(), Stage::STAGE_UNCHANGED, kReporter));
      continue;
    }
    const int64_t version = it == current.end() ? 1 : it->second.version + 1;
    const int64_t published = it == current.end() ? 0 : it->second.published;
    current[key] = Current{version, hash, false, published};
    events::v1::JobSpecRecord record;
    record.set_project(job.project());
    record.set_namespace_(job.namespace_());
    record.set_name(job.job_name());
    record.set_version(version);
    record.set_content_hash(hash);
    record.set_spec_yaml(job.spec_yaml());
    *record.mutable_assets() = job.assets();
    record.set_deployment_id(job.deployment_id());
    rows[key] = {job.project(),
                 job.job_name(),
                 job.namespace_(),
                 version,
                 hash,
                 int64_t{0},
                 store::Blob{record.SerializeAsString()},
                 job.deployment_id()};
    out.push_back(pipeline::ProtoRecord(pipeline::kJobSpecsTopic,
                                        pipeline::JobKey(job.project(), job.job_name()), record));
    out.push_back(pipeline::ProgressRecord(job.deployment_id(), job.project(), job.namespace_(),
                                           job.job_name(), Stage::STAGE_STORED, kReporter));
    if (changes) stored.push_back(std::move(record));
  }
  if (!stored.empty()) {
    // Read before the new versions overwrite them.
    auto events = ChangeEvents(tx, current_before, stored);
    if (!events.ok()) return events.status();
    for (auto& e : *events) out.push_back(std::move(e));
  }
  std::vector<std::vector<store::Value>> values;
  values.reserve(rows.size());
  for (auto& [key, row] : rows) values.push_back(std::move(row));
  if (absl::Status s = store::ExecuteValues(
          tx,
          "INSERT INTO jobs (project, name, namespace, version, content_hash, deleted, record, "
          "deployment_id)",
          values,
          "ON CONFLICT (project, name) DO UPDATE SET namespace = excluded.namespace, version = "
          "excluded.version, content_hash = excluded.content_hash, deleted = 0, record = "
          "excluded.record, deployment_id = excluded.deployment_id");
      !s.ok()) {
    return s;
  }
  return outbox.EnqueueAll(tx, std::move(out));
}

// The record saying spec-store has the whole of `sealed`'s deployment: how many job spec
// records it sent for it (the namespace's jobs whose current version the deployment made).
absl::StatusOr<bus::OutgoingMessage> StoredRecord(store::Transaction& tx,
                                                  const events::v1::SubmissionSealed& sealed) {
  auto count = tx.Execute(
      "SELECT COUNT(*) FROM jobs WHERE project = $1 AND namespace = $2 AND deployment_id = $3 "
      "AND deleted = 0",
      {sealed.project(), sealed.namespace_(), sealed.deployment_id()});
  if (!count.ok()) return count.status();
  events::v1::DeploymentStored stored;
  stored.set_deployment_id(sealed.deployment_id());
  stored.set_project(sealed.project());
  stored.set_namespace_(sealed.namespace_());
  stored.set_job_specs(count->rows.empty() ? 0 : count->rows[0].Int(0));
  stored.set_batch_id(sealed.batch_id());
  stored.set_batch_size(std::max(1, sealed.batch_size()));
  return pipeline::ProtoRecord(pipeline::kStoredTopic, sealed.deployment_id(), stored);
}

absl::Status DeleteJobs(store::Transaction& tx, const store::Outbox& outbox,
                        const events::v1::SubmissionSealed& sealed, bool changes) {
  std::vector<std::string> doomed;
  if (sealed.mode() == events::v1::DEPLOY_MODE_REPLACE_ALL) {
    const std::set<std::string> keep(sealed.job_names().begin(), sealed.job_names().end());
    auto rows =
        tx.Execute("SELECT name FROM jobs WHERE project = $1 AND namespace = $2 AND deleted = 0",
                   {sealed.project(), sealed.namespace_()});
    if (!rows.ok()) return rows.status();
    for (const auto& r : rows->rows) {
      if (keep.count(r.Text(0)) == 0) doomed.push_back(r.Text(0));
    }
  } else if (sealed.mode() == events::v1::DEPLOY_MODE_DELETE) {
    doomed.assign(sealed.job_names().begin(), sealed.job_names().end());
  }
  std::vector<bus::OutgoingMessage> out;
  for (const std::string& name : doomed) {
    std::optional<events::v1::JobSpecRecord> was;
    if (changes) {
      auto row = tx.Execute(
          "SELECT record FROM jobs WHERE project = $1 AND name = $2 AND namespace = $3 AND "
          "deleted = 0",
          {sealed.project(), name, sealed.namespace_()});
      if (!row.ok()) return row.status();
      if (!row->rows.empty()) was.emplace().ParseFromString(row->rows[0].Text(0));
    }
    // Only a job of the deployment's namespace: a name alone never reaches into another.
    auto deleted = tx.Execute(
        "UPDATE jobs SET deleted = 1, version = version + 1 WHERE project = $1 AND name = $2 "
        "AND namespace = $3 AND deleted = 0",
        {sealed.project(), name, sealed.namespace_()});
    if (!deleted.ok()) return deleted.status();
    if (deleted->affected_rows == 0) {
      out.push_back(pipeline::ProgressRecord(
          sealed.deployment_id(), sealed.project(), sealed.namespace_(), name, Stage::STAGE_FAILED,
          kReporter, "no job " + name + " in namespace " + sealed.namespace_() + " to delete"));
      continue;
    }
    // Accepted for deletion; the compiler reports it deleted once the DAG is gone.
    out.push_back(pipeline::ProgressRecord(sealed.deployment_id(), sealed.project(),
                                           sealed.namespace_(), name, Stage::STAGE_ACCEPTED,
                                           kReporter));
    auto tombstone =
        pipeline::Tombstone(pipeline::kJobSpecsTopic, pipeline::JobKey(sealed.project(), name),
                            "optimus.events.v1.JobSpecRecord");
    tombstone.headers.emplace_back(pipeline::kDeploymentHeader, sealed.deployment_id());
    out.push_back(std::move(tombstone));
    if (was) {
      const std::optional<spec::JobSpec> job = SpecOf(*was);
      out.push_back(pipeline::JobChangeRecord(
          pipeline::OptimusChangeEvent::EVENT_TYPE_JOB_DELETE, sealed.project(),
          sealed.namespace_(), name, job ? &*job : nullptr, pipeline::InlineAssets(*was),
          pipeline::ChangeImpact::CHANGE_IMPACT_TYPE_BEHAVIOUR));
    }
  }
  // The deployment is taken in whole: ingest may call it done once its jobs are; and the
  // resolver learns how many specs to wait for.
  out.push_back(pipeline::ProgressRecord(sealed.deployment_id(), sealed.project(),
                                         sealed.namespace_(), "", Stage::STAGE_STORED, kReporter));
  auto stored = StoredRecord(tx, sealed);
  if (!stored.ok()) return stored.status();
  out.push_back(*std::move(stored));
  return outbox.EnqueueAll(tx, std::move(out));
}

// Registers or updates a project. Namespaces merge by name: the ones submitted replace theirs,
// the others stay (as in Optimus, registering never drops a namespace). With namespaces_only
// the project keeps its own config and must exist; keep_config, keep_variables and
// keep_presets keep that part. Returns "" or why the submission fails.
absl::StatusOr<std::string> StoreProject(store::Transaction& tx, const store::Outbox& outbox,
                                         const events::v1::ProjectSubmission& project) {
  auto row = tx.Execute("SELECT version, record FROM projects WHERE name = $1", {project.name()});
  if (!row.ok()) return row.status();
  events::v1::ProjectRecord old;
  const bool exists = !row->rows.empty();
  if (exists) old.ParseFromString(row->rows[0].Text(1));
  if (project.namespaces_only() && !exists) {
    return "project " + project.name() +
           " is not registered (register it first: optimus project register)";
  }
  events::v1::ProjectRecord record;
  record.set_name(project.name());
  if (project.namespaces_only()) {
    *record.mutable_config() = old.config();
    *record.mutable_variables() = old.variables();
    record.set_presets_yaml(old.presets_yaml());
  } else {
    if (project.keep_config()) {
      *record.mutable_config() = old.config();
    } else {
      for (const auto& [k, v] : project.config())
        (*record.mutable_config())[absl::AsciiStrToUpper(k)] = v;
    }
    // Keys upper-cased, as Optimus stores and reads them back (GLOBAL__<KEY> in templates).
    if (project.keep_variables()) {
      *record.mutable_variables() = old.variables();
    } else {
      for (const auto& [k, v] : project.variables())
        (*record.mutable_variables())[absl::AsciiStrToUpper(k)] = v;
    }
    record.set_presets_yaml(project.keep_presets() ? old.presets_yaml() : project.presets_yaml());
  }
  std::map<std::string, events::v1::NamespaceRecord> namespaces;
  for (const auto& ns : old.namespaces()) namespaces[ns.name()] = ns;
  for (const auto& ns : project.namespaces()) {
    events::v1::NamespaceRecord n;
    n.set_name(ns.name());
    for (const auto& [k, v] : ns.config()) (*n.mutable_config())[absl::AsciiStrToUpper(k)] = v;
    for (const auto& [k, v] : ns.variables())
      (*n.mutable_variables())[absl::AsciiStrToUpper(k)] = v;
    namespaces[ns.name()] = std::move(n);
  }
  for (auto& [name, ns] : namespaces) *record.add_namespaces() = std::move(ns);
  int64_t version = 1;
  if (exists) {
    record.set_version(old.version());
    // Field by field: serialized protobuf maps have no fixed order, so equal records can differ
    // in bytes (every deploy registers the project; an unchanged one must do no more work).
    if (google::protobuf::util::MessageDifferencer::Equals(old, record)) return "";
    version = row->rows[0].Int(0) + 1;
  }
  record.set_version(version);
  auto saved = tx.Execute(
      "INSERT INTO projects (name, version, record) VALUES ($1, $2, $3) ON CONFLICT (name) DO "
      "UPDATE SET version = excluded.version, record = excluded.record",
      {project.name(), version, store::Blob{record.SerializeAsString()}});
  if (!saved.ok()) return saved.status();
  absl::Status sent =
      outbox.Enqueue(tx, pipeline::ProtoRecord(pipeline::kProjectsTopic, project.name(), record));
  if (!sent.ok()) return sent;
  return "";
}

}  // namespace

absl::Status ApplySubmission(store::Transaction& tx, const store::Outbox& outbox,
                             const bus::Message& message) {
  SubmissionBatch batch(outbox);
  if (absl::Status s = batch.Apply(tx, message); !s.ok()) return s;
  return batch.Flush(tx);
}

absl::Status SubmissionBatch::Flush(store::Transaction& tx) {
  if (jobs_.empty()) return absl::OkStatus();
  std::vector<events::v1::JobSubmission> jobs;
  jobs.swap(jobs_);
  return StoreJobs(tx, outbox_, jobs, changes_);
}

absl::Status SubmissionBatch::Apply(store::Transaction& tx, const bus::Message& message) {
  if (message.topic == pipeline::kDagsTopic) {
    if (message.tombstone) return absl::OkStatus();
    auto dag = pipeline::ParseRecord<events::v1::DagRecord>(message);
    if (!dag.ok()) return dag.status();
    if (dag->removed()) return absl::OkStatus();
    return tx
        .Execute(
            "UPDATE jobs SET published_version = $3 WHERE project = $1 AND name = $2 AND "
            "published_version < $3",
            {dag->project(), dag->name(), dag->spec_version()})
        .status();
  }
  auto submission = pipeline::ParseRecord<events::v1::Submission>(message);
  if (!submission.ok()) return submission.status();
  const store::Outbox& outbox = outbox_;
  if (submission->body_case() == events::v1::Submission::kJob) {
    if (submission->job().project().empty() || submission->job().job_name().empty()) {
      return absl::InvalidArgumentError("a job submission without project or job name");
    }
    jobs_.push_back(std::move(*submission->mutable_job()));
    return absl::OkStatus();
  }
  // A deployment's seal and a project see every job submission before them.
  if (absl::Status s = Flush(tx); !s.ok()) return s;
  switch (submission->body_case()) {
    case events::v1::Submission::kSealed:
      return DeleteJobs(tx, outbox, submission->sealed(), changes_);
    case events::v1::Submission::kProject:
      if (submission->project().name().empty()) {
        return absl::InvalidArgumentError("a project submission without a name");
      }
      {
        auto failure = StoreProject(tx, outbox, submission->project());
        if (!failure.ok()) return failure.status();
        // A progress record without a job closes the deployment; failed, it says why.
        return outbox.Enqueue(
            tx,
            pipeline::ProgressRecord(
                submission->project().deployment_id(), submission->project().name(), "", "",
                failure->empty() ? Stage::STAGE_STORED : Stage::STAGE_FAILED, kReporter, *failure));
      }
    default:
      return absl::InvalidArgumentError("an empty submission record");
  }
}

absl::Status ReportDeadLetter(store::Database& db, const store::Outbox& outbox,
                              const bus::Message& message, const absl::Status& error) {
  events::v1::Submission submission;
  const bool parsed = submission.ParseFromString(message.payload);
  std::vector<bus::OutgoingMessage> out;
  const std::string why = "the submission could not be stored and went to " +
                          bus::DeadLetterTopic(message.topic) + ": " + std::string(error.message());
  const auto deployment = message.HeaderValue(pipeline::kDeploymentHeader);
  const auto job = message.HeaderValue(pipeline::kJobHeader);
  if ((!parsed || submission.body_case() == events::v1::Submission::BODY_NOT_SET) && deployment &&
      job) {
    // Unreadable: ingest's headers still say whose it was (the key is project/namespace).
    const size_t slash = message.key.find('/');
    out.push_back(
        pipeline::ProgressRecord(*deployment, message.key.substr(0, slash),
                                 slash == std::string::npos ? "" : message.key.substr(slash + 1),
                                 *job, Stage::STAGE_FAILED, kReporter, why));
  } else if (!parsed) {
    return absl::OkStatus();  // nobody to tell
  } else if (submission.has_job() && !submission.job().deployment_id().empty()) {
    const auto& j = submission.job();
    out.push_back(pipeline::ProgressRecord(j.deployment_id(), j.project(), j.namespace_(),
                                           j.job_name(), Stage::STAGE_FAILED, kReporter, why));
  } else if (submission.has_sealed() && !submission.sealed().deployment_id().empty()) {
    const auto& s = submission.sealed();
    out.push_back(pipeline::ProgressRecord(s.deployment_id(), s.project(), s.namespace_(), "",
                                           Stage::STAGE_STORED, kReporter, why));
  }
  if (out.empty()) return absl::OkStatus();
  return db.InTransaction([&](store::Transaction& tx) -> absl::Status {
    if (submission.has_sealed() && !submission.sealed().deployment_id().empty()) {
      // Its jobs were stored: the resolver need not wait for more of them.
      auto stored = StoredRecord(tx, submission.sealed());
      if (!stored.ok()) return stored.status();
      out.push_back(*std::move(stored));
    }
    return outbox.EnqueueAll(tx, std::move(out));
  });
}

SpecStoreService::SpecStoreService() = default;

config::Schema SpecStoreService::ConfigSchema() const {
  config::Schema schema;
  schema.Add({.name = "spec_store.change_events",
              .type = config::Type::kBool,
              .default_value = "false",
              .description = "Publish Optimus-compatible change events (OptimusChangeEvent: job "
                             "create, update with its impact, delete) on optimus.changes. Off "
                             "by default, as in Optimus (its `publisher` setting): building "
                             "each event costs a parse of the job's spec."});
  return schema;
}
SpecStoreService::~SpecStoreService() = default;

std::vector<store::Migration> SpecStoreService::Migrations() const {
  return {{1, "projects and jobs",
           "CREATE TABLE projects (name TEXT PRIMARY KEY, version BIGINT NOT NULL, "
           "record ${BLOB} NOT NULL);"
           "CREATE TABLE jobs (project TEXT NOT NULL, name TEXT NOT NULL, namespace TEXT NOT "
           "NULL, version BIGINT NOT NULL, content_hash TEXT NOT NULL, deleted INTEGER NOT NULL, "
           "record ${BLOB} NOT NULL, PRIMARY KEY (project, name));"
           "CREATE INDEX jobs_by_namespace ON jobs (project, namespace)"},
          {2, "the deployment that made each job's current version",
           "ALTER TABLE jobs ADD COLUMN deployment_id TEXT NOT NULL DEFAULT ''"},
          // The versions stored before this was kept were published (or failed to compile).
          {3, "the spec version whose DAG is published",
           "ALTER TABLE jobs ADD COLUMN published_version BIGINT NOT NULL DEFAULT 0;"
           "UPDATE jobs SET published_version = version"}};
}

absl::Status SpecStoreService::Start(app::Context& context) {
  if (absl::Status s = pipeline::EnsurePipelineTopics(context.bus); !s.ok()) return s;
  batch_ = std::make_unique<SubmissionBatch>(context.outbox,
                                             context.config.Bool("spec_store.change_events"));
  worker_ = std::make_unique<pipeline::ConsumerWorker>(
      context.bus, context.db,
      pipeline::ConsumerWorker::Options{
          .group = "spec-store",
          .topics = {pipeline::kSubmissionsTopic, pipeline::kDagsTopic},
          .after_failure =
              [this] {
                batch_->Discard();
                return absl::OkStatus();
              },
          .before_commit = [this](store::Transaction& tx) { return batch_->Flush(tx); },
          .on_dead_letter =
              [&context](const bus::Message& m, const absl::Status& error) {
                if (absl::Status s = ReportDeadLetter(context.db, context.outbox, m, error);
                    !s.ok()) {
                  LOG_ERROR("cannot report a dead-lettered submission", {{"error", s}});
                }
              }},
      [this](store::Transaction& tx, const bus::Message& m) { return batch_->Apply(tx, m); });
  return worker_->Start();
}

void SpecStoreService::Stop() {
  if (worker_) worker_->Stop();
}

}  // namespace optimus::spec_store
