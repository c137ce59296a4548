// optimus-dependency-resolver: consumes job specs, plugins and projects; keeps the job graph;
// publishes a resolution for every job whose spec or upstream set changed.
#include "optimus/dependency_resolver/dependency_resolver_service.h"

#include <grpcpp/grpcpp.h>

#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "optimus/blob/blob_store.h"
#include "optimus/core/v1/lineage.grpc.pb.h"
#include "optimus/dependency_resolver/lineage_of.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/rpc/grpc_server.h"
#include "optimus/spec/parallel_for.h"
#include "optimus/telemetry/log.h"

namespace optimus::dependency_resolver {
namespace {

using events::v1::Stage;
constexpr char kReporter[] = "optimus/dependency-resolver";
constexpr char kWaitingPrefix[] = "dependencies name no known job: ";

// What a deployment is told when other jobs write the job's destination too.
std::string SharedDestinationWarning(const events::v1::JobResolution& r) {
  if (r.shared_destination().empty()) return "";
  return absl::StrCat(r.destination(), " is also written by ",
                      absl::StrJoin(r.shared_destination(), ", "),
                      "; jobs reading it depend on all of its writers");
}

}  // namespace

LineageResult Resolver::LineageFor(const std::string& key) const {
  const auto& record = specs_.at(key);
  auto project = projects_.find(record.project());
  // Large assets travel by reference: read them back from the object store.
  std::map<std::string, std::string> blob_assets;
  std::string blob_error;
  for (const auto& a : record.assets()) {
    if (a.content_case() != events::v1::Asset::kBlobKey) continue;
    if (blob_ == nullptr) {
      blob_error = "asset " + a.name() + " is in the object store, which this resolver lacks";
      continue;
    }
    auto content = blob_->Get(a.blob_key());
    if (!content.ok()) {
      blob_error = "cannot read asset " + a.name() +
                   " from the object store: " + std::string(content.status().message());
      continue;
    }
    blob_assets[a.name()] = *std::move(content);
  }
  LineageResult r = LineageOf(record, project == projects_.end() ? nullptr : &project->second,
                              plugins_, blob_assets);
  if (r.error.empty() && !blob_error.empty()) r.error = blob_error;
  return r;
}

std::vector<JobLineage> Resolver::Recompute(const std::vector<std::string>& keys) {
  // Rendering templates and parsing SQL is pure and costs most of a deploy's resolution: it
  // runs on every core; the results are applied in order.
  std::vector<LineageResult> results(keys.size());
  const size_t workers =
      keys.size() < kParallelFrom ? 1 : std::max(1u, std::thread::hardware_concurrency());
  spec::ParallelFor(keys.size(), workers, [&](size_t i) { results[i] = LineageFor(keys[i]); });
  std::vector<JobLineage> lineages;
  lineages.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    LineageResult& r = results[i];
    std::vector<std::string>& uses = plugins_of_[keys[i]];
    uses.assign({r.task});
    uses.insert(uses.end(), r.hooks.begin(), r.hooks.end());
    if (r.error.empty()) {
      errors_.erase(keys[i]);
    } else {
      errors_[keys[i]] = r.error;
    }
    lineages.push_back(std::move(r.lineage));
  }
  return lineages;
}

absl::Status Resolver::Load(store::Database& db) {
  specs_.clear();
  errors_.clear();
  plugins_.clear();
  projects_.clear();
  plugins_of_.clear();
  graph_ = JobGraph();
  pending_ = Pending();
  held_.clear();
  auto open = db.Execute(
      "SELECT deployment_id, arrived, expected, batch, batch_size FROM open_deployments");
  if (!open.ok()) return open.status();
  std::vector<Arrivals::Row> rows;
  for (const auto& r : open->rows) {
    rows.push_back({r.Text(0), r.Int(1), r.Int(2), r.Text(3), static_cast<int32_t>(r.Int(4))});
  }
  arrivals_.Restore(rows, absl::Now());
  auto held = db.Execute("SELECT job_key, deployment_id, cascaded FROM held");
  if (!held.ok()) return held.status();
  for (const auto& row : held->rows) {
    held_[row.Text(0)] = Held{row.Text(1), row.Int(2) != 0, absl::Now()};
  }
  auto plugins = db.Execute("SELECT name, record FROM plugins");
  if (!plugins.ok()) return plugins.status();
  for (const auto& row : plugins->rows) {
    events::v1::PluginRecord record;
    record.ParseFromString(row.Text(1));
    if (auto p = pipeline::PluginFromRecord(record); p.ok()) plugins_[p->name] = *std::move(p);
  }
  auto projects = db.Execute("SELECT name, record FROM projects");
  if (!projects.ok()) return projects.status();
  for (const auto& row : projects->rows) projects_[row.Text(0)].ParseFromString(row.Text(1));
  auto jobs = db.Execute("SELECT job_key, record FROM jobs");
  if (!jobs.ok()) return jobs.status();
  std::vector<std::string> keys;
  for (const auto& row : jobs->rows) {
    specs_[row.Text(0)].ParseFromString(row.Text(1));
    keys.push_back(row.Text(0));
  }
  graph_.Apply(Recompute(keys));
  return absl::OkStatus();
}

