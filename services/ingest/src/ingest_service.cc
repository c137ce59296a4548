// optimus-ingest: the front door for people and CI. It checks each job spec the way
// `job validate` does, records the deployment, and submits the specs through its outbox; it
// follows the deployment's progress and streams it to watchers.
#include "optimus/ingest/ingest_service.h"

#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "optimus/blob/blob_store.h"
#include "optimus/bus/cloudevents.h"
#include "optimus/core/v1/deploy.grpc.pb.h"
#include "optimus/core/v1/lineage.grpc.pb.h"
#include "optimus/events/v1/jobs.pb.h"
#include "optimus/ingest/deployments.h"
#include "optimus/ingest/projects.h"
#include "optimus/ingest/resolver_client.h"
#include "optimus/ingest/rest.h"
#include "optimus/ingest/secrets.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/rpc/grpc_server.h"
#include "optimus/rpc/status.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/names.h"
#include "optimus/spec/schedule_hooks.h"
#include "optimus/spec/stored_spec.h"
#include "optimus/spec/validate.h"
#include "optimus/store/outbox.h"
#include "optimus/telemetry/log.h"

namespace optimus::ingest {
namespace {

using events::v1::Stage;
constexpr size_t kInlineAssetLimit = 256 * 1024;

// The end a job's progress record reports ("published", ...), or null for a stage on the way
// and for records about the deployment as a whole.
const char* OutcomeOf(const events::v1::DeploymentProgress& p) {
  if (p.job_name().empty()) return nullptr;
  switch (p.stage()) {
    case Stage::STAGE_PUBLISHED:
      return "published";
    case Stage::STAGE_UNCHANGED:
      return "unchanged";
    case Stage::STAGE_DELETED:
      return "deleted";
    case Stage::STAGE_FAILED:
      return "failed";
    default:
      return nullptr;
  }
}

// The token ingest speaks to dependency-resolver with (the caller was checked already).
grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

}  // namespace

class IngestService::Impl final : public core::v1::DeploymentService::Service {
 public:
  explicit Impl(app::Context& context)
      : ctx_(context),
        outcomes_family_(prometheus::BuildCounter()
                             .Name("optimus_deploy_jobs_total")
                             .Help("Jobs of deployments that reached their end, by outcome: "
                                   "published, unchanged, deleted, failed.")
                             .Register(context.metrics)),
        resolver_(
            [&context] {
              const std::string host = context.config.String("ingest.lineage_host");
              return host.empty() ? "127.0.0.1:" + std::to_string(context.grpc.port()) : host;
            },
            context.internal_token) {
    for (const char* outcome : {"published", "unchanged", "deleted", "failed"}) {
      outcomes_family_.Add({{"outcome", outcome}});  // every series exists from the start
    }
  }

  ResolverClient& resolver() { return resolver_; }

  absl::Status Start() {
    auto names = ctx_.db.Execute("SELECT name FROM plugins");
    if (!names.ok()) return names.status();
    for (const auto& r : names->rows) plugins_.insert(r.Text(0));
    worker_ = std::make_unique<pipeline::ConsumerWorker>(
        ctx_.bus, ctx_.db,
        pipeline::ConsumerWorker::Options{
            .group = "ingest",
            .topics = {pipeline::kProgressTopic, pipeline::kPluginsTopic, pipeline::kProjectsTopic},
            .after_commit =
                [this] {
                  {
                    std::lock_guard<std::mutex> lock(mu_);
                    // Entries go when a watcher sees its deployment done; deployments nobody
                    // watches would pile up, so past a bound the map starts afresh (a watcher
                    // then reads its deployment once more than needed, nothing worse).
                    if (versions_.size() > kMaxVersions) versions_.clear();
                    for (const std::string& id : touched_) ++versions_[id];
                    touched_.clear();
                    for (const auto& [outcome, n] : outcomes_) {
                      outcomes_family_.Add({{"outcome", outcome}}).Increment(n);
                    }
                    outcomes_.clear();
                  }
                  changed_.notify_all();
                },
            .after_failure =
                [this] {
                  std::lock_guard<std::mutex> lock(mu_);
                  touched_.clear();
                  pending_.clear();
                  outcomes_.clear();
                  return absl::OkStatus();
                },
            // Progress is applied once per batch (see ApplyProgress).
            .before_commit =
                [this](store::Transaction& tx) {
                  std::vector<events::v1::DeploymentProgress> batch;
                  batch.swap(pending_);
                  for (const auto& p : batch) {
                    if (const char* outcome = OutcomeOf(p)) ++outcomes_[outcome];
                  }
                  return ApplyProgress(tx, batch);
                }},
        [this](store::Transaction& tx, const bus::Message& m) { return Consume(tx, m); });
    return worker_->Start();
  }

