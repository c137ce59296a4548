// optimus-runtime-context: a read model of jobs and projects from the compacted topics, and the
// run input every task pod's init container asks for (gRPC JobRunService and REST).
#include "optimus/runtime_context/runtime_context_service.h"

#include <grpcpp/grpcpp.h>

#include <mutex>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"
#include "optimus/blob/blob_store.h"
#include "optimus/core/v1/job_run.grpc.pb.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/rpc/grpc_server.h"
#include "optimus/rpc/http_server.h"
#include "optimus/rpc/proto_json.h"
#include "optimus/rpc/status.h"
#include "optimus/rpc/timestamps.h"
#include "optimus/runtime_context/job_runs.h"
#include "optimus/schedule/time_util.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/schedule_hooks.h"
#include "optimus/spec/stored_spec.h"
#include "optimus/telemetry/log.h"

namespace optimus::runtime_context {
namespace {

// An RFC 3339 query parameter; InvalidArgument naming it when missing or malformed.
absl::StatusOr<absl::Time> TimeParam(const rpc::HttpRequest& request, const std::string& name) {
  const std::string text = request.Query(name);
  auto t = schedule::ParseRfc3339(text);
  if (!t.ok()) {
    return absl::InvalidArgumentError(
        name + " must be an RFC 3339 time (e.g. 2024-03-07T02:00:00Z), got \"" + text + "\"");
  }
  if (absl::Status s = rpc::CheckTime(*t, name); !s.ok()) return s;
  return t;
}

std::string IntervalJson(const schedule::Interval& interval, const char* start, const char* end) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  return absl::StrCat("{\"", start, "\":\"", schedule::FormatRfc3339(interval.start, utc), "\",\"",
                      end, "\":\"", schedule::FormatRfc3339(interval.end, utc), "\"}");
}

}  // namespace

void AddWindowRoutes(rpc::HttpServer& http, const ReadModel& model) {
  // A job's window for a reference time: what upstream sensors ask (Optimus's GetInterval).
  http.Get("/api/v1beta1/project/{project_name}/job/{job_name}/interval",
           [&model](const rpc::HttpRequest& request) {
             auto at = TimeParam(request, "reference_time");
             if (!at.ok()) return rpc::HttpResponse::Error(at.status());
             auto interval = model.Interval(request.PathParam("project_name"),
                                            request.PathParam("job_name"), *at);
             if (!interval.ok()) return rpc::HttpResponse::Error(interval.status());
             return rpc::HttpResponse::Json(IntervalJson(*interval, "startTime", "endTime"));
           });
  // Any window, from its parameters (Optimus's older GetWindow).
  http.Get("/api/v1beta1/window", [](const rpc::HttpRequest& request) {
    auto at = TimeParam(request, "scheduled_at");
    if (!at.ok()) return rpc::HttpResponse::Error(at.status());
    schedule::WindowSpec spec;
    const std::string version = request.Query("version");
    if (version != "" && version != "1" && version != "2" && version != "3") {
      return rpc::HttpResponse::Error(
          absl::InvalidArgumentError("version is 1, 2 or 3, got \"" + version + "\""));
    }
    spec.version = version.empty() ? 1 : version[0] - '0';
    spec.size = request.Query("size");
    spec.offset = request.Query("offset");
    spec.shift_by = request.Query("shift_by");
    spec.truncate_to = request.Query("truncate_to");
    spec.location = request.Query("location");
    if (absl::Status s = schedule::ValidateWindow(spec); !s.ok()) {
      return rpc::HttpResponse::Error(absl::InvalidArgumentError(s.message()));
    }
    auto interval = schedule::ComputeInterval(spec, *at);
    if (!interval.ok())
      return rpc::HttpResponse::Error(absl::InvalidArgumentError(interval.status().message()));
    return rpc::HttpResponse::Json(IntervalJson(*interval, "start", "end"));
  });
}