absl::Status Resolver::Emit(store::Transaction& tx, const store::Outbox& outbox,
                            const std::vector<EmitItem>& items) {
  // Progress first: ingest must learn of a cascaded job before the compiler can report the
  // deployed job published (both go to the deployment's partition, in this order).
  std::vector<bus::OutgoingMessage> progress, out;
  for (const EmitItem& item : items) {
    const std::string& key = item.key;
    const std::string& deployment_id = item.deployment_id;
    auto spec = specs_.find(key);
    if (spec == specs_.end()) continue;
    const Resolution r = graph_.Resolve(key);
    const JobLineage* l = graph_.Find(key);
    events::v1::JobResolution jr = BuildResolution(spec->second, l, r);
    jr.set_deployment_id(deployment_id);
    std::string error;
    std::string warning = SharedDestinationWarning(jr);
    if (auto e = errors_.find(key); e != errors_.end()) {
      error = e->second;
    } else if (!r.cycle.empty()) {
      error = "cyclic dependency: " + absl::StrJoin(r.cycle, " -> ");
    } else {
      // A job of this project that does not exist is an error; a job of a project this server
      // does not hold is an external upstream (reported, not waited on).
      std::vector<std::string> missing, external;
      for (const std::string& ref : r.unknown_statics) {
        const size_t slash = ref.find('/');
        if (slash == std::string::npos || ref.substr(0, slash) == spec->second.project()) {
          missing.push_back(ref);
        } else {
          external.push_back(ref);
        }
      }
      if (!external.empty()) {
        // Said at deploy time, not only by `job inspect`: no sensor will wait for these.
        absl::StrAppend(&warning, warning.empty() ? "" : "; ", "dependencies ",
                        absl::StrJoin(external, ", "),
                        " name no job on this server: no sensor waits for them");
      }
      if (!missing.empty()) {
        error = kWaitingPrefix + absl::StrJoin(missing, ", ");
      }
    }
    jr.set_error(error);
    // Waiting for an upstream of the project that is not there: no new DAG yet (the old one,
    // if any, stays); when the upstream arrives, this job resolves again as a cascade.
    const bool waiting = error.rfind(kWaitingPrefix, 0) == 0;
    if (!waiting) out.push_back(pipeline::ProtoRecord(pipeline::kResolutionsTopic, key, jr));
    if (!deployment_id.empty()) {
      const Stage stage = waiting         ? Stage::STAGE_WAITING
                          : error.empty() ? Stage::STAGE_RESOLVED
                                          : Stage::STAGE_FAILED;
      progress.push_back(pipeline::ProgressRecord(deployment_id, jr.project(), jr.namespace_(),
                                                  jr.name(), stage, kReporter, error, item.cascaded,
                                                  warning));
    }
  }
  if (out.empty() && progress.empty()) return absl::OkStatus();
  progress.insert(progress.end(), std::make_move_iterator(out.begin()),
                  std::make_move_iterator(out.end()));
  return outbox.EnqueueAll(tx, std::move(progress));
}

