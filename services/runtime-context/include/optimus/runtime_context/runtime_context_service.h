// optimus-runtime-context: Serves running tasks their context and records job run events from the
// scheduler.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>

#include "absl/status/statusor.h"
#include "optimus/app/component.h"
#include "optimus/bus/message.h"
#include "optimus/core/v1/job_run.pb.h"
#include "optimus/events/v1/jobs.pb.h"
#include "optimus/events/v1/secrets.pb.h"
#include "optimus/pipeline/change_events.h"
#include "optimus/rpc/http_server.h"
#include "optimus/runtime_context/job_runs.h"
#include "optimus/runtime_context/run_input.h"
#include "optimus/schedule/window.h"
#include "optimus/secrets/secret_box.h"
#include "optimus/spec/model.h"
#include "optimus/store/database.h"
#include "optimus/store/outbox.h"

namespace optimus::pipeline {
class ConsumerWorker;
}  // namespace optimus::pipeline
namespace optimus::blob {
class BlobStore;
}  // namespace optimus::blob

namespace optimus::runtime_context {

// What runtime-context knows of every job and project, built from the compacted topics
// (optimus.job.specs, optimus.job.resolutions, optimus.projects, optimus.secrets — secrets
// stay sealed until a run input needs them) and kept in its own tables,
// loaded into memory at start. Reads never wait for the database.
class ReadModel {
 public:
  // `blob` holds the assets that travel by reference; may be null in tests that send none.
  // `box` opens the sealed secrets; without it jobs see none.
  explicit ReadModel(blob::BlobStore* blob = nullptr,
                     std::optional<secrets::SecretBox> box = std::nullopt)
      : blob_(blob), box_(std::move(box)) {}

  absl::Status Load(store::Database& db);
  // Applies one record inside `tx` (the table) and to memory at once; after a rolled-back
  // transaction, Load again.
  absl::Status Apply(store::Transaction& tx, const bus::Message& m);

  // The run input of a job: NotFound for a job or hook the server does not know,
  // InvalidArgument for what cannot be compiled.
  absl::StatusOr<core::v1::JobRunInputResponse> RunInput(
      const core::v1::JobRunInputRequest& request) const;

  // The job's data window for a run scheduled at `reference_time` (Optimus's GetInterval, which
  // upstream sensors ask): NotFound for an unknown job.
  absl::StatusOr<schedule::Interval> Interval(const std::string& project, const std::string& job,
                                              absl::Time reference_time) const;

  // A job's namespace and spec (shared, not copied: every job event asks); NotFound for an
  // unknown job.
  absl::StatusOr<std::pair<std::string, std::shared_ptr<const spec::JobSpec>>> JobOf(
      const std::string& project, const std::string& job) const;

  // Optimus's JobSpecification of the jobs of `project` (all when `job` is "", else that one;
  // only `namespace_name`'s when it is not ""), with each job's namespace, by job name; the
  // assets left out when `with_assets` is false. Jobs whose stored spec does not load are left
  // out.
  std::vector<std::pair<std::string, pipeline::OptimusJobSpecification>> JobSpecifications(
      const std::string& project, const std::string& namespace_name, const std::string& job,
      bool with_assets) const;

  // The job of `project` whose destination is `urn` (a resource URN such as
  // bigquery://proj:dataset.table), with its spec; NotFound when no job of the project writes it.
  absl::StatusOr<std::pair<std::string, std::shared_ptr<const spec::JobSpec>>> WriterOf(
      const std::string& project, const std::string& urn) const;

  size_t jobs() const;

 private:
  // A job's spec is parsed when a request first needs it: a deploy streams in thousands of
  // jobs that no run asks for yet, and parsing them all as they arrive took a share of the CPU
  // the deploy pipeline needed.
  struct Job {
    struct Loaded {
      std::shared_ptr<const spec::JobSpec> spec;  // null when it does not load
      std::string error;                          // why it does not load
    };
    events::v1::JobSpecRecord record;
    std::map<std::string, std::string> assets;
    const Loaded& loaded() const;