// Optimus v0.1's RegisterInstance answer for a run input.
static std::string LegacyInstanceJson(const core::v1::JobRunInputRequest& request,
                                      const std::string& namespace_name,
                                      const core::v1::JobRunInputResponse& input) {
  nlohmann::json envs = nlohmann::json::object();
  nlohmann::json data = nlohmann::json::array();
  for (const auto* values : {&input.envs(), &input.secrets()}) {
    for (const auto& [name, value] :
         std::map<std::string, std::string>(values->begin(), values->end())) {
      envs[name] = value;
      data.push_back({{"name", name}, {"value", value}, {"type", "ENV"}});
    }
  }
  nlohmann::json files = nlohmann::json::object();
  for (const auto& [name, content] :
       std::map<std::string, std::string>(input.files().begin(), input.files().end())) {
    files[name] = content;
    data.push_back({{"name", name}, {"value", content}, {"type", "FILE"}});
  }
  auto env = input.envs().find("EXECUTION_TIME");
  return nlohmann::json{
      {"project", {{"name", request.project_name()}}},
      {"namespace", {{"name", namespace_name}}},
      {"job", {{"name", request.job_name()}}},
      {"instance",
       {{"state", "running"},
        {"data", std::move(data)},
        {"executedAt", env == input.envs().end() ? "" : env->second},
        {"name", request.instance_name()},
        {"type",
         request.instance_type() == core::v1::JobRunInputRequest::TYPE_HOOK ? "HOOK" : "TASK"}}},
      {"context", {{"envs", std::move(envs)}, {"files", std::move(files)}}}}
      .dump();
}

void AddJobSpecRoutes(rpc::HttpServer& http, const ReadModel& model) {
  const auto json_of = [](const pipeline::OptimusJobSpecification& spec) {
    auto text = rpc::ToJson(spec);
    return nlohmann::json::parse(text.ok() ? *text : std::string("{}"));
  };
  constexpr char kOne[] =
      "/api/v1beta1/project/{project_name}/namespace/{namespace_name}/job/{job_name}";
  if (!http.Has("GET", kOne)) {
    http.Get(kOne, [&model, json_of](const rpc::HttpRequest& request) {
      const std::string& project = request.PathParam("project_name");
      const std::string& job = request.PathParam("job_name");
      auto found = model.JobSpecifications(project, request.PathParam("namespace_name"), job, true);
      if (found.empty()) {
        return rpc::HttpResponse::Error(absl::NotFoundError("no job " + job + " in namespace " +
                                                            request.PathParam("namespace_name") +
                                                            " of project " + project));
      }
      return rpc::HttpResponse::Json(
          nlohmann::json{{"spec", json_of(found.front().second)}}.dump());
    });
  }
  if (!http.Has("GET", "/api/v1beta1/jobs")) {
    http.Get("/api/v1beta1/jobs", [&model, json_of](const rpc::HttpRequest& request) {
      const std::string project = request.Query("project_name");
      if (project.empty()) {
        return rpc::HttpResponse::Error(
            absl::InvalidArgumentError("project_name is required on the runtime host"));
      }
      nlohmann::json responses = nlohmann::json::array();
      for (const auto& [ns, spec] : model.JobSpecifications(
               project, request.Query("namespace_name"), request.Query("job_name"),
               request.Query("ignore_assets") != "true")) {
        responses.push_back(
            {{"projectName", project}, {"namespaceName", ns}, {"job", json_of(spec)}});
      }
      return rpc::HttpResponse::Json(nlohmann::json{
          {"jobs", nlohmann::json::array()},
          {"jobSpecificationResponses",
           std::move(responses)}}.dump());
    });
  }
}