absl::Status Resolver::Apply(store::Transaction& tx, const store::Outbox& outbox,
                             const bus::Message& m) {
  if (m.topic == pipeline::kPluginsTopic || m.topic == pipeline::kProjectsTopic) {
    // Resolve what is pending first: these recompute existing jobs.
    if (absl::Status s = Flush(tx, outbox); !s.ok()) return s;
  }
  if (m.topic == pipeline::kPluginsTopic) {
    if (m.tombstone) return absl::OkStatus();  // plugins are never withdrawn from running jobs
    auto record = pipeline::ParseRecord<events::v1::PluginRecord>(m);
    if (!record.ok()) return record.status();
    auto plugin = pipeline::PluginFromRecord(*record);
    if (!plugin.ok()) return plugin.status();
    if (absl::Status s = pipeline::SaveRecord(tx, "plugins", "name", plugin->name, m.payload);
        !s.ok()) {
      return s;
    }
    plugins_[plugin->name] = *plugin;
    // Jobs that use this plugin, as their task or a hook, resolve (and compile) again: their
    // destination, parsers, image or entrypoint may differ now. The others are left alone.
    std::vector<std::string> keys;
    for (const auto& [key, uses] : plugins_of_) {
      if (std::find(uses.begin(), uses.end(), plugin->name) != uses.end()) keys.push_back(key);
    }
    const std::vector<JobLineage> again = Recompute(keys);
    std::vector<std::string> changed = graph_.Apply(again);
    for (const auto& l : again) changed.push_back(l.key());
    std::sort(changed.begin(), changed.end());
    changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
    std::vector<EmitItem> items;
    for (const auto& k : changed) items.push_back({k, "", false});
    return EmitOrHold(tx, outbox, std::move(items), false);
  }
  if (m.topic == pipeline::kProjectsTopic) {
    if (m.tombstone) return absl::OkStatus();
    auto record = pipeline::ParseRecord<events::v1::ProjectRecord>(m);
    if (!record.ok()) return record.status();
    if (absl::Status s = pipeline::SaveRecord(tx, "projects", "name", record->name(), m.payload);
        !s.ok()) {
      return s;
    }
    auto before = projects_.find(record->name());
    // The projects it accepts upstreams from changed: every job of it resolves again.
    const bool trust_changed =
        UpstreamProjects(before == projects_.end() ? nullptr : &before->second) !=
        UpstreamProjects(&*record);
    projects_[record->name()] = *record;
    std::vector<std::string> keys;
    for (const auto& [key, spec] : specs_) {
      if (spec.project() == record->name() &&
          (trust_changed || spec.spec_yaml().find("{{") != std::string::npos)) {
        keys.push_back(key);
      }
    }
    std::vector<EmitItem> items;
    for (const auto& k : graph_.Apply(Recompute(keys))) items.push_back({k, "", false});
    return EmitOrHold(tx, outbox, std::move(items), false);
  }
  if (m.topic == pipeline::kStoredTopic) {
    auto stored = pipeline::ParseRecord<events::v1::DeploymentStored>(m);
    if (!stored.ok()) return stored.status();
    arrivals_.Stored(*stored, absl::Now());
    return absl::OkStatus();  // Flush releases the held jobs if it completes their batch
  }
  if (m.topic != pipeline::kJobSpecsTopic) {
    return absl::InvalidArgumentError("unexpected topic " + m.topic);
  }
  const std::string key = m.key;
  if (m.tombstone) {
    pending_.rows.erase(key);
    auto removed = tx.Execute("DELETE FROM jobs WHERE job_key = $1", {key});
    if (!removed.ok()) return removed.status();
    specs_.erase(key);
    errors_.erase(key);
    plugins_of_.erase(key);
    pending_.upserts.erase(key);
    pending_.deployment_of.erase(key);
    pending_.removals.push_back(key);
    auto tombstone =
        pipeline::Tombstone(pipeline::kResolutionsTopic, key, "optimus.events.v1.JobResolution");
    if (auto d = m.HeaderValue(pipeline::kDeploymentHeader)) {
      tombstone.headers.emplace_back(pipeline::kDeploymentHeader, *d);
    }
    pending_.tombstones.push_back(std::move(tombstone));
    return absl::OkStatus();
  }
  auto record = pipeline::ParseRecord<events::v1::JobSpecRecord>(m);
  if (!record.ok()) return record.status();
  arrivals_.SpecArrived(record->deployment_id(), absl::Now());
  if (pipeline::JobKey(record->project(), record->name()) != key) {
    return absl::InvalidArgumentError("job spec record keyed " + key + " is for " +
                                      record->project() + "/" + record->name());
  }
  if (auto old = specs_.find(key);
      old != specs_.end() && old->second.version() > record->version()) {
    return absl::OkStatus();  // an older version arriving late changes nothing
  }
  pending_.rows[key] = m.payload;  // stored by Flush, with the batch's other specs
  specs_[key] = *record;
  auto& removals = pending_.removals;
  removals.erase(std::remove(removals.begin(), removals.end(), key), removals.end());
  pending_.upserts.insert(key);  // its lineage is computed by Flush, with the batch's others
  pending_.deployment_of[key] = record->deployment_id();
  if (pending_.first_deployment.empty()) pending_.first_deployment = record->deployment_id();
  return absl::OkStatus();
}