  void Stop() {
    stopping_ = true;
    changed_.notify_all();
    if (worker_) worker_->Stop();
  }

  grpc::Status RegisterProject(grpc::ServerContext* context,
                               const core::v1::RegisterProjectRequest* req,
                               core::v1::RegisterProjectResponse* resp) override {
    // A project's own token may register it again (every deploy does); creating one needs an
    // admin token. Null context: the REST route, which checked the caller itself.
    if (context != nullptr) {
      if (absl::Status allowed = MayRegisterProject(
              ctx_.authenticator, "optimus.core.v1.DeploymentService/RegisterProject", req->name(),
              ingest::GetProject(ctx_.db, req->name()).ok(), rpc::CallAuthorization(context));
          !allowed.ok()) {
        return rpc::ToGrpcStatus(allowed);
      }
    }
    if (req->name().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "a project needs a name");
    }
    if (auto problem = spec::NameProblem(spec::NameKind::kProject, req->name())) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, *problem);
    }
    for (const auto& ns : req->namespaces()) {
      if (auto problem = spec::NameProblem(spec::NameKind::kNamespace, ns.name())) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, *problem);
      }
    }
    // The compiler picks the DAG template by this; a value it cannot use would leave every DAG
    // of the project as it was, silently.
    for (const auto& [key, value] : req->config()) {
      // The native scheduler runs `scheduler: native` projects; Airflow runs the others.
      if (absl::AsciiStrToUpper(key) == "SCHEDULER") {
        const std::string mode = absl::AsciiStrToLower(value);
        if (!mode.empty() && mode != "airflow" && mode != "native") {
          return grpc::Status(
              grpc::StatusCode::INVALID_ARGUMENT,
              "project config scheduler \"" + value + "\" is not airflow or native");
        }
        continue;
      }
      if (absl::AsciiStrToUpper(key) != "SCHEDULER_VERSION" || value.empty()) continue;
      if (!(value == "2" || value == "3" || absl::StartsWith(value, "2.") ||
            absl::StartsWith(value, "3."))) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "project config scheduler_version \"" + value +
                                "\" is not an Airflow 2.x or 3.x version");
      }
    }
    events::v1::ProjectSubmission p;
    p.set_name(req->name());
    *p.mutable_config() = req->config();
    *p.mutable_variables() = req->variables();
    p.set_presets_yaml(req->presets_yaml());
    p.set_keep_config(req->keep_config());
    p.set_keep_variables(req->keep_variables());
    p.set_keep_presets(req->keep_presets());
    for (const auto& ns : req->namespaces()) *p.add_namespaces() = NamespaceSubmission(ns);
    return SubmitProject(std::move(p), "", resp->mutable_deployment_id());
  }

  grpc::Status RegisterNamespace(grpc::ServerContext* context,
                                 const core::v1::RegisterNamespaceRequest* req,
                                 core::v1::RegisterNamespaceResponse* resp) override {
    if (grpc::Status allowed =
            rpc::Authorize(context, ctx_.authenticator,
                           "optimus.core.v1.DeploymentService/RegisterNamespace", req->project());
        !allowed.ok()) {
      return allowed;
    }
    if (req->project().empty() || req->namespace_().name().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "a namespace needs a project and a name");
    }
    for (auto problem : {spec::NameProblem(spec::NameKind::kProject, req->project()),
                         spec::NameProblem(spec::NameKind::kNamespace, req->namespace_().name())}) {
      if (problem) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, *problem);
    }
    // Whether the project exists is spec-store's to say (this read model may lag a
    // registration just made); the deployment fails with the reason if it does not.
    events::v1::ProjectSubmission p;
    p.set_name(req->project());
    p.set_namespaces_only(true);
    *p.add_namespaces() = NamespaceSubmission(req->namespace_());
    return SubmitProject(std::move(p), req->namespace_().name(), resp->mutable_deployment_id());
  }

  grpc::Status ListProjects(grpc::ServerContext* context, const core::v1::ListProjectsRequest*,
                            core::v1::ListProjectsResponse* resp) override {
    if (grpc::Status allowed = rpc::Authorize(context, ctx_.authenticator,
                                              "optimus.core.v1.DeploymentService/ListProjects", "",
                                              rpc::Access::kAdmin);
        !allowed.ok()) {
      return allowed;
    }
    auto projects = ingest::ListProjects(ctx_.db);
    if (!projects.ok()) return ToGrpc(projects.status());
    for (auto& p : *projects) *resp->add_projects() = std::move(p);
    return grpc::Status::OK;
  }

  grpc::Status GetProject(grpc::ServerContext* context, const core::v1::GetProjectRequest* req,
                          core::v1::ProjectInfo* resp) override {
    if (grpc::Status allowed =
            rpc::Authorize(context, ctx_.authenticator,
                           "optimus.core.v1.DeploymentService/GetProject", req->name());
        !allowed.ok()) {
      return allowed;
    }
    auto project = ingest::GetProject(ctx_.db, req->name());
    if (!project.ok()) return ToGrpc(project.status());
    *resp = *std::move(project);
    return grpc::Status::OK;
  }

  grpc::Status Deploy(grpc::ServerContext* context, const core::v1::DeployRequest* req,
                      core::v1::DeployResponse* resp) override {
    if (grpc::Status allowed =
            rpc::Authorize(context, ctx_.authenticator, "optimus.core.v1.DeploymentService/Deploy",
                           req->project());
        !allowed.ok()) {
      return allowed;
    }
    if (req->project().empty() || req->namespace_().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "a deployment needs a project and a namespace");
    }
    for (auto problem : {spec::NameProblem(spec::NameKind::kProject, req->project()),
                         spec::NameProblem(spec::NameKind::kNamespace, req->namespace_())}) {
      if (problem) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, *problem);
    }
    // A job once per request: its progress is one row of the deployment.
    std::set<std::string> once;
    for (const auto& file : req->jobs()) {
      if (!file.name().empty() && !once.insert(file.name()).second) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "job \"" + file.name() + "\" is in the request twice; send each once");
      }
    }
    once.clear();
    for (const auto& name : req->delete_jobs()) {
      if (!once.insert(name).second) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "job \"" + name + "\" is named twice in the jobs to delete");
      }
    }
    auto mode = req->mode();
    if (mode == events::v1::DEPLOY_MODE_UNSPECIFIED) mode = events::v1::DEPLOY_MODE_UPSERT;
    const std::string id = bus::NewEventId();
    const std::string key = req->project() + "/" + req->namespace_();
    std::vector<core::v1::JobProgress> tracked;
    std::vector<bus::OutgoingMessage> out;
    std::set<std::string> names;
    std::set<std::string> known_plugins;
    {
      std::lock_guard<std::mutex> lock(mu_);
      known_plugins = plugins_;
    }
    const auto plugin_wait_until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    bool plugins_reread = false;
    if (known_plugins.empty()) {
      known_plugins = RereadPlugins();
      plugins_reread = true;
    }
    spec::JobValidationOptions options;
    options.hooks = spec::ScheduleValidationHooks();
    options.known_plugins = known_plugins.empty() ? nullptr : &known_plugins;
    for (const auto& file : req->jobs()) {
      core::v1::JobProgress p;
      p.set_project(req->project());
      p.set_namespace_(req->namespace_());
      p.set_job(file.name());
      std::string error;
      for (const auto& asset : file.assets()) {
        if (auto problem = spec::AssetNameProblem(asset.name())) {
          error += (error.empty() ? "" : "; ") + *problem;
        }
      }
      if (file.name().empty()) {
        error = "a job without a name";
      } else if (auto problem = spec::NameProblem(spec::NameKind::kJob, file.name())) {
        error = *problem;
      } else if (!error.empty()) {
        names.insert(file.name());  // kept: a refused spec does not delete its job
      } else {
        names.insert(file.name());
        // Parsed through the stored-spec cache under the name the pipeline reads it by, so
        // that in optimus serve the resolver and the compiler find it parsed. A spec with
        // errors is parsed and checked again under its own file's name, which they name.
        spec::Diagnostics d;
        auto job = spec::LoadStoredJobSpec(file.name() + "/job.yaml", file.spec_yaml(), d);
        if (job && options.known_plugins != nullptr) {
          AwaitPlugins(*job, plugin_wait_until, known_plugins, &plugins_reread);
        }
        if (job) spec::ValidateJob(*job, options, d);
        if (job == nullptr || d.HasErrors()) {
          d = spec::Diagnostics();
          const std::string shown =
              file.source_path().empty() ? file.name() + "/job.yaml" : file.source_path();
          auto named = spec::LoadJobSpec(shown, file.spec_yaml(), d);
          if (named) spec::ValidateJob(*named, options, d);
        }
        if (job && job->name != file.name()) {
          error = "the spec names the job \"" + job->name + "\"";
        }
        for (spec::Diagnostic item : d.items()) {
          if (item.severity != spec::Severity::kError) continue;
          // The lines are those of the YAML the CLI wrote (this.yaml merged, or a recipe.json
          // converted), not of the user's file: its name and the field say where.
          item.line = item.column = 0;
          error += (error.empty() ? "" : "; ") + item.ToString();
        }
      }
      if (!error.empty()) {
        p.set_stage(Stage::STAGE_FAILED);
        p.set_error(error);
        resp->add_rejected()->set_job(file.name());
        resp->mutable_rejected()->rbegin()->set_error(error);
        tracked.push_back(p);
        continue;
      }
      events::v1::Submission s;
      auto* job = s.mutable_job();
      job->set_deployment_id(id);
      job->set_project(req->project());
      job->set_namespace_(req->namespace_());
      job->set_job_name(file.name());
      job->set_spec_yaml(file.spec_yaml());
      job->set_source_path(file.source_path());
      for (const auto& asset : file.assets()) {
        auto* a = job->add_assets();
        a->set_name(asset.name());
        const std::string digest = pipeline::Sha256Hex(asset.inline_());
        a->set_sha256(digest);
        if (asset.inline_().size() <= kInlineAssetLimit) {
          a->set_inline_(asset.inline_());
          continue;
        }
        const std::string blob_key = "assets/" + digest;
        if (absl::Status put = ctx_.blob.Put(blob_key, asset.inline_()); !put.ok()) {
          return ToGrpc(put);
        }
        a->set_blob_key(blob_key);
      }
      bus::OutgoingMessage& record =
          out.emplace_back(pipeline::ProtoRecord(pipeline::kSubmissionsTopic, key, s));
      record.headers.emplace_back(pipeline::kDeploymentHeader, id);
      record.headers.emplace_back(pipeline::kJobHeader, file.name());
      p.set_stage(Stage::STAGE_ACCEPTED);
      tracked.push_back(p);
    }
    events::v1::Submission sealed;
    auto* seal = sealed.mutable_sealed();
    seal->set_deployment_id(id);
    seal->set_project(req->project());
    seal->set_namespace_(req->namespace_());
    seal->set_mode(mode);
    seal->set_force(req->force());
    seal->set_batch_id(req->batch_id());
    seal->set_batch_size(req->batch_id().empty() ? 1 : std::max(1, req->batch_size()));
    // Jobs still read by jobs that stay are not deleted unless forced.
    std::map<std::string, std::string> blocked;  // job -> why it stays
    if (!req->force() &&
        (mode == events::v1::DEPLOY_MODE_DELETE || mode == events::v1::DEPLOY_MODE_REPLACE_ALL)) {
      core::v1::CheckDeletionRequest check;
      check.set_project(req->project());
      check.set_namespace_(req->namespace_());
      check.set_replace_all(mode == events::v1::DEPLOY_MODE_REPLACE_ALL);
      for (const std::string& name : names) check.add_keep_jobs(name);
      for (const auto& name : req->delete_jobs()) check.add_delete_jobs(name);
      auto answer = resolver_.CheckDeletion(check);
      if (!answer.ok()) return ToGrpc(answer.status());
      for (const auto& b : answer->blocked()) {
        std::string readers;
        for (const auto& d : b.downstreams()) readers += (readers.empty() ? "" : ", ") + d;
        blocked[b.job()] =
            "not deleted: still read by " + readers + " (change those first, or use --force)";
      }
    }
    for (const auto& [job, why] : blocked) {
      core::v1::JobProgress p;
      p.set_project(req->project());
      p.set_namespace_(req->namespace_());
      p.set_job(job);
      p.set_stage(Stage::STAGE_FAILED);
      p.set_error(why);
      tracked.push_back(p);
    }
    if (mode == events::v1::DEPLOY_MODE_DELETE) {
      for (const auto& name : req->delete_jobs()) {
        if (blocked.count(name) > 0) continue;
        seal->add_job_names(name);
        core::v1::JobProgress p;
        p.set_project(req->project());
        p.set_namespace_(req->namespace_());
        p.set_job(name);
        p.set_stage(Stage::STAGE_ACCEPTED);
        tracked.push_back(p);
      }
    } else {
      // Refused jobs stay listed: a spec that fails its checks now must not delete its job;
      // and so do jobs others still read.
      for (const std::string& name : names) seal->add_job_names(name);
      for (const auto& [job, why] : blocked) seal->add_job_names(job);
    }
    out.push_back(pipeline::ProtoRecord(pipeline::kSubmissionsTopic, key, sealed));
    absl::Status saved = ctx_.db.InTransaction([&](store::Transaction& tx) -> absl::Status {
      if (absl::Status st = RecordDeployment(tx, id, req->project(), req->namespace_(), tracked);
          !st.ok()) {
        return st;
      }
      return ctx_.outbox.EnqueueAll(tx, std::move(out));
    });
    if (!saved.ok()) return ToGrpc(saved);
    resp->set_deployment_id(id);
    resp->set_accepted(static_cast<int32_t>(tracked.size()) - resp->rejected_size());
    LOG_INFO("deployment accepted", {{"deployment_id", id},
                                     {"project", req->project()},
                                     {"namespace", req->namespace_()},
                                     {"jobs", static_cast<int64_t>(req->jobs_size())},
                                     {"rejected", static_cast<int64_t>(resp->rejected_size())}});
    return grpc::Status::OK;
  }

  grpc::Status Validate(grpc::ServerContext* context, const core::v1::ValidateRequest* req,
                        core::v1::ValidateResponse* resp) override {
    if (grpc::Status allowed =
            rpc::Authorize(context, ctx_.authenticator,
                           "optimus.core.v1.DeploymentService/Validate", req->project());
        !allowed.ok()) {
      return allowed;
    }
    if (req->project().empty() || req->namespace_().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "validation needs a project and a namespace");
    }
    if (req->jobs_size() > 0 && req->job_names_size() > 0) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "give the specs to validate or the names of stored jobs, not both");
    }
    if (req->deletion() && req->job_names_size() == 0) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "validation for deletion needs the names of stored jobs");
    }
    // Tenant: the project and the namespace are registered.
    std::string tenant;
    if (auto project = ingest::GetProject(ctx_.db, req->project()); !project.ok()) {
      tenant = std::string(project.status().message());
    } else if (std::none_of(project->namespaces().begin(), project->namespaces().end(),
                            [&](const auto& ns) { return ns.name() == req->namespace_(); })) {
      tenant = "namespace " + req->namespace_() + " is not registered in project " +
               req->project() + " (optimus namespace register)";
    }
    std::set<std::string> known_plugins = RereadPlugins();
    spec::JobValidationOptions options;
    options.hooks = spec::ScheduleValidationHooks();
    options.known_plugins = known_plugins.empty() ? nullptr : &known_plugins;
    struct Item {
      std::string name, yaml, shown;
      bool stored = false;
    };
    std::vector<Item> items;
    for (const auto& file : req->jobs()) {
      items.push_back(
          {file.name(), file.spec_yaml(),
           file.source_path().empty() ? file.name() + "/job.yaml" : file.source_path()});
    }
    std::map<std::string, std::string> missing;  // stored job asked for -> why it is not there
    if (req->job_names_size() > 0) {
      core::v1::ListJobSpecsRequest list;
      list.set_project(req->project());
      list.set_namespace_(req->namespace_());
      auto stored = resolver_.ListJobSpecs(list);
      if (!stored.ok()) return ToGrpc(stored.status());
      std::map<std::string, std::string> yaml_of;
      for (const auto& j : stored->jobs()) yaml_of[j.name()] = j.spec_yaml();
      for (const auto& name : req->job_names()) {
        auto y = yaml_of.find(name);
        if (y == yaml_of.end()) {
          missing[name] = "no job " + name + " in namespace " + req->namespace_();
          continue;
        }
        items.push_back({name, y->second, name + "/job.yaml", true});
      }
    }
    auto stage = [](core::v1::JobValidation& v, const std::string& name,
                    const std::vector<std::string>& errors, const std::vector<std::string>& notes) {
      auto* st = v.add_stages();
      st->set_name(name);
      for (const auto& e : errors) st->add_messages(e);
      for (const auto& n : notes) st->add_messages(n);
      st->set_success(errors.empty());
    };
    for (const auto& [name, why] : missing) {
      auto& v = *resp->add_jobs();
      v.set_job(name);
      stage(v, "validation preparation", {why}, {});
    }
    for (const Item& item : items) {
      auto& v = *resp->add_jobs();
      v.set_job(item.name);
      // The spec's own checks, sorted into Optimus's stages by the field they are about.
      spec::Diagnostics d;
      auto job = spec::LoadJobSpec(item.shown, item.yaml, d);
      if (job) spec::ValidateJob(*job, options, d);
      std::vector<std::string> prep, prep_notes, window, window_notes, plugin, plugin_notes;
      if (job && job->name != item.name) {
        prep.push_back("the spec names the job \"" + job->name + "\"");
      }
      for (const auto& diag : d.items()) {
        const std::string& f = diag.field_path;
        const bool is_window = f.rfind("window", 0) == 0 || f.rfind("task.window", 0) == 0;
        const bool is_plugin = !is_window && (f.rfind("task", 0) == 0 || f.rfind("hooks", 0) == 0);
        const bool error = diag.severity == spec::Severity::kError;
        auto& bucket = is_window   ? (error ? window : window_notes)
                       : is_plugin ? (error ? plugin : plugin_notes)
                                   : (error ? prep : prep_notes);
        bucket.push_back(diag.ToString());
      }
      stage(v, "validation preparation", prep, prep_notes);
      stage(v, "tenant validation",
            tenant.empty() ? std::vector<std::string>{} : std::vector<std::string>{tenant}, {});
      stage(v, "window validation", window, window_notes);
      stage(v, "plugin validation", plugin, plugin_notes);
      if (!item.stored) continue;
      // A stored job is in the resolver's graph: its upstreams and cycles are known.
      core::v1::GetLineageRequest asked;
      asked.set_project(req->project());
      asked.set_job(item.name);
      auto lineage = resolver_.GetLineage(asked);
      std::vector<std::string> upstream, cyclic;
      if (!lineage.ok()) {
        upstream.push_back(std::string(lineage.status().message()));
      } else {
        for (const auto& ref : lineage->unknown_upstreams()) {
          upstream.push_back("dependency " + ref + " names no job of this server");
        }
        if (!lineage->cycle().empty()) {
          std::string path;
          for (const auto& j : lineage->cycle()) path += (path.empty() ? "" : " -> ") + j;
          cyclic.push_back("cyclic dependency: " + path);
        }
      }
      stage(v, "upstream validation", upstream, {});
      stage(v, "cyclic validation", cyclic, {});
    }
    if (req->deletion() && !items.empty()) {
      core::v1::CheckDeletionRequest check;
      check.set_project(req->project());
      check.set_namespace_(req->namespace_());
      for (const Item& item : items) check.add_delete_jobs(item.name);
      auto answer = resolver_.CheckDeletion(check);
      std::map<std::string, std::string> blocked;
      if (!answer.ok()) {
        for (const Item& item : items) blocked[item.name] = std::string(answer.status().message());
      } else {
        for (const auto& b : answer->blocked()) {
          std::string readers;
          for (const auto& r : b.downstreams()) readers += (readers.empty() ? "" : ", ") + r;
          blocked[b.job()] = "still read by " + readers;
        }
      }
      for (auto& v : *resp->mutable_jobs()) {
        if (missing.count(v.job()) > 0) continue;
        auto b = blocked.find(v.job());
        stage(v, "validation for deletion",
              b == blocked.end() ? std::vector<std::string>{} : std::vector<std::string>{b->second},
              {});
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status WatchDeployment(grpc::ServerContext* context,
                               const core::v1::WatchDeploymentRequest* req,
                               grpc::ServerWriter<core::v1::DeploymentStatus>* writer) override {
    // An accepted token first (401/403 before anything is looked up), then one of the
    // deployment's project.
    constexpr char kWatch[] = "optimus.core.v1.DeploymentService/WatchDeployment";
    if (grpc::Status allowed =
            rpc::Authorize(context, ctx_.authenticator, kWatch, "", rpc::Access::kAnyToken);
        !allowed.ok()) {
      return allowed;
    }
    if (ctx_.authenticator != nullptr) {
      auto project = DeploymentProject(ctx_.db, req->deployment_id());
      if (!project.ok()) return rpc::ToGrpcStatus(project.status());
      if (grpc::Status allowed =
              rpc::Authorize(context, ctx_.authenticator, kWatch, *project, rpc::Access::kProject);
          !allowed.ok()) {
        return allowed;
      }
    }
    // The status is read again only when progress for this deployment was committed, and at
    // most every interval: many watchers of a large deploy would otherwise re-read their
    // deployments on every batch of every other one. Reading a large deployment costs more, so
    // its watchers read it less often (40 ms for a few jobs, 90 ms for 250, at most 250 ms).
    auto interval = std::chrono::milliseconds(40);
    const std::string& id = req->deployment_id();
    int64_t seq = 0;
    uint64_t seen = 0;
    for (;;) {
      const auto read_at = std::chrono::steady_clock::now();
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto v = versions_.find(id);
        seen = v == versions_.end() ? 0 : v->second;
      }
      int64_t last = seq;
      auto status = Status(ctx_.db, id, seq, &last);
      if (!status.ok()) return ToGrpc(status.status());
      if (last != seq || status->done() || seq == 0) {
        if (!writer->Write(*status)) return grpc::Status::CANCELLED;
      }
      seq = std::max<int64_t>(last, 1);
      interval = std::chrono::milliseconds(std::min(250, 40 + status->total() / 5));
      if (status->done()) {
        std::lock_guard<std::mutex> lock(mu_);
        versions_.erase(id);  // another watcher of it finds it done on its next read
        return grpc::Status::OK;
      }
      std::this_thread::sleep_until(read_at + interval);
      std::unique_lock<std::mutex> lock(mu_);
      changed_.wait_for(lock, std::chrono::milliseconds(200), [&] {
        auto v = versions_.find(id);
        return stopping_ || (v == versions_.end() ? 0 : v->second) != seen;
      });
      if (stopping_ || context->IsCancelled()) {
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is stopping");
      }
    }
  }

 private:
  absl::Status Consume(store::Transaction& tx, const bus::Message& m) {
    if (m.topic == pipeline::kProjectsTopic) return ApplyProjectRecord(tx, m);
    if (m.topic == pipeline::kPluginsTopic) {
      if (m.tombstone) return absl::OkStatus();
      auto record = pipeline::ParseRecord<events::v1::PluginRecord>(m);
      if (!record.ok()) return record.status();
      auto saved = tx.Execute(
          "INSERT INTO plugins (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", {record->name()});
      if (!saved.ok()) return saved.status();
      std::lock_guard<std::mutex> lock(mu_);
      plugins_.insert(record->name());
      return absl::OkStatus();
    }
    auto progress = pipeline::ParseRecord<events::v1::DeploymentProgress>(m);
    if (!progress.ok()) return progress.status();
    {
      std::lock_guard<std::mutex> lock(mu_);
      touched_.insert(progress->deployment_id());
    }
    pending_.push_back(*std::move(progress));
    return absl::OkStatus();
  }

  static events::v1::NamespaceSubmission NamespaceSubmission(const core::v1::Namespace& ns) {
    events::v1::NamespaceSubmission n;
    n.set_name(ns.name());
    *n.mutable_config() = ns.config();
    *n.mutable_variables() = ns.variables();
    return n;
  }

  // Records a registration as a deployment (with no jobs) and submits it; `*id` is its id.
  grpc::Status SubmitProject(events::v1::ProjectSubmission project,
                             const std::string& namespace_name, std::string* id) {
    *id = bus::NewEventId();
    project.set_deployment_id(*id);
    events::v1::Submission s;
    *s.mutable_project() = std::move(project);
    const std::string& name = s.project().name();
    absl::Status saved = ctx_.db.InTransaction([&](store::Transaction& tx) -> absl::Status {
      if (absl::Status st = RecordDeployment(tx, *id, name, namespace_name, {}); !st.ok()) {
        return st;
      }
      return ctx_.outbox.Enqueue(tx, pipeline::ProtoRecord(pipeline::kSubmissionsTopic, name, s));
    });
    return ToGrpc(saved);
  }

  // The plugins every replica has consumed (the shared table), merged into this one's.
  std::set<std::string> RereadPlugins() {
    auto names = ctx_.db.Execute("SELECT name FROM plugins");
    std::lock_guard<std::mutex> lock(mu_);
    if (names.ok()) {
      for (const auto& r : names->rows) plugins_.insert(r.Text(0));
    }
    return plugins_;
  }

  // Several ingest replicas share one consumer group, so each consumes the plugin records of
  // its own partitions; all of them land in the shared `plugins` table. A job naming a plugin
  // this replica has not consumed reads the table once per deployment (`*reread`) before it is
  // refused. In its first minute ingest may still be reading the plugins topic (a new consumer
  // gets its records over a few polls): a job naming a plugin whose record is on its way would
  // be refused as naming an unknown one. Then waits for the job's plugins until `until`, and
  // refreshes `known`.
  void AwaitPlugins(const spec::JobSpec& job, std::chrono::steady_clock::time_point until,
                    std::set<std::string>& known, bool* reread) {
    std::vector<std::string> wanted = {job.task.name};
    for (const auto& hook : job.hooks) wanted.push_back(hook.name);
    const auto missing = [&] {
      return std::any_of(wanted.begin(), wanted.end(),
                         [&](const std::string& n) { return !n.empty() && known.count(n) == 0; });
    };
    if (missing() && !*reread) {
      *reread = true;
      known = RereadPlugins();
    }
    while (missing() && std::chrono::steady_clock::now() - started_ < std::chrono::minutes(1) &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::lock_guard<std::mutex> lock(mu_);
      known = plugins_;
    }
  }

  app::Context& ctx_;
  std::unique_ptr<pipeline::ConsumerWorker> worker_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::mutex mu_;
  std::condition_variable changed_;
  std::set<std::string> plugins_;
  // Deployments with progress in the batch being applied, and per deployment how many batches
  // with its progress were committed (what watchers wait on); guarded by mu_.
  std::set<std::string> touched_;
  // Progress records of the batch being applied (the worker's thread only).
  std::vector<events::v1::DeploymentProgress> pending_;
  // Jobs of the batch that reached their end, by outcome; counted once the batch commits.
  std::map<std::string, double> outcomes_;
  prometheus::Family<prometheus::Counter>& outcomes_family_;
  std::map<std::string, uint64_t> versions_;
  static constexpr size_t kMaxVersions = 10000;
  std::atomic<bool> stopping_{false};
  ResolverClient resolver_;
};