void AddJobRunRoutes(rpc::HttpServer& http, const ReadModel& model, store::Database& db,
                     EventRecorder& recorder) {
  http.Post("/api/v1beta1/project/{project_name}/namespace/{namespace_name}/job/{job_name}/event",
            [&model, &recorder](const rpc::HttpRequest& request) {
              const std::string project = request.PathParam("project_name");
              const std::string ns = request.PathParam("namespace_name");
              const std::string name = request.PathParam("job_name");
              auto body = nlohmann::json::parse(request.body(), nullptr, false);
              if (body.is_discarded()) {
                return rpc::HttpResponse::Error(absl::InvalidArgumentError("the body is not JSON"));
              }
              auto events = ParseJobEvents(body);
              if (!events.ok()) return rpc::HttpResponse::Error(events.status());
              auto job = model.JobOf(project, name);
              if (!job.ok()) return rpc::HttpResponse::Error(job.status());
              if (job->first != ns) {
                return rpc::HttpResponse::Error(absl::NotFoundError("job " + name + " of project " +
                                                                    project + " is in namespace " +
                                                                    job->first + ", not " + ns));
              }
              for (auto& event : *events) {
                event.set_project(project);
                event.set_namespace_(ns);
                event.set_job(name);
                if (absl::Status s = recorder.Record(std::move(event)); !s.ok()) {
                  return rpc::HttpResponse::Error(s);
                }
              }
              return rpc::HttpResponse::Json("{}");
            });
  http.Get(
      "/api/v1beta1/project/{project_name}/job/{job_name}/run",
      [&model, &db](const rpc::HttpRequest& request) {
        auto start = TimeParam(request, "start_date");
        if (!start.ok()) return rpc::HttpResponse::Error(start.status());
        auto end = TimeParam(request, "end_date");
        if (!end.ok()) return rpc::HttpResponse::Error(end.status());
        const std::string project = request.PathParam("project_name");
        auto job = model.JobOf(project, request.PathParam("job_name"));
        if (!job.ok()) return rpc::HttpResponse::Error(job.status());
        auto runs = JobRuns(db, project, *job->second, *start, *end);
        if (!runs.ok()) return rpc::HttpResponse::Error(runs.status());
        nlohmann::json list = nlohmann::json::array();
        for (const ExpectedRun& r : *runs) {
          list.push_back(
              {{"state", r.state},
               {"scheduledAt", schedule::FormatRfc3339(r.scheduled_at, absl::UTCTimeZone())}});
        }
        // Optimus's JobRunResponse: its DAG helper logs `message` unless it is "".
        return rpc::HttpResponse::Json(nlohmann::json{{"jobRuns", list}, {"message", ""}}.dump());
      });
}

const ReadModel::Job::Loaded& ReadModel::Job::loaded() const {
  std::call_once(once_, [this] {
    spec::Diagnostics diagnostics;
    loaded_.spec =
        spec::LoadStoredJobSpec(record.name() + "/job.yaml", record.spec_yaml(), diagnostics);
    if (loaded_.spec == nullptr) loaded_.error = diagnostics.ToString();
  });
  return loaded_;
}

absl::StatusOr<std::shared_ptr<const ReadModel::Job>> ReadModel::MakeJob(
    events::v1::JobSpecRecord record) const {
  auto job = std::make_shared<Job>();
  for (const auto& a : record.assets()) {
    if (a.content_case() == events::v1::Asset::kInline) {
      job->assets[a.name()] = a.inline_();
      continue;
    }
    // Large assets travel by reference: read once here, not on every request.
    if (blob_ == nullptr) return absl::FailedPreconditionError("no object store for " + a.name());
    auto content = blob_->Get(a.blob_key());
    if (!content.ok()) return content.status();  // retried: the batch fails and comes again
    job->assets[a.name()] = *std::move(content);
  }
  job->record = std::move(record);
  return job;
}

std::shared_ptr<const ReadModel::Project> ReadModel::MakeProject(events::v1::ProjectRecord record) {
  auto project = std::make_shared<Project>();
  if (!record.presets_yaml().empty()) {
    spec::Diagnostics ignored;  // checked when the project was registered
    project->presets = spec::LoadPresets("presets.yaml", record.presets_yaml(), ignored);
  }
  project->record = std::move(record);
  return project;
}