absl::Status Resolver::SaveArrivals(store::Transaction& tx) {
  Arrivals::Changes changes = arrivals_.TakeChanges();
  if (!changes.drop.empty()) {
    std::vector<store::Value> ids(changes.drop.begin(), changes.drop.end());
    auto dropped = store::ExecuteIn(tx, "DELETE FROM open_deployments WHERE deployment_id", ids);
    if (!dropped.ok()) return dropped.status();
  }
  std::vector<std::vector<store::Value>> rows;
  for (const Arrivals::Row& r : changes.save) {
    rows.push_back(
        {r.deployment_id, r.arrived, r.expected, r.batch, static_cast<int64_t>(r.batch_size)});
  }
  return store::ExecuteValues(
      tx, "INSERT INTO open_deployments (deployment_id, arrived, expected, batch, batch_size)",
      rows,
      "ON CONFLICT (deployment_id) DO UPDATE SET arrived = excluded.arrived, expected = "
      "excluded.expected, batch = excluded.batch, batch_size = excluded.batch_size");
}

absl::Status Resolver::Flush(store::Transaction& tx, const store::Outbox& outbox) {
  if (absl::Status s = FlushSpecs(tx, outbox); !s.ok()) return s;
  return SaveArrivals(tx);
}

absl::Status Resolver::FlushSpecs(store::Transaction& tx, const store::Outbox& outbox) {
  if (pending_.upserts.empty() && pending_.removals.empty()) {
    // No job specs: plugins, projects or the end of a deployment (whose held jobs may go).
    return held_.empty() ? absl::OkStatus() : EmitOrHold(tx, outbox, {}, false);
  }
  Pending batch = std::move(pending_);
  pending_ = Pending();
  std::vector<std::vector<store::Value>> rows;
  rows.reserve(batch.rows.size());
  for (auto& [key, payload] : batch.rows) rows.push_back({key, store::Blob{std::move(payload)}});
  if (absl::Status s =
          store::ExecuteValues(tx, "INSERT INTO jobs (job_key, record)", rows,
                               "ON CONFLICT (job_key) DO UPDATE SET record = excluded.record");
      !s.ok()) {
    return s;
  }
  // A held job deleted before it was resolved: its deployment hears it is gone.
  std::vector<bus::OutgoingMessage> gone;
  for (const std::string& key : batch.removals) {
    auto h = held_.find(key);
    if (h == held_.end()) continue;
    if (!h->second.deployment_id.empty()) {
      gone.push_back(pipeline::ProgressRecord(h->second.deployment_id, key.substr(0, key.find('/')),
                                              "", key.substr(key.find('/') + 1),
                                              Stage::STAGE_DELETED, kReporter));
    }
    if (auto d = tx.Execute("DELETE FROM held WHERE job_key = $1", {key}); !d.ok()) {
      return d.status();
    }
    held_.erase(h);
  }
  if (!gone.empty()) {
    if (absl::Status s = outbox.EnqueueAll(tx, std::move(gone)); !s.ok()) return s;
  }
  std::set<std::string> keys;
  const std::vector<JobLineage> upserts =
      Recompute(std::vector<std::string>(batch.upserts.begin(), batch.upserts.end()));
  for (const auto& k : graph_.Apply(upserts, batch.removals)) keys.insert(k);
  // Every job whose spec changed, even when its lineage did not.
  keys.insert(batch.upserts.begin(), batch.upserts.end());
  if (!batch.tombstones.empty()) {
    if (absl::Status s = outbox.EnqueueAll(tx, std::move(batch.tombstones)); !s.ok()) return s;
  }
  std::vector<EmitItem> items;
  for (const std::string& k : keys) {
    auto own = batch.deployment_of.find(k);
    if (own != batch.deployment_of.end()) {
      items.push_back({k, own->second, false});
      continue;
    }
    // A cascade is credited to the deployment of the upstream that caused it: that deployment
    // is not done before this job is (both go out together), so its watchers see how the job
    // ends. (Crediting another deployment of the batch, one already done, left a job that had
    // waited for that upstream looking "waiting" to everyone watching.)
    std::string cause = batch.first_deployment;
    for (const Upstream& u : graph_.Resolve(k).upstreams) {
      if (auto d = batch.deployment_of.find(u.key); d != batch.deployment_of.end()) {
        cause = d->second;
        break;
      }
    }
    items.push_back({k, cause, true});
  }
  return EmitOrHold(tx, outbox, std::move(items), true);
}

