// What the dispatcher knows of deployed jobs and plugins, to turn "run job J" into an
// ExecutionPlan: each job's resolution (spec, namespace, priority weight) and each plugin's
// images and entrypoints, from the compacted topics optimus.job.resolutions and
// optimus.plugins, kept in its own tables (read when a run is queued, not held in memory).
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "optimus/bus/message.h"
#include "optimus/core/v1/dispatch.pb.h"
#include "optimus/dispatcher/execution_store.h"
#include "optimus/spec/model.h"
#include "optimus/store/database.h"
#include "optimus/store/migrations.h"

namespace optimus::dispatcher {

class JobPlans {
 public:
  static store::Migration Migration(int version);

  // Applies one record of optimus.job.resolutions or optimus.plugins inside `tx`; an older
  // spec version arriving late changes nothing.
  static absl::Status Apply(store::Transaction& tx, const bus::Message& m);

  // The execution of `job` of `project` (plan, namespace, priority, pool): NotFound for a job
  // not deployed, FailedPrecondition for one that cannot run (unresolved, unknown plugin).
  static absl::StatusOr<NewExecution> ExecutionOf(store::Transaction& tx,
                                                  const std::string& project,
                                                  const std::string& job);

  // Whether `job` of `project` is deployed, as far as the dispatcher has heard.
  static absl::StatusOr<bool> Deployed(store::Transaction& tx, const std::string& project,
                                       const std::string& job);
};

// The plan of a job from its spec and the plugins it names, pure. `plugins` finds a plugin by
// name (null when the server has none).
absl::StatusOr<NewExecution> PlanJob(
    const std::string& project, const std::string& namespace_name, const spec::JobSpec& job,
    int32_t priority_weight,
    const std::function<const spec::PluginSpec*(const std::string&)>& plugins);

// Plugins as the plan tables hold them, each read from `tx` once per returned function: null
// for a plugin this server does not have.
std::function<const spec::PluginSpec*(const std::string&)> StoredPlugins(store::Transaction& tx);

}  // namespace optimus::dispatcher