absl::Status ReadModel::Load(store::Database& db) {
  std::map<std::string, std::shared_ptr<const Job>> jobs;
  std::map<std::string, std::string> destinations;
  std::map<std::string, std::shared_ptr<const Project>> projects;
  auto rows = db.Execute("SELECT job_key, record FROM jobs");
  if (!rows.ok()) return rows.status();
  for (const auto& row : rows->rows) {
    events::v1::JobSpecRecord record;
    record.ParseFromString(row.Text(1));
    auto job = MakeJob(std::move(record));
    if (!job.ok()) return job.status();
    jobs[row.Text(0)] = *std::move(job);
  }
  rows = db.Execute("SELECT job_key, destination FROM destinations");
  if (!rows.ok()) return rows.status();
  for (const auto& row : rows->rows) destinations[row.Text(0)] = row.Text(1);
  rows = db.Execute("SELECT name, record FROM projects");
  if (!rows.ok()) return rows.status();
  for (const auto& row : rows->rows) {
    events::v1::ProjectRecord record;
    record.ParseFromString(row.Text(1));
    projects[row.Text(0)] = MakeProject(std::move(record));
  }
  std::map<std::string, events::v1::SecretRecord> secrets;
  rows = db.Execute("SELECT secret_key, record FROM secrets");
  if (!rows.ok()) return rows.status();
  for (const auto& row : rows->rows) secrets[row.Text(0)].ParseFromString(row.Text(1));
  std::unique_lock lock(mu_);
  jobs_ = std::move(jobs);
  destinations_ = std::move(destinations);
  projects_ = std::move(projects);
  secrets_ = std::move(secrets);
  return absl::OkStatus();
}

absl::Status ReadModel::Apply(store::Transaction& tx, const bus::Message& m) {
  if (m.topic == pipeline::kProjectsTopic) {
    if (m.tombstone) return absl::OkStatus();
    auto record = pipeline::ParseRecord<events::v1::ProjectRecord>(m);
    if (!record.ok()) return record.status();
    if (absl::Status s = pipeline::SaveRecord(tx, "projects", "name", record->name(), m.payload);
        !s.ok()) {
      return s;
    }
    auto project = MakeProject(*std::move(record));
    std::unique_lock lock(mu_);
    projects_[project->record.name()] = std::move(project);
    return absl::OkStatus();
  }
  if (m.topic == pipeline::kSecretsTopic) {
    if (m.tombstone) {
      auto gone = tx.Execute("DELETE FROM secrets WHERE secret_key = $1", {m.key});
      if (!gone.ok()) return gone.status();
      std::unique_lock lock(mu_);
      secrets_.erase(m.key);
      return absl::OkStatus();
    }
    auto record = pipeline::ParseRecord<events::v1::SecretRecord>(m);
    if (!record.ok()) return record.status();
    if (absl::Status s = pipeline::SaveRecord(tx, "secrets", "secret_key", m.key, m.payload);
        !s.ok()) {
      return s;
    }
    std::unique_lock lock(mu_);
    secrets_[m.key] = *std::move(record);
    return absl::OkStatus();
  }
  if (m.topic == pipeline::kResolutionsTopic) {
    if (m.tombstone) {
      auto gone = tx.Execute("DELETE FROM destinations WHERE job_key = $1", {m.key});
      if (!gone.ok()) return gone.status();
      std::unique_lock lock(mu_);
      destinations_.erase(m.key);
      return absl::OkStatus();
    }
    auto record = pipeline::ParseRecord<events::v1::JobResolution>(m);
    if (!record.ok()) return record.status();
    auto saved = tx.Execute(
        "INSERT INTO destinations (job_key, destination) VALUES ($1, $2) ON CONFLICT (job_key) "
        "DO UPDATE SET destination = excluded.destination",
        {m.key, record->destination()});
    if (!saved.ok()) return saved.status();
    std::unique_lock lock(mu_);
    destinations_[m.key] = record->destination();
    return absl::OkStatus();
  }
  if (m.topic != pipeline::kJobSpecsTopic) {
    return absl::InvalidArgumentError("unexpected topic " + m.topic);
  }
  if (m.tombstone) {
    auto gone = tx.Execute("DELETE FROM jobs WHERE job_key = $1", {m.key});
    if (!gone.ok()) return gone.status();
    std::unique_lock lock(mu_);
    jobs_.erase(m.key);
    return absl::OkStatus();
  }
  auto record = pipeline::ParseRecord<events::v1::JobSpecRecord>(m);
  if (!record.ok()) return record.status();
  {
    std::shared_lock lock(mu_);
    auto old = jobs_.find(m.key);
    if (old != jobs_.end() && old->second->record.version() > record->version()) {
      return absl::OkStatus();  // an older version arriving late changes nothing
    }
  }
  if (absl::Status s = pipeline::SaveRecord(tx, "jobs", "job_key", m.key, m.payload); !s.ok()) {
    return s;
  }
  auto job = MakeJob(*std::move(record));
  if (!job.ok()) return job.status();
  std::unique_lock lock(mu_);
  jobs_[m.key] = *std::move(job);
  return absl::OkStatus();
}