absl::Status Resolver::Release(store::Transaction& tx, const store::Outbox& outbox) {
  if (absl::Status s = EmitOrHold(tx, outbox, {}, false); !s.ok()) return s;
  return SaveArrivals(tx);
}

bool Resolver::ReleaseDue() {
  if (held_.empty()) return false;
  const absl::Time now = absl::Now();
  arrivals_.Update(now);
  for (const auto& [key, held] : held_) {
    if (!arrivals_.Open(held.deployment_id) || now - held.since >= kMaxHold) return true;
  }
  return false;
}

absl::Status Resolver::EmitOrHold(store::Transaction& tx, const store::Outbox& outbox,
                                  std::vector<EmitItem> items, bool may_hold) {
  const absl::Time now = absl::Now();
  arrivals_.Update(now);
  std::vector<EmitItem> out;
  std::set<std::string> seen;
  // The held table changes in two statements at the end, not one per job.
  std::vector<std::vector<store::Value>> hold_rows;
  std::vector<bus::OutgoingMessage> held_progress;
  std::vector<store::Value> released;
  auto forget = [&](const std::string& key) -> absl::Status {
    held_.erase(key);
    released.push_back(key);
    return absl::OkStatus();
  };
  for (EmitItem& item : items) {
    seen.insert(item.key);
    auto h = held_.find(item.key);
    if (h != held_.end()) {
      if (item.cascaded) {
        item.deployment_id = h->second.deployment_id;  // still the deployment that sent it
        item.cascaded = h->second.cascaded;
      } else if (h->second.deployment_id != item.deployment_id) {
        out.push_back({item.key, h->second.deployment_id, h->second.cascaded});
      }
    }
    const absl::Time since = h == held_.end() ? now : h->second.since;
    // Only while the specs of its own deployment's batch are on their way: a deployment that
    // never completes holds nobody else's jobs.
    const bool hold = may_hold && arrivals_.Open(item.deployment_id) && now - since < kMaxHold &&
                      !graph_.Resolve(item.key).unknown_sources.empty();
    if (hold) {
      // A cascade held under the deployment of its cause: that deployment hears of the job now,
      // so it is not done before the job is (it may finish its own jobs long before the held
      // ones go, and its watchers would stop with this job still shown waiting elsewhere).
      const bool told = h != held_.end() && h->second.deployment_id == item.deployment_id;
      if (item.cascaded && !told && !item.deployment_id.empty()) {
        if (auto spec = specs_.find(item.key); spec != specs_.end()) {
          held_progress.push_back(pipeline::ProgressRecord(
              item.deployment_id, spec->second.project(), spec->second.namespace_(),
              spec->second.name(), Stage::STAGE_STORED, kReporter, "", true));
        }
      }
      held_[item.key] = Held{item.deployment_id, item.cascaded, since};
      hold_rows.push_back({item.key, item.deployment_id, static_cast<int64_t>(item.cascaded)});
      continue;
    }
    if (h != held_.end()) {
      if (absl::Status s = forget(item.key); !s.ok()) return s;
    }
    out.push_back(std::move(item));
  }
  // Held jobs this batch did not touch go once their deployment's batch has arrived whole or
  // they waited long enough, not when the input pauses: a pause mid-deploy (a slow batch
  // upstream) released jobs whose writers were still on the way, to be compiled twice.
  std::vector<std::string> due;
  for (const auto& [key, held] : held_) {
    if (seen.count(key) == 0 &&
        (!arrivals_.Open(held.deployment_id) || now - held.since >= kMaxHold)) {
      due.push_back(key);
    }
  }
  for (const std::string& key : due) {
    out.push_back({key, held_.at(key).deployment_id, held_.at(key).cascaded});
    if (absl::Status s = forget(key); !s.ok()) return s;
  }
  if (!released.empty()) {
    auto deleted = store::ExecuteIn(tx, "DELETE FROM held WHERE job_key", released);
    if (!deleted.ok()) return deleted.status();
  }
  if (absl::Status s = store::ExecuteValues(
          tx, "INSERT INTO held (job_key, deployment_id, cascaded)", hold_rows,
          "ON CONFLICT (job_key) DO UPDATE SET deployment_id = excluded.deployment_id, cascaded "
          "= excluded.cascaded");
      !s.ok()) {
    return s;
  }
  if (!held_progress.empty()) {
    if (absl::Status s = outbox.EnqueueAll(tx, std::move(held_progress)); !s.ok()) return s;
  }
  return Emit(tx, outbox, out);
}

