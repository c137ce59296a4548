// The REST routes: each parses its JSON body (both field spellings, unknown fields ignored as
// grpc-gateway does), calls the DeploymentService handler and answers in Optimus's shape.
#include "optimus/ingest/rest.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "optimus/ingest/deployments.h"
#include "optimus/ingest/projects.h"
#include "optimus/pipeline/change_events.h"
#include "optimus/rpc/proto_json.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/optimus_json.h"
#include "optimus/spec/writer.h"

namespace optimus::ingest {
namespace {

using nlohmann::json;
using rpc::HttpRequest;
using rpc::HttpResponse;

constexpr char kProjects[] = "/api/v1beta1/project";
constexpr char kProject[] = "/api/v1beta1/project/{project_name}";
constexpr char kNamespaces[] = "/api/v1beta1/project/{project_name}/namespace";
constexpr char kNamespace[] = "/api/v1beta1/project/{project_name}/namespace/{namespace_name}";

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

// The request's JSON body (an object; an empty body is an empty object).
absl::StatusOr<json> BodyObject(const HttpRequest& request) {
  json body = json::object();
  if (request.body().find_first_not_of(" \t\r\n") != std::string::npos) {
    body = json::parse(request.body(), nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) return absl::InvalidArgumentError("the body is not valid JSON");
    if (!body.is_object()) return absl::InvalidArgumentError("the body is not a JSON object");
  }
  return body;
}

// The member `field` of the request's JSON body (an object), or why there is none.
absl::StatusOr<json> BodyField(const HttpRequest& request, const std::string& field,
                               const std::string& wanted) {
  auto parsed = BodyObject(request);
  if (!parsed.ok()) return parsed.status();
  const json& body = *parsed;
  const json* value = spec::ProtoJsonField(body, field);
  if (value == nullptr) return absl::InvalidArgumentError(field + ": expected " + wanted);
  return *value;
}

absl::StatusOr<std::string> Text(const json& object, const std::string& field,
                                 const std::string& where) {
  const json* v = spec::ProtoJsonField(object, field);
  if (v == nullptr || v->is_null()) return std::string();
  if (!v->is_string()) return absl::InvalidArgumentError(where + field + ": expected a string");
  return v->get<std::string>();
}

// A map<string, string> field; numbers and booleans are taken as their text.
absl::Status Map(const json& object, const std::string& field, const std::string& where,
                 google::protobuf::Map<std::string, std::string>* out) {
  const json* v = spec::ProtoJsonField(object, field);
  if (v == nullptr || v->is_null()) return absl::OkStatus();
  if (!v->is_object()) return absl::InvalidArgumentError(where + field + ": expected an object");
  for (const auto& [k, value] : v->items()) {
    if (value.is_string()) {
      (*out)[k] = value.get<std::string>();
    } else if (value.is_number() || value.is_boolean()) {
      (*out)[k] = value.dump();
    } else {
      return absl::InvalidArgumentError(where + field + "." + k + ": expected a string");
    }
  }
  return absl::OkStatus();
}

// A project's or namespace's name, config and variables, from an object of the body.
absl::StatusOr<core::v1::Namespace> Named(const json& object, const std::string& field) {
  const std::string where = field + ".";
  if (!object.is_object()) {
    return absl::InvalidArgumentError(field + ": expected an object with the " + field + "'s name");
  }
  core::v1::Namespace out;
  auto name = Text(object, "name", where);
  if (!name.ok()) return name.status();
  out.set_name(*name);
  if (absl::Status s = Map(object, "config", where, out.mutable_config()); !s.ok()) return s;
  if (absl::Status s = Map(object, "variables", where, out.mutable_variables()); !s.ok()) {
    return s;
  }
  return out;
}

json MapJson(const google::protobuf::Map<std::string, std::string>& map) {
  json out = json::object();
  for (const auto& [k, v] : map) out[k] = v;
  return out;
}

json NamespaceJson(const core::v1::Namespace& ns) {
  return {{"name", ns.name()},
          {"config", MapJson(ns.config())},
          {"variables", MapJson(ns.variables())}};
}

json ProjectJson(const core::v1::ProjectInfo& p) {
  return {
      {"name", p.name()}, {"config", MapJson(p.config())}, {"variables", MapJson(p.variables())}};
}

// A route answering JSON, or the error's status and message.
rpc::HttpHandler JsonRoute(std::function<absl::StatusOr<json>(const HttpRequest&)> handler) {
  return [handler = std::move(handler)](const HttpRequest& request) {
    auto body = handler(request);
    if (!body.ok()) return HttpResponse::Error(body.status());
    return HttpResponse::Json(body->dump());
  };
}

json Submitted(const std::string& what, const std::string& deployment_id) {
  return json{{"success", true},
              {"message", what + " submitted; follow /api/v1beta1/deployment/" + deployment_id},
              {"deploymentId", deployment_id}};
}

// One namespace's specs as a deployment, answered the way Optimus answers Add/Update/Upsert:
// the jobs taken (here: accepted, then built by the pipeline) and a log of the rest, plus the
// deployment id to follow.
absl::StatusOr<json> DeploySpecs(core::v1::DeploymentService::Service& service,
                                 const HttpRequest& request, const json& specs) {
  core::v1::DeployRequest deploy;
  deploy.set_project(request.PathParam("project_name"));
  deploy.set_namespace_(request.PathParam("namespace_name"));
  deploy.set_mode(events::v1::DEPLOY_MODE_UPSERT);
  if (!specs.is_array()) return absl::InvalidArgumentError("specs: expected a list");
  for (size_t i = 0; i < specs.size(); ++i) {
    auto job = spec::JobSpecFromOptimusJson(specs[i], absl::StrCat("specs[", i, "]"));
    if (!job.ok()) return job.status();
    auto* file = deploy.add_jobs();
    file->set_name(job->name);
    file->set_spec_yaml(spec::WriteJobSpec(*job));
    file->set_source_path(absl::StrCat("REST specs[", i, "] (", job->name, ")"));
    for (const auto& [name, content] : job->assets) {
      auto* asset = file->add_assets();
      asset->set_name(name);
      asset->set_inline_(content);
    }
  }
  core::v1::DeployResponse response;
  if (auto s = service.Deploy(nullptr, &deploy, &response); !s.ok()) return FromGrpc(s);
  std::vector<std::string> accepted, failed;
  std::string log;
  for (const auto& file : deploy.jobs()) {
    bool refused = false;
    for (const auto& r : response.rejected()) {
      if (r.job() != file.name()) continue;
      refused = true;
      failed.push_back(r.job());
      absl::StrAppend(&log, r.job(), ": ", r.error(), "\n");
    }
    if (!refused) accepted.push_back(file.name());
  }
  return json{{"log", log},
              {"successfulJobNames", accepted},
              {"skippedJobNames", json::array()},
              {"failedJobNames", failed},
              {"deploymentId", response.deployment_id()}};
}

// A stored job as Optimus's JobSpecification JSON (grpc-gateway names, defaults printed).
absl::StatusOr<json> JobSpecificationJson(const core::v1::JobSpecEntry& entry) {
  spec::Diagnostics d;
  auto job = spec::LoadJobSpec(entry.name() + "/job.yaml", entry.spec_yaml(), d);
  if (!job) {
    return absl::InternalError("the stored spec of " + entry.name() + " does not load: " +
                               (d.items().empty() ? "" : d.items().front().ToString()));
  }
  const spec::StringMap assets(entry.assets().begin(), entry.assets().end());
  pipeline::OptimusJobSpecification out = pipeline::ToOptimusJobSpecification(*job, assets);
  out.set_destination(entry.destination());
  for (const auto& s : entry.sources()) out.add_sources(s);
  auto text = rpc::ToJson(out);
  if (!text.ok()) return text.status();
  return json::parse(*text);
}

// The stored jobs matching `request`, each as Optimus's JobSpecification JSON; NotFound when a
// single job was asked for and none matched.
absl::StatusOr<std::vector<std::pair<core::v1::JobSpecEntry, json>>> FindJobs(
    const ListJobSpecsFn& list, const core::v1::ListJobSpecsRequest& request) {
  auto found = list(request);
  if (!found.ok()) return found.status();
  if (!request.job().empty() && found->jobs().empty()) {
    return absl::NotFoundError(
        "no job " + request.job() +
        (request.namespace_().empty() ? "" : " in namespace " + request.namespace_()) +
        " of project " + request.project());
  }
  std::vector<std::pair<core::v1::JobSpecEntry, json>> out;
  for (const auto& entry : found->jobs()) {
    auto spec = JobSpecificationJson(entry);
    if (!spec.ok()) return spec.status();
    out.emplace_back(entry, *std::move(spec));
  }
  return out;
}

// Optimus's Log message: {level, message}.
json Notice(const char* level, const std::string& message) {
  return json{{"level", level}, {"message", message}};
}

// A job of this server as Optimus's JobInspectResponse.JobDependency.
json Dependency(const core::v1::JobRef& ref) {
  return json{
      {"name", ref.name()}, {"projectName", ref.project()}, {"namespaceName", ref.namespace_()}};
}

// Optimus's JobInspectResponse for a stored job: its spec, destination and sources, then its
// upstreams (every one is on this server: internal) and downstreams, with what is wrong as
// notices. `notices` go first in the basic section.
json InspectJson(const json& spec, const core::v1::GetLineageResponse& l, json notices) {
  if (!l.shared_destination().empty()) {
    std::string others;
    for (const auto& o : l.shared_destination())
      absl::StrAppend(&others, others.empty() ? "" : ", ", o);
    notices.push_back(
        Notice("LEVEL_WARNING", l.destination() + " is also written by " + others +
                                    "; jobs reading it depend on all of its writers"));
  }
  json internal = json::array(), downstream = json::array(), unknown = json::array(),
       http = json::array(), upstream_notices = json::array();
  for (const auto& u : l.upstreams()) internal.push_back(Dependency(u));
  for (const auto& d : l.downstreams()) downstream.push_back(Dependency(d));
  for (const auto& urn : l.unknown_sources()) unknown.push_back({{"resourceDestination", urn}});
  for (const auto& ref : l.unknown_upstreams()) {
    const size_t slash = ref.find('/');
    unknown.push_back(slash == std::string::npos ? json{{"jobName", ref}}
                                                 : json{{"jobName", ref.substr(slash + 1)},
                                                        {"projectName", ref.substr(0, slash)}});
  }
  if (const auto deps = spec.find("dependencies"); deps != spec.end() && deps->is_array()) {
    for (const auto& d : *deps) {
      if (const auto h = d.find("httpDependency"); h != d.end() && h->is_object())
        http.push_back(*h);
    }
  }
  if (!l.cycle().empty()) {
    std::string path;
    for (const auto& j : l.cycle()) absl::StrAppend(&path, path.empty() ? "" : " -> ", j);
    upstream_notices.push_back(Notice("LEVEL_ERROR", "cyclic dependency: " + path));
  }
  if (!l.error().empty()) upstream_notices.push_back(Notice("LEVEL_ERROR", l.error()));
  json sources = json::array();
  for (const auto& s : l.sources()) sources.push_back(s);
  return json{
      {"basicInfo",
       {{"job", spec},
        {"source", std::move(sources)},
        {"destination", l.destination()},
        {"notice", std::move(notices)}}},
      {"upstreams",
       {{"externalDependency", json::array()},
        {"internalDependency", std::move(internal)},
        {"httpDependency", std::move(http)},
        {"unknownDependencies", std::move(unknown)},
        {"notice", std::move(upstream_notices)}}},
      {"downstreams", {{"downstreamJobs", std::move(downstream)}, {"notice", json::array()}}}};
}

core::v1::ListJobSpecsRequest JobsOf(const std::string& project, const std::string& namespace_name,
                                     const std::string& job) {
  core::v1::ListJobSpecsRequest request;
  request.set_project(project);
  request.set_namespace_(namespace_name);
  request.set_job(job);
  return request;
}

}  // namespace

void AddRestRoutes(rpc::HttpServer& http, core::v1::DeploymentService::Service& service,
                   store::Database& db, ListJobSpecsFn list_job_specs, GetLineageFn get_lineage,
                   const rpc::Authenticator* authenticator) {
  // Optimus's Validate: specs from outside, or stored jobs (optionally: may they be deleted).
  http.Post(std::string(kNamespace) + "/job/validate",
            JsonRoute([&service](const HttpRequest& request) -> absl::StatusOr<json> {
              auto body = BodyObject(request);
              if (!body.ok()) return body.status();
              core::v1::ValidateRequest validate;
              validate.set_project(request.PathParam("project_name"));
              validate.set_namespace_(request.PathParam("namespace_name"));
              const json* outside = spec::ProtoJsonField(*body, "from_outside");
              const json* server = spec::ProtoJsonField(*body, "from_server");
              if ((outside == nullptr) == (server == nullptr)) {
                return absl::InvalidArgumentError(
                    "expected one of fromOutside {jobs} and fromServer {jobNames, deletionMode}");
              }
              if (outside != nullptr) {
                const json* jobs =
                    outside->is_object() ? spec::ProtoJsonField(*outside, "jobs") : nullptr;
                if (jobs == nullptr || !jobs->is_array()) {
                  return absl::InvalidArgumentError("fromOutside.jobs: expected a list");
                }
                for (size_t i = 0; i < jobs->size(); ++i) {
                  const std::string where = absl::StrCat("fromOutside.jobs[", i, "]");
                  auto job = spec::JobSpecFromOptimusJson((*jobs)[i], where);
                  if (!job.ok()) return job.status();
                  auto* file = validate.add_jobs();
                  file->set_name(job->name);
                  file->set_spec_yaml(spec::WriteJobSpec(*job));
                  file->set_source_path(absl::StrCat("REST ", where, " (", job->name, ")"));
                }
              } else {
                const json* names =
                    server->is_object() ? spec::ProtoJsonField(*server, "job_names") : nullptr;
                if (names == nullptr || !names->is_array()) {
                  return absl::InvalidArgumentError("fromServer.jobNames: expected a list");
                }
                for (const auto& n : *names) {
                  if (!n.is_string()) {
                    return absl::InvalidArgumentError("fromServer.jobNames: expected strings");
                  }
                  validate.add_job_names(n.get<std::string>());
                }
                if (const json* d = spec::ProtoJsonField(*server, "deletion_mode");
                    d != nullptr && d->is_boolean()) {
                  validate.set_deletion(d->get<bool>());
                }
              }
              core::v1::ValidateResponse response;
              if (auto s = service.Validate(nullptr, &validate, &response); !s.ok()) {
                return FromGrpc(s);
              }
              json results = json::object();
              for (const auto& job : response.jobs()) {
                json list = json::array();
                for (const auto& stage : job.stages()) {
                  list.push_back({{"name", stage.name()},
                                  {"messages", std::vector<std::string>(stage.messages().begin(),
                                                                        stage.messages().end())},
                                  {"success", stage.success()}});
                }
                results[job.job()] = {{"results", std::move(list)}};
              }
              return json{{"resultsByJobName", std::move(results)}};
            }));
  // Optimus's JobInspect, for a deployed job: by `jobName`, or the name of the `spec` given
  // (which is not resolved here: the answer says so).
  http.Post(
      std::string(kNamespace) + "/job/inspect",
      JsonRoute([list_job_specs, get_lineage](const HttpRequest& request) -> absl::StatusOr<json> {
        auto body = BodyObject(request);
        if (!body.ok()) return body.status();
        auto job = Text(*body, "job_name", "");
        if (!job.ok()) return job.status();
        json notices = json::array();
        if (const json* spec = spec::ProtoJsonField(*body, "spec"); spec && spec->is_object()) {
          auto named = Text(*spec, "name", "spec.");
          if (!named.ok()) return named.status();
          if (job->empty()) *job = *named;
          notices.push_back(Notice(
              "LEVEL_WARNING",
              "the spec in the request is not resolved by the server: this is the lineage of " +
                  *job + " as deployed (deploy the spec first, or run optimus job inspect)"));
        }
        if (job->empty()) return absl::InvalidArgumentError("jobName: expected the job to inspect");
        const std::string project = request.PathParam("project_name");
        auto jobs =
            FindJobs(list_job_specs, JobsOf(project, request.PathParam("namespace_name"), *job));
        if (!jobs.ok()) return jobs.status();
        core::v1::GetLineageRequest asked;
        asked.set_project(project);
        asked.set_job(*job);
        auto lineage = get_lineage(asked);
        if (!lineage.ok()) return lineage.status();
        return InspectJson(jobs->front().second, *lineage, std::move(notices));
      }));
  // Reading jobs: Optimus's List, Get and GetJobSpecifications.
  http.Get(std::string(kNamespace) + "/job",
           JsonRoute([list_job_specs](const HttpRequest& request) -> absl::StatusOr<json> {
             auto jobs = FindJobs(list_job_specs, JobsOf(request.PathParam("project_name"),
                                                         request.PathParam("namespace_name"), ""));
             if (!jobs.ok()) return jobs.status();
             const bool ignore_assets = request.Query("ignore_assets") == "true";
             json list = json::array();
             for (auto& [entry, spec] : *jobs) {
               if (ignore_assets) spec["assets"] = json::object();
               list.push_back(std::move(spec));
             }
             return json{{"jobs", std::move(list)}};
           }));
  http.Get(std::string(kNamespace) + "/job/{job_name}",
           JsonRoute([list_job_specs](const HttpRequest& request) -> absl::StatusOr<json> {
             auto jobs = FindJobs(list_job_specs, JobsOf(request.PathParam("project_name"),
                                                         request.PathParam("namespace_name"),
                                                         request.PathParam("job_name")));
             if (!jobs.ok()) return jobs.status();
             return json{{"spec", std::move(jobs->front().second)}};
           }));
  http.Get(
      "/api/v1beta1/jobs",
      JsonRoute([list_job_specs](const HttpRequest& request) -> absl::StatusOr<json> {
        auto jobs = FindJobs(list_job_specs,
                             JobsOf(request.Query("project_name"), request.Query("namespace_name"),
                                    request.Query("job_name")));
        if (!jobs.ok()) return jobs.status();
        json responses = json::array();
        for (auto& [entry, spec] : *jobs) {
          responses.push_back({{"projectName", entry.project()},
                               {"namespaceName", entry.namespace_()},
                               {"job", std::move(spec)}});
        }
        return json{{"jobs", json::array()}, {"jobSpecificationResponses", std::move(responses)}};
      }));

  http.Post(
      kProjects,
      JsonRoute([&service, &db, authenticator](const HttpRequest& request) -> absl::StatusOr<json> {
        auto project = BodyField(request, "project", "an object with the project's name");
        if (!project.ok()) return project.status();
        auto named = Named(*project, "project");
        if (!named.ok()) return named.status();
        if (absl::Status allowed = MayRegisterProject(
                authenticator, "POST /api/v1beta1/project", named->name(),
                GetProject(db, named->name()).ok(), request.Header("Authorization"));
            !allowed.ok()) {
          return allowed;
        }
        core::v1::RegisterProjectRequest register_project;
        register_project.set_name(named->name());
        *register_project.mutable_config() = named->config();
        *register_project.mutable_variables() = named->variables();
        // Registering again must not drop what the body does not mention: it has no presets
        // field at all, and may leave out config or variables.
        register_project.set_keep_presets(true);
        register_project.set_keep_config(!project->contains("config"));
        register_project.set_keep_variables(!project->contains("variables"));
        core::v1::RegisterProjectResponse response;
        if (auto s = service.RegisterProject(nullptr, &register_project, &response); !s.ok()) {
          return FromGrpc(s);
        }
        return Submitted("project " + named->name(), response.deployment_id());
      }));
  http.Get(kProjects, JsonRoute([&service](const HttpRequest&) -> absl::StatusOr<json> {
             core::v1::ListProjectsRequest list;
             core::v1::ListProjectsResponse response;
             if (auto s = service.ListProjects(nullptr, &list, &response); !s.ok())
               return FromGrpc(s);
             json projects = json::array();
             for (const auto& p : response.projects()) projects.push_back(ProjectJson(p));
             return json{{"projects", projects}};
           }));
  auto get_project =
      [&service](const HttpRequest& request) -> absl::StatusOr<core::v1::ProjectInfo> {
    core::v1::GetProjectRequest get;
    get.set_name(request.PathParam("project_name"));
    core::v1::ProjectInfo info;
    if (auto s = service.GetProject(nullptr, &get, &info); !s.ok()) return FromGrpc(s);
    return info;
  };
  http.Get(kProject, JsonRoute([get_project](const HttpRequest& request) -> absl::StatusOr<json> {
             auto p = get_project(request);
             if (!p.ok()) return p.status();
             return json{{"project", ProjectJson(*p)}};
           }));
  http.Post(kNamespaces, JsonRoute([&service](const HttpRequest& request) -> absl::StatusOr<json> {
              auto ns = BodyField(request, "namespace", "an object with the namespace's name");
              if (!ns.ok()) return ns.status();
              auto named = Named(*ns, "namespace");
              if (!named.ok()) return named.status();
              core::v1::RegisterNamespaceRequest register_namespace;
              register_namespace.set_project(request.PathParam("project_name"));
              *register_namespace.mutable_namespace_() = *named;
              core::v1::RegisterNamespaceResponse response;
              if (auto s = service.RegisterNamespace(nullptr, &register_namespace, &response);
                  !s.ok()) {
                return FromGrpc(s);
              }
              return Submitted("namespace " + named->name(), response.deployment_id());
            }));
  http.Get(kNamespaces,
           JsonRoute([get_project](const HttpRequest& request) -> absl::StatusOr<json> {
             auto p = get_project(request);
             if (!p.ok()) return p.status();
             json namespaces = json::array();
             for (const auto& ns : p->namespaces()) namespaces.push_back(NamespaceJson(ns));
             return json{{"namespaces", namespaces}};
           }));
  http.Get(kNamespace, JsonRoute([get_project](const HttpRequest& request) -> absl::StatusOr<json> {
             auto p = get_project(request);
             if (!p.ok()) return p.status();
             const std::string& wanted = request.PathParam("namespace_name");
             for (const auto& ns : p->namespaces()) {
               if (ns.name() == wanted) return json{{"namespace", NamespaceJson(ns)}};
             }
             return absl::NotFoundError("namespace " + wanted + " is not registered in project " +
                                        p->name());
           }));

  // Job specifications. Optimus's Add refuses jobs that exist and Update jobs that do not;
  // here all three add or update (a deployment never deletes what it does not list).
  auto deploy_list = JsonRoute([&service](const HttpRequest& request) -> absl::StatusOr<json> {
    auto specs = BodyField(request, "specs", "a list of jobs");
    if (!specs.ok()) return specs.status();
    return DeploySpecs(service, request, *specs);
  });
  const std::string jobs = std::string(kNamespace) + "/jobs";
  http.Post(jobs, deploy_list);
  http.Put(jobs, deploy_list);
  http.Post(std::string(kNamespace) + "/jobs-upsert", deploy_list);
  http.Post(std::string(kNamespace) + "/job",
            JsonRoute([&service](const HttpRequest& request) -> absl::StatusOr<json> {
              auto spec = BodyField(request, "spec", "a job");
              if (!spec.ok()) return spec.status();
              return DeploySpecs(service, request, json::array({*spec}));
            }));
  http.Delete(std::string(kNamespace) + "/job/{job_name}",
              JsonRoute([&service, &db](const HttpRequest& request) -> absl::StatusOr<json> {
                core::v1::DeployRequest deploy;
                deploy.set_project(request.PathParam("project_name"));
                deploy.set_namespace_(request.PathParam("namespace_name"));
                deploy.set_mode(events::v1::DEPLOY_MODE_DELETE);
                deploy.add_delete_jobs(request.PathParam("job_name"));
                deploy.set_force(request.Query("force") == "true");
                core::v1::DeployResponse response;
                if (auto s = service.Deploy(nullptr, &deploy, &response); !s.ok())
                  return FromGrpc(s);
                // A job others still read is refused at once (recorded failed with the reason).
                int64_t last = 0;
                auto now = Status(db, response.deployment_id(), 0, &last);
                if (!now.ok()) return now.status();
                for (const auto& change : now->changes()) {
                  if (change.stage() == events::v1::STAGE_FAILED) {
                    return absl::FailedPreconditionError(change.job() + ": " + change.error());
                  }
                }
                return Submitted("deletion of " + request.PathParam("job_name"),
                                 response.deployment_id());
              }));

  http.Get(
      "/api/v1beta1/deployment/{deployment_id}", [&db, authenticator](const HttpRequest& request) {
        // Any accepted token reaches here; the deployment's project decides.
        auto project = DeploymentProject(db, request.PathParam("deployment_id"));
        if (!project.ok()) return HttpResponse::Error(project.status());
        if (auto allowed = rpc::Authorize(authenticator,
                                          {.route = "GET /api/v1beta1/deployment/{deployment_id}",
                                           .project = *project,
                                           .access = rpc::Access::kProject},
                                          request.Header("Authorization"));
            !allowed.ok()) {
          return HttpResponse::Error(allowed.status());
        }
        int64_t last = 0;
        auto status = Status(db, request.PathParam("deployment_id"), 0, &last);
        if (!status.ok()) return HttpResponse::Error(status.status());
        return rpc::ProtoResponse(*status);
      });
}

}  // namespace optimus::ingest