absl::StatusOr<schedule::Interval> ReadModel::Interval(const std::string& project,
                                                       const std::string& job,
                                                       absl::Time reference_time) const {
  std::shared_ptr<const Job> found;
  std::shared_ptr<const Project> owner;
  {
    std::shared_lock lock(mu_);
    auto j = jobs_.find(pipeline::JobKey(project, job));
    if (j == jobs_.end()) return absl::NotFoundError("no job " + job + " in project " + project);
    found = j->second;
    if (auto p = projects_.find(project); p != projects_.end()) owner = p->second;
  }
  const Job::Loaded& loaded = found->loaded();
  if (!loaded.error.empty()) {
    return absl::FailedPreconditionError("the stored spec of " + job +
                                         " does not load: " + loaded.error);
  }
  static const std::map<std::string, spec::Preset> kNoPresets;
  auto window = spec::JobWindow(*loaded.spec, owner ? owner->presets : kNoPresets);
  if (!window.ok()) return absl::InvalidArgumentError(window.status().message());
  auto interval = schedule::ComputeInterval(*window, reference_time);
  if (!interval.ok()) return absl::InvalidArgumentError(interval.status().message());
  return *interval;
}

absl::StatusOr<std::pair<std::string, std::shared_ptr<const spec::JobSpec>>> ReadModel::JobOf(
    const std::string& project, const std::string& job) const {
  std::shared_ptr<const Job> found;
  {
    std::shared_lock lock(mu_);
    auto j = jobs_.find(pipeline::JobKey(project, job));
    if (j == jobs_.end()) return absl::NotFoundError("no job " + job + " in project " + project);
    found = j->second;
  }
  const Job::Loaded& loaded = found->loaded();
  if (!loaded.error.empty()) {
    return absl::FailedPreconditionError("the stored spec of " + job +
                                         " does not load: " + loaded.error);
  }
  return std::make_pair(found->record.namespace_(), loaded.spec);
}

absl::StatusOr<std::pair<std::string, std::shared_ptr<const spec::JobSpec>>> ReadModel::WriterOf(
    const std::string& project, const std::string& urn) const {
  std::string job;
  {
    std::shared_lock lock(mu_);
    const std::string prefix = pipeline::JobKey(project, "");
    for (auto it = destinations_.lower_bound(prefix);
         it != destinations_.end() && it->first.starts_with(prefix); ++it) {
      if (it->second == urn) {
        job = it->first.substr(prefix.size());
        break;
      }
    }
  }
  if (job.empty()) return absl::NotFoundError("no job of project " + project + " writes " + urn);
  return JobOf(project, job);
}