core::v1::ListJobSpecsResponse Resolver::ListJobSpecs(
    const core::v1::ListJobSpecsRequest& request) const {
  core::v1::ListJobSpecsResponse out;
  auto it =
      request.project().empty() ? specs_.begin() : specs_.lower_bound(request.project() + "/");
  if (!request.page_token().empty() && (it == specs_.end() || request.page_token() >= it->first)) {
    it = specs_.upper_bound(request.page_token());  // the page after the one that ended there
  }
  constexpr size_t kPageBytes = 2 << 20;
  size_t bytes = 0;
  for (; it != specs_.end(); ++it) {
    if ((request.page_size() > 0 && out.jobs_size() >= request.page_size()) ||
        (out.jobs_size() > 0 && bytes >= kPageBytes)) {
      out.set_next_page_token(out.jobs(out.jobs_size() - 1).project() + "/" +
                              out.jobs(out.jobs_size() - 1).name());
      break;
    }
    const events::v1::JobSpecRecord& spec = it->second;
    if (!request.project().empty() && spec.project() != request.project()) break;
    if (!request.namespace_().empty() && spec.namespace_() != request.namespace_()) continue;
    if (!request.job().empty() && spec.name() != request.job()) continue;
    auto* entry = out.add_jobs();
    entry->set_project(spec.project());
    entry->set_namespace_(spec.namespace_());
    entry->set_name(spec.name());
    entry->set_spec_yaml(spec.spec_yaml());
    for (const auto& a : spec.assets()) {
      if (a.content_case() == events::v1::Asset::kInline)
        (*entry->mutable_assets())[a.name()] = a.inline_();
    }
    if (const JobLineage* l = graph_.Find(it->first)) {
      entry->set_destination(l->destination);
      for (const auto& source : l->sources) entry->add_sources(source);
    }
    bytes += entry->ByteSizeLong();
  }
  return out;
}

absl::StatusOr<core::v1::GetLineageResponse> Resolver::Lineage(const std::string& project,
                                                               const std::string& job) const {
  const std::string key = pipeline::JobKey(project, job);
  auto spec = specs_.find(key);
  if (spec == specs_.end()) {
    return absl::NotFoundError("no job " + job + " in project " + project);
  }
  core::v1::GetLineageResponse out;
  out.set_namespace_(spec->second.namespace_());
  if (const JobLineage* l = graph_.Find(key)) {
    out.set_destination(l->destination);
    for (const auto& s : l->sources) out.add_sources(s);
  }
  const Resolution r = graph_.Resolve(key);
  for (const Upstream& u : r.upstreams) {
    auto* ref = out.add_upstreams();
    ref->set_project(u.project);
    ref->set_namespace_(u.namespace_name);
    ref->set_name(u.name);
    ref->set_via(u.via);
  }
  for (const std::string& d : graph_.Downstreams(key)) {
    auto ds = specs_.find(d);
    auto* ref = out.add_downstreams();
    ref->set_project(d.substr(0, d.find('/')));
    ref->set_name(d.substr(d.find('/') + 1));
    if (ds != specs_.end()) ref->set_namespace_(ds->second.namespace_());
  }
  for (const auto& u : r.unknown_sources) out.add_unknown_sources(u);
  for (const auto& u : r.unknown_statics) out.add_unknown_upstreams(u);
  for (const auto& c : r.cycle) out.add_cycle(c);
  for (const auto& other : r.shared_destination) out.add_shared_destination(other);
  if (auto e = errors_.find(key); e != errors_.end()) out.set_error(e->second);
  return out;
}

absl::StatusOr<core::v1::ImpactResponse> Resolver::Impact(const std::string& project,
                                                          const std::string& job) const {
  const std::string key = pipeline::JobKey(project, job);
  if (specs_.count(key) == 0)
    return absl::NotFoundError("no job " + job + " in project " + project);
  core::v1::ImpactResponse out;
  for (const std::string& d : graph_.Impact(key)) {
    auto* ref = out.add_jobs();
    ref->set_project(d.substr(0, d.find('/')));
    ref->set_name(d.substr(d.find('/') + 1));
    if (auto ds = specs_.find(d); ds != specs_.end()) ref->set_namespace_(ds->second.namespace_());
  }
  return out;
}