IngestService::IngestService() = default;

config::Schema IngestService::ConfigSchema() const {
  config::Schema schema;
  schema.Add({.name = "ingest.lineage_host",
              .description = "gRPC host:port of dependency-resolver's LineageService, asked "
                             "before jobs are deleted; empty: this process's own gRPC server "
                             "(optimus serve)."});
  return schema;
}
IngestService::~IngestService() = default;

std::vector<store::Migration> IngestService::Migrations() const {
  return {{1, "deployments",
           "CREATE TABLE deployments (id TEXT PRIMARY KEY, project TEXT NOT NULL, namespace TEXT "
           "NOT NULL, total BIGINT NOT NULL, sealed INTEGER NOT NULL);"
           "CREATE TABLE deployment_jobs (deployment_id TEXT NOT NULL, project TEXT NOT NULL, "
           "namespace TEXT NOT NULL, job TEXT NOT NULL, stage INTEGER NOT NULL, error TEXT NOT "
           "NULL, cascaded INTEGER NOT NULL, seq BIGINT NOT NULL, "
           "PRIMARY KEY (deployment_id, project, job));"
           "CREATE INDEX deployment_jobs_seq ON deployment_jobs (seq);"
           "CREATE TABLE plugins (name TEXT PRIMARY KEY)"},
          {2, "recompiled jobs",
           "ALTER TABLE deployment_jobs ADD COLUMN recompiled INTEGER NOT NULL DEFAULT 0"},
          {3, "job warnings",
           "ALTER TABLE deployment_jobs ADD COLUMN warning TEXT NOT NULL DEFAULT ''"},
          {4, "projects and deployment errors",
           "ALTER TABLE deployments ADD COLUMN error TEXT NOT NULL DEFAULT '';"
           "CREATE TABLE projects (name TEXT PRIMARY KEY, record ${BLOB} NOT NULL)"},
          SecretsMigration()};
}