std::vector<std::pair<std::string, pipeline::OptimusJobSpecification>> ReadModel::JobSpecifications(
    const std::string& project, const std::string& namespace_name, const std::string& job,
    bool with_assets) const {
  std::vector<std::pair<std::shared_ptr<const Job>, std::string>> found;  // with destination
  {
    std::shared_lock lock(mu_);
    const std::string from = pipeline::JobKey(project, job);  // the job's key, or the project's
    const std::string prefix = pipeline::JobKey(project, "");
    for (auto it = jobs_.lower_bound(from); it != jobs_.end() && it->first.starts_with(prefix);
         ++it) {
      if (!job.empty() && it->first != from) break;
      const Job& j = *it->second;
      if (!namespace_name.empty() && j.record.namespace_() != namespace_name) continue;
      auto d = destinations_.find(it->first);
      found.emplace_back(it->second, d == destinations_.end() ? "" : d->second);
    }
  }
  std::vector<std::pair<std::string, pipeline::OptimusJobSpecification>> out;
  for (const auto& [j, destination] : found) {
    const Job::Loaded& loaded = j->loaded();
    if (!loaded.error.empty()) continue;
    pipeline::OptimusJobSpecification spec = pipeline::ToOptimusJobSpecification(
        *loaded.spec,
        with_assets ? spec::StringMap(j->assets.begin(), j->assets.end()) : spec::StringMap{});
    spec.set_destination(destination);
    out.emplace_back(j->record.namespace_(), std::move(spec));
  }
  return out;
}

size_t ReadModel::jobs() const {
  std::shared_lock lock(mu_);
  return jobs_.size();
}

absl::StatusOr<std::map<std::string, std::string>> ReadModel::SecretsFor(
    const std::string& project, const std::string& namespace_name) const {
  std::vector<events::v1::SecretRecord> visible;
  {
    std::shared_lock lock(mu_);
    for (auto it = secrets_.lower_bound(project + "/");
         it != secrets_.end() && it->second.project() == project; ++it) {
      if (it->second.namespace_().empty() || it->second.namespace_() == namespace_name) {
        visible.push_back(it->second);
      }
    }
  }
  std::map<std::string, std::string> out;
  if (!box_ || visible.empty()) return out;
  for (const auto& s : visible) {
    auto value = box_->Open(s.sealed());
    if (!value.ok()) {
      return absl::FailedPreconditionError(
          "secret " + s.name() + " of project " + project +
          " does not open with this server's app key (is secrets.app_key the same on ingest "
          "and runtime-context?)");
    }
    out[s.name()] = *std::move(value);
  }
  return out;
}

absl::StatusOr<core::v1::JobRunInputResponse> ReadModel::RunInput(
    const core::v1::JobRunInputRequest& request) const {
  if (request.project_name().empty() || request.job_name().empty()) {
    return absl::InvalidArgumentError("a run input request needs project_name and job_name");
  }
  if (!request.has_scheduled_at()) {
    return absl::InvalidArgumentError(
        "a run input request needs scheduled_at (RFC 3339, e.g. 2024-03-07T02:00:00Z)");
  }
  if (absl::Status s = rpc::CheckTimestamps(request); !s.ok()) return s;
  const std::string key = pipeline::JobKey(request.project_name(), request.job_name());
  std::shared_ptr<const Job> job;
  std::shared_ptr<const Project> project;
  std::string destination;
  {
    std::shared_lock lock(mu_);
    auto j = jobs_.find(key);
    if (j == jobs_.end()) {
      return absl::NotFoundError("no job " + request.job_name() + " in project " +
                                 request.project_name());
    }
    job = j->second;
    if (auto p = projects_.find(request.project_name()); p != projects_.end()) project = p->second;
    if (auto d = destinations_.find(key); d != destinations_.end()) destination = d->second;
  }
  const Job::Loaded& loaded = job->loaded();
  if (!loaded.error.empty()) {
    return absl::FailedPreconditionError("the stored spec of " + request.job_name() +
                                         " does not load: " + loaded.error);
  }
  auto secrets = SecretsFor(request.project_name(), job->record.namespace_());
  if (!secrets.ok()) return secrets.status();
  JobContext context;
  context.secrets = &*secrets;
  context.job = loaded.spec.get();
  context.project = request.project_name();
  context.namespace_name = job->record.namespace_();
  context.assets = &job->assets;
  context.project_record = project ? &project->record : nullptr;
  context.presets = project ? &project->presets : nullptr;
  context.destination = destination;
  context.templates = &templates_;
  RunInputRequest r;
  r.scheduled_at = absl::FromUnixNanos(
      google::protobuf::util::TimeUtil::TimestampToNanoseconds(request.scheduled_at()));
  r.instance_name = request.instance_name();
  r.instance_type = request.instance_type() == core::v1::JobRunInputRequest::TYPE_HOOK
                        ? InstanceType::kHook
                        : InstanceType::kTask;
  auto input = CompileRunInput(context, r);
  if (!input.ok()) return input.status();
  core::v1::JobRunInputResponse out;
  out.mutable_envs()->insert(input->envs.begin(), input->envs.end());
  out.mutable_files()->insert(input->files.begin(), input->files.end());
  out.mutable_secrets()->insert(input->secrets.begin(), input->secrets.end());
  return out;
}