core::v1::CheckDeletionResponse Resolver::CheckDeletion(
    const core::v1::CheckDeletionRequest& request) const {
  std::set<std::string> doomed;
  if (request.replace_all()) {
    const std::set<std::string> keep(request.keep_jobs().begin(), request.keep_jobs().end());
    for (const auto& [key, spec] : specs_) {
      if (spec.project() == request.project() && spec.namespace_() == request.namespace_() &&
          keep.count(spec.name()) == 0) {
        doomed.insert(key);
      }
    }
  }
  for (const auto& name : request.delete_jobs()) {
    const std::string key = pipeline::JobKey(request.project(), name);
    auto spec = specs_.find(key);
    if (spec != specs_.end() && spec->second.namespace_() == request.namespace_()) {
      doomed.insert(key);
    }
  }
  // A job that stays keeps what it reads: a job kept because another still reads it keeps its
  // own upstreams too, to a fixed point, so that no job that stays loses an upstream.
  std::map<std::string, std::vector<std::string>> kept;  // job -> readers that stay
  for (bool changed = true; changed;) {
    changed = false;
    for (const std::string& key : doomed) {
      if (kept.count(key) > 0) continue;
      std::vector<std::string> readers;
      for (const std::string& d : graph_.Downstreams(key)) {
        // Only the project's own jobs hold a deletion: another project cannot keep this one's
        // jobs alive by reading them.
        if (d.compare(0, request.project().size() + 1, request.project() + "/") != 0) continue;
        if (doomed.count(d) == 0 || kept.count(d) > 0) readers.push_back(d);
      }
      if (readers.empty()) continue;
      kept[key] = std::move(readers);
      changed = true;
    }
  }
  core::v1::CheckDeletionResponse out;
  for (const std::string& key : doomed) {
    const std::string name = key.substr(key.find('/') + 1);
    auto k = kept.find(key);
    if (k == kept.end()) {
      out.add_deletable(name);
      continue;
    }
    auto* blocked = out.add_blocked();
    blocked->set_job(name);
    for (const auto& r : k->second) blocked->add_downstreams(r);
  }
  return out;
}

// LineageService over gRPC, answering from the resolver's memory under its lock.
class DependencyResolverService::LineageApi final : public core::v1::LineageService::Service {
 public:
  LineageApi(std::mutex& mu, Resolver& resolver, const rpc::Authenticator* authenticator)
      : mu_(mu), resolver_(resolver), authenticator_(authenticator) {}

  grpc::Status GetLineage(grpc::ServerContext* context, const core::v1::GetLineageRequest* req,
                          core::v1::GetLineageResponse* resp) override {
    if (grpc::Status allowed = Allowed(context, "GetLineage", req->project()); !allowed.ok()) {
      return allowed;
    }
    std::lock_guard<std::mutex> lock(mu_);
    return Answer(resolver_.Lineage(req->project(), req->job()), resp);
  }
  grpc::Status Impact(grpc::ServerContext* context, const core::v1::ImpactRequest* req,
                      core::v1::ImpactResponse* resp) override {
    if (grpc::Status allowed = Allowed(context, "Impact", req->project()); !allowed.ok()) {
      return allowed;
    }
    std::lock_guard<std::mutex> lock(mu_);
    return Answer(resolver_.Impact(req->project(), req->job()), resp);
  }
  grpc::Status CheckDeletion(grpc::ServerContext* context,
                             const core::v1::CheckDeletionRequest* req,
                             core::v1::CheckDeletionResponse* resp) override {
    if (grpc::Status allowed = Allowed(context, "CheckDeletion", req->project()); !allowed.ok()) {
      return allowed;
    }
    std::lock_guard<std::mutex> lock(mu_);
    *resp = resolver_.CheckDeletion(*req);
    return grpc::Status::OK;
  }
  grpc::Status ListJobSpecs(grpc::ServerContext* context, const core::v1::ListJobSpecsRequest* req,
                            core::v1::ListJobSpecsResponse* resp) override {
    if (grpc::Status allowed = Allowed(context, "ListJobSpecs", req->project()); !allowed.ok()) {
      return allowed;
    }
    std::lock_guard<std::mutex> lock(mu_);
    *resp = resolver_.ListJobSpecs(*req);
    return grpc::Status::OK;
  }

