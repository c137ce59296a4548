// What a running task or hook is given (reference §4.2, §5.3): its compiled config as
// environment, its rendered asset files, and the config values that name secrets apart. Pure:
// everything comes in as arguments.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "optimus/events/v1/jobs.pb.h"
#include "optimus/spec/model.h"
#include "optimus/template/optimus_funcs.h"

namespace optimus::runtime_context {

enum class InstanceType { kTask, kHook };

struct RunInputRequest {
  absl::Time scheduled_at;  // the run's trigger instant (Airflow's data_interval_end)
  std::string instance_name;
  InstanceType instance_type = InstanceType::kTask;
  // When the run started, if known: EXECUTION_TIME of v1 and v2 windows (else the scheduled
  // time).
  std::optional<absl::Time> executed_at;
};

struct RunInput {
  std::map<std::string, std::string> envs;
  std::map<std::string, std::string> files;
  // Config values whose raw text names a secret ({{.secret.X}}): written apart (in/.secret).
  std::map<std::string, std::string> secrets;
};

// What the server holds about the job.
struct JobContext {
  const spec::JobSpec* job = nullptr;
  std::string project;
  std::string namespace_name;
  const std::map<std::string, std::string>* assets = nullptr;  // by file name
  const events::v1::ProjectRecord* project_record = nullptr;   // null: not registered
  const std::map<std::string, spec::Preset>* presets = nullptr;
  std::string destination;  // JOB_DESTINATION
  // The secrets the job may read (its project's and its namespace's), by upper-case name.
  const std::map<std::string, std::string>* secrets = nullptr;
  // Keeps the parsed config values and assets between runs; each is parsed anew when null.
  const tmpl::TemplateCache* templates = nullptr;
};

// The run input of one instance for one scheduled time. NotFound for a hook the job does not
// have; InvalidArgument (naming the key or file) when a template does not compile, or when the
// job's window cannot be computed.
absl::StatusOr<RunInput> CompileRunInput(const JobContext& context, const RunInputRequest& request);

// A run input holds at most this much (envs, files and secrets together): under gRPC's 4 MiB
// message limit, so that an answer too large is a clear error rather than a transport failure
// that clients retry. Rendering stops as soon as a run input would pass it.
inline constexpr size_t kMaxRunInputBytes = (4 << 20) - (64 << 10);

// JOB_LABELS: project, namespace, job name and id, then the job's labels; keys and values
// lower-cased, characters outside [a-z0-9_-] replaced by '-', values over 63 characters cut to
// "__" and their last 61.
std::string JobLabels(const JobContext& context);

// A job's stable id (a UUID derived from project and name): the same on every server.
std::string JobId(const std::string& project, const std::string& job);

}  // namespace optimus::runtime_context