// gRPC's callback API: the answer is built on the thread that read the request, with no hand-off
// to a pool of synchronous handler threads (that hand-off was most of the cost under load).
class RuntimeContextService::Api final : public core::v1::JobRunService::CallbackService {
 public:
  Api(const ReadModel& model, const rpc::Authenticator* authenticator)
      : model_(model), authenticator_(authenticator) {}
  grpc::ServerUnaryReactor* JobRunInput(grpc::CallbackServerContext* context,
                                        const core::v1::JobRunInputRequest* req,
                                        core::v1::JobRunInputResponse* resp) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(Answer(context, *req, resp));
    return reactor;
  }

 private:
  grpc::Status Answer(grpc::CallbackServerContext* context, const core::v1::JobRunInputRequest& req,
                      core::v1::JobRunInputResponse* resp) const {
    // A run input holds the project's secrets: only its own token (or an admin) may ask.
    if (grpc::Status allowed =
            rpc::Authorize(context, authenticator_, "optimus.core.v1.JobRunService/JobRunInput",
                           req.project_name());
        !allowed.ok()) {
      return allowed;
    }
    auto input = model_.RunInput(req);
    if (!input.ok()) return rpc::ToGrpcStatus(input.status());
    *resp = *std::move(input);
    return grpc::Status::OK;
  }

  const ReadModel& model_;
  const rpc::Authenticator* authenticator_;
};

RuntimeContextService::RuntimeContextService() = default;
RuntimeContextService::~RuntimeContextService() = default;

std::vector<store::Migration> RuntimeContextService::Migrations() const {
  return {{1, "jobs, destinations and projects",
           "CREATE TABLE jobs (job_key TEXT PRIMARY KEY, record ${BLOB} NOT NULL);"
           "CREATE TABLE destinations (job_key TEXT PRIMARY KEY, destination TEXT NOT NULL);"
           "CREATE TABLE projects (name TEXT PRIMARY KEY, record ${BLOB} NOT NULL)"},
          {2, "sealed secrets",
           "CREATE TABLE secrets (secret_key TEXT PRIMARY KEY, record ${BLOB} NOT NULL)"},
          JobRunsMigration(),
          {4, "seen events by age", "CREATE INDEX seen_events_age ON seen_events (seen_ms)"}};
}

absl::StatusOr<int64_t> RuntimeContextService::Forget(store::Database& db, int64_t older_than_ms) {
  return ForgetSeenEvents(db, older_than_ms);
}