 private:
  // An admin token (ingest's internal one) or one of the project asked about.
  grpc::Status Allowed(grpc::ServerContext* context, std::string_view method,
                       const std::string& project) const {
    return rpc::Authorize(context, authenticator_,
                          "optimus.core.v1.LineageService/" + std::string(method), project);
  }

  template <typename T>
  static grpc::Status Answer(absl::StatusOr<T> result, T* out) {
    if (!result.ok()) {
      return grpc::Status(static_cast<grpc::StatusCode>(result.status().code()),
                          std::string(result.status().message()));
    }
    *out = *std::move(result);
    return grpc::Status::OK;
  }

  std::mutex& mu_;
  Resolver& resolver_;
  const rpc::Authenticator* authenticator_;
};

DependencyResolverService::DependencyResolverService() = default;
DependencyResolverService::~DependencyResolverService() = default;

std::vector<store::Migration> DependencyResolverService::Migrations() const {
  return {{1, "plugins, projects and job specs",
           "CREATE TABLE plugins (name TEXT PRIMARY KEY, record ${BLOB} NOT NULL);"
           "CREATE TABLE projects (name TEXT PRIMARY KEY, record ${BLOB} NOT NULL);"
           "CREATE TABLE jobs (job_key TEXT PRIMARY KEY, record ${BLOB} NOT NULL)"},
          {2, "jobs held back while a deploy streams in",
           "CREATE TABLE held (job_key TEXT PRIMARY KEY, deployment_id TEXT NOT NULL, "
           "cascaded BIGINT NOT NULL)"},
          {3, "deployments whose specs are still on their way (Arrivals)",
           "CREATE TABLE open_deployments (deployment_id TEXT PRIMARY KEY, arrived BIGINT NOT "
           "NULL, expected BIGINT NOT NULL, batch TEXT NOT NULL, batch_size BIGINT NOT NULL)"}};
}

absl::Status DependencyResolverService::Start(app::Context& context) {
  if (absl::Status s = pipeline::EnsurePipelineTopics(context.bus); !s.ok()) return s;
  resolver_ = std::make_unique<Resolver>(&context.blob);
  if (absl::Status s = resolver_->Load(context.db); !s.ok()) return s;
  api_ = std::make_unique<LineageApi>(mu_, *resolver_, context.authenticator);
  context.grpc.AddService(api_.get(), "optimus.core.v1.LineageService");
  LOG_INFO("job graph loaded", {{"jobs", static_cast<int64_t>(resolver_->graph().size())}});
  const store::Outbox& outbox = context.outbox;
  store::Database& db = context.db;
  worker_ = std::make_unique<pipeline::ConsumerWorker>(
      context.bus, context.db,
      pipeline::ConsumerWorker::Options{
          .group = "dependency-resolver",
          .topics = {pipeline::kPluginsTopic, pipeline::kProjectsTopic, pipeline::kJobSpecsTopic,
                     pipeline::kStoredTopic},
          .after_failure =
              [this, &db] {
                std::lock_guard<std::mutex> lock(mu_);
                return resolver_->Load(db);
              },
          .before_commit =
              [this, &outbox](store::Transaction& tx) {
                std::lock_guard<std::mutex> lock(mu_);
                return resolver_->Flush(tx, outbox);
              },
          .on_idle =
              [this, &db, &outbox] {
                std::lock_guard<std::mutex> lock(mu_);
                if (!resolver_->ReleaseDue()) return;
                absl::Status s = db.InTransaction(
                    [&](store::Transaction& tx) { return resolver_->Release(tx, outbox); });
                if (s.ok()) return;
                LOG_WARN("cannot resolve the held jobs, retrying", {{"error", s}});
                if (absl::Status l = resolver_->Load(db); !l.ok()) {
                  LOG_ERROR("cannot reload the job graph", {{"error", l}});
                }
              },
          .on_dead_letter =
              [&db, &outbox](const bus::Message& m, const absl::Status& error) {
                pipeline::ReportSetAside(db, outbox, m, error, kReporter);
              }},
      [this, &outbox](store::Transaction& tx, const bus::Message& m) {
        std::lock_guard<std::mutex> lock(mu_);
        return resolver_->Apply(tx, outbox, m);
      });
  return worker_->Start();
}

void DependencyResolverService::Stop() {
  if (worker_) worker_->Stop();
}

}  // namespace optimus::dependency_resolver