absl::Status IngestService::Start(app::Context& context) {
  if (absl::Status s = pipeline::EnsurePipelineTopics(context.bus); !s.ok()) return s;
  impl_ = std::make_unique<Impl>(context);
  context.grpc.AddService(impl_.get(), "optimus.core.v1.DeploymentService");
  std::optional<secrets::SecretBox> box;
  if (!context.app_key.empty()) {
    auto made = secrets::SecretBox::FromAppKey(context.app_key);
    if (!made.ok()) return made.status();
    box = *std::move(made);
  }
  secrets_ = std::make_unique<SecretsApi>(context.db, context.outbox, std::move(box),
                                          context.authenticator);
  context.grpc.AddService(secrets_.get(), "optimus.core.v1.SecretService");
  AddSecretRoutes(context.http, *secrets_);
  AddRestRoutes(
      context.http, *impl_, context.db,
      [this](const core::v1::ListJobSpecsRequest& r) { return impl_->resolver().ListJobSpecs(r); },
      [this](const core::v1::GetLineageRequest& r) { return impl_->resolver().GetLineage(r); },
      context.authenticator);
  if (const std::string host = context.config.String("ingest.lineage_host"); !host.empty()) {
    lineage_proxy_ = MakeLineageProxy(host, context.authenticator, context.internal_token);
    context.grpc.AddService(lineage_proxy_.get(), "optimus.core.v1.LineageService");
  }
  return impl_->Start();
}

void IngestService::Stop() {
  if (impl_) impl_->Stop();
}

}  // namespace optimus::ingest