absl::Status RuntimeContextService::Start(app::Context& context) {
  if (absl::Status s = pipeline::EnsurePipelineTopics(context.bus); !s.ok()) return s;
  std::optional<secrets::SecretBox> box;
  if (!context.app_key.empty()) {
    auto made = secrets::SecretBox::FromAppKey(context.app_key);
    if (!made.ok()) return made.status();
    box = *std::move(made);
  }
  model_ = std::make_unique<ReadModel>(&context.blob, std::move(box));
  if (absl::Status s = model_->Load(context.db); !s.ok()) return s;
  LOG_INFO("run input read model loaded", {{"jobs", static_cast<int64_t>(model_->jobs())}});
  api_ = std::make_unique<Api>(*model_, context.authenticator);
  context.grpc.AddService(api_.get(), "optimus.core.v1.JobRunService");
  // Every task pod asks, thousands at a schedule boundary.
  context.grpc.LogSuccessAtDebug("optimus.core.v1.JobRunService/JobRunInput");
  // The request of a REST run-input call: its body, with the path's project and job.
  const auto run_request =
      [](const rpc::HttpRequest& request) -> absl::StatusOr<core::v1::JobRunInputRequest> {
    auto body = rpc::ParseJsonBody<core::v1::JobRunInputRequest>(request.body());
    if (!body.ok()) return body.status();
    body->set_project_name(request.PathParam("project_name"));
    body->set_job_name(request.PathParam("job_name"));
    return body;
  };
  context.http.Post("/api/v1beta1/project/{project_name}/job/{job_name}/run_input",
                    [this, run_request](const rpc::HttpRequest& request) {
                      auto body = run_request(request);
                      if (!body.ok()) return rpc::HttpResponse::Error(body.status());
                      auto input = model_->RunInput(*body);
                      if (!input.ok()) return rpc::HttpResponse::Error(input.status());
                      auto json = rpc::ToJson(*input);
                      if (!json.ok()) return rpc::HttpResponse::Error(json.status());
                      return rpc::HttpResponse::Json(*std::move(json));
                    });
  // Optimus v0.1's RegisterInstance, for init containers of old DAGs: the same input in the
  // shape they read (every value an ENV entry, secrets included, as .env was all they wrote).
  context.http.Post("/api/v1beta1/project/{project_name}/job/{job_name}/instance",
                    [this, run_request](const rpc::HttpRequest& request) {
                      auto body = run_request(request);
                      if (!body.ok()) return rpc::HttpResponse::Error(body.status());
                      auto input = model_->RunInput(*body);
                      if (!input.ok()) return rpc::HttpResponse::Error(input.status());
                      auto job = model_->JobOf(body->project_name(), body->job_name());
                      return rpc::HttpResponse::Json(
                          LegacyInstanceJson(*body, job.ok() ? job->first : "", *input));
                    });
  AddWindowRoutes(context.http, *model_);
  recorder_ = std::make_unique<EventRecorder>(context.db, context.outbox);
  AddJobRunRoutes(context.http, *model_, context.db, *recorder_);
  AddJobSpecRoutes(context.http, *model_);
  AddThirdPartySensorRoute(context.http, *model_, context.db);
  store::Database& db = context.db;
  worker_ = std::make_unique<pipeline::ConsumerWorker>(
      context.bus, context.db,
      pipeline::ConsumerWorker::Options{
          .group = "runtime-context",
          .topics = {pipeline::kProjectsTopic, pipeline::kJobSpecsTopic,
                     pipeline::kResolutionsTopic, pipeline::kSecretsTopic, pipeline::kJobRunsTopic},
          .after_failure = [this, &db] { return model_->Load(db); },
          // Of the runs' topic, the records that change a job's run history: most are not.
          .wanted =
              [](const bus::Message& m) {
                if (m.topic != pipeline::kJobRunsTopic) return true;
                // This service's own records (Airflow's events) are in the history already.
                if (m.tombstone || m.HeaderValue(bus::kCeSource) == "optimus/runtime-context") {
                  return false;
                }
                auto event = pipeline::ParseRecord<events::v1::JobRunEvent>(m);
                return !event.ok() || RecordsExecutionRun(*event);
              }},
      [this](store::Transaction& tx, const bus::Message& m) -> absl::Status {
        if (m.topic == pipeline::kJobRunsTopic) {
          // Runs the dispatcher made join the job's run history (`wanted` passed over the rest).
          auto event = pipeline::ParseRecord<events::v1::JobRunEvent>(m);
          if (!event.ok()) return event.status();
          return RecordExecutionRun(tx, *event);
        }
        return model_->Apply(tx, m);
      });
  return worker_->Start();
}

void RuntimeContextService::Stop() {
  if (worker_) worker_->Stop();
  // Answers what is queued, then refuses (503) events of requests still running; the recorder
  // itself lives as long as the component, which outlives the HTTP server.
  if (recorder_) recorder_->Close();
}

}  // namespace optimus::runtime_context