   private:
    mutable std::once_flag once_;
    mutable Loaded loaded_;
  };
  struct Project {
    events::v1::ProjectRecord record;
    std::map<std::string, spec::Preset> presets;
  };
  absl::StatusOr<std::shared_ptr<const Job>> MakeJob(events::v1::JobSpecRecord record) const;
  static std::shared_ptr<const Project> MakeProject(events::v1::ProjectRecord record);

  // The secrets a job of `project` in `namespace_name` sees, opened: the project's and its
  // namespace's.
  absl::StatusOr<std::map<std::string, std::string>> SecretsFor(
      const std::string& project, const std::string& namespace_name) const;

  blob::BlobStore* blob_;
  std::optional<secrets::SecretBox> box_;
  tmpl::TemplateCache templates_;  // the jobs' config values and assets, parsed once
  mutable std::shared_mutex mu_;
  std::map<std::string, events::v1::SecretRecord> secrets_;  // by project/NAME, sealed
  std::map<std::string, std::shared_ptr<const Job>> jobs_;   // by project/job
  std::map<std::string, std::string> destinations_;          // by project/job
  std::map<std::string, std::shared_ptr<const Project>> projects_;
};

// GET /api/v1beta1/project/{p}/job/{j}/interval?reference_time= ({"startTime", "endTime"})
// and GET /api/v1beta1/window?scheduled_at&size&offset|shift_by&truncate_to&location&version
// ({"start", "end"}; version 1 when not given), both in UTC.
void AddWindowRoutes(rpc::HttpServer& http, const ReadModel& model);

// GET /api/v1beta1/project/{p}/namespace/{ns}/job/{j} ({"spec": JobSpecification}) and
// GET /api/v1beta1/jobs?project_name&namespace_name&job_name ({"jobSpecificationResponses"}),
// which upstream sensors ask of the runtime host, answered from the read model. Skipped for a
// path the process serves already (optimus serve: ingest answers them from the resolver).
void AddJobSpecRoutes(rpc::HttpServer& http, const ReadModel& model);

// POST /api/v1beta1/project/{p}/namespace/{ns}/job/{j}/event (the DAG callbacks) and
// GET /api/v1beta1/project/{p}/job/{j}/run?start_date&end_date (upstream sensors), see
// job_runs.h.
void AddJobRunRoutes(rpc::HttpServer& http, const ReadModel& model, store::Database& db,
                     EventRecorder& recorder);

// PUT /api/v1beta1/project/{p}/job/{j}/third-party-sensor ({"scheduled_at", "third_party_type":
// "dex", "dex_sensor_request": {"resource_urn"}}), which Optimus's third-party sensor asks: is the
// resource's data complete for the job's window at scheduled_at? Answered from the runs of the job
// of the same project that writes the resource ({"dexSensorResponse": {"isComplete", "log":
// [{"date", "isComplete"}]}}); Unavailable (503) for a resource no such job writes, since this
// server has no completeness service of its own for data produced elsewhere.
void AddThirdPartySensorRoute(rpc::HttpServer& http, const ReadModel& model, store::Database& db);

class RuntimeContextService : public app::Component {
 public:
  RuntimeContextService();
  ~RuntimeContextService() override;
  std::string name() const override { return "runtime-context"; }
  // Window maths names no project and reads nothing stored: any accepted token.
  std::map<std::string, rpc::Access, std::less<>> AccessRules() const override {
    return {{"GET /api/v1beta1/window", rpc::Access::kAnyToken}};
  }
  std::vector<store::Migration> Migrations() const override;
  absl::Status Start(app::Context& context) override;
  void Stop() override;
  // The fingerprints of posted events (seen_events), which catch a callback that posts again.
  absl::StatusOr<int64_t> Forget(store::Database& db, int64_t older_than_ms) override;

 private:
  class Api;
  std::unique_ptr<ReadModel> model_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<pipeline::ConsumerWorker> worker_;
  std::unique_ptr<EventRecorder> recorder_;
};

// What `optimus-runtime-context --help` says about the service.
inline constexpr char kRuntimeContextUsage[] =
    "optimus-runtime-context: Serves running tasks their context and records job run events from "
    "the scheduler.";
inline constexpr int kRuntimeContextHttpPort = 8085;
inline constexpr int kRuntimeContextGrpcPort = 9105;

}  // namespace optimus::runtime_context
