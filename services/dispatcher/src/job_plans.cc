// Deployed jobs as runnable plans (see job_plans.h).
#include "optimus/dispatcher/job_plans.h"

#include <map>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "optimus/dispatcher/scheduler.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/spec/stored_spec.h"

namespace optimus::dispatcher {
namespace {

constexpr int32_t kDefaultPriority = 10000;  // Optimus's weight for a job with no upstreams

}  // namespace

store::Migration JobPlans::Migration(int version) {
  return {version, "deployed jobs and plugins",
          "CREATE TABLE plan_jobs (job_key TEXT PRIMARY KEY, namespace TEXT NOT NULL, "
          "spec_version BIGINT NOT NULL, spec_yaml ${BLOB} NOT NULL, priority INTEGER NOT NULL, "
          "error TEXT NOT NULL);"
          "CREATE TABLE plan_plugins (name TEXT PRIMARY KEY, record ${BLOB} NOT NULL)"};
}

absl::Status JobPlans::Apply(store::Transaction& tx, const bus::Message& m) {
  // The native scheduler reloads what it knows of jobs when they change.
  if (absl::Status s = Scheduler::PlansChanged(tx); !s.ok()) return s;
  if (m.topic == pipeline::kPluginsTopic) {
    if (m.tombstone)
      return tx.Execute("DELETE FROM plan_plugins WHERE name = $1", {m.key}).status();
    auto record = pipeline::ParseRecord<events::v1::PluginRecord>(m);
    if (!record.ok()) return record.status();
    return tx
        .Execute(
            "INSERT INTO plan_plugins (name, record) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE "
            "SET record = excluded.record",
            {record->name(), store::Blob{m.payload}})
        .status();
  }
  if (m.topic != pipeline::kResolutionsTopic) {
    return absl::InvalidArgumentError("unexpected topic " + m.topic);
  }
  if (m.tombstone) return tx.Execute("DELETE FROM plan_jobs WHERE job_key = $1", {m.key}).status();
  auto r = pipeline::ParseRecord<events::v1::JobResolution>(m);
  if (!r.ok()) return r.status();
  std::string upstreams;
  for (const auto& u : r->upstreams()) {
    absl::StrAppend(&upstreams, pipeline::JobKey(u.project(), u.name()), "\n");
  }
  return tx
      .Execute(
          "INSERT INTO plan_jobs (job_key, namespace, spec_version, spec_yaml, priority, error, "
          "upstreams) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (job_key) DO UPDATE SET "
          "namespace = excluded.namespace, spec_version = excluded.spec_version, spec_yaml = "
          "excluded.spec_yaml, priority = excluded.priority, error = excluded.error, upstreams = "
          "excluded.upstreams WHERE plan_jobs.spec_version <= excluded.spec_version",
          {pipeline::JobKey(r->project(), r->name()), r->namespace_(), r->spec_version(),
           store::Blob{r->spec_yaml()},
           static_cast<int64_t>(r->priority_weight() == 0 ? kDefaultPriority
                                                          : r->priority_weight()),
           r->error(), upstreams})
      .status();
}

absl::StatusOr<NewExecution> PlanJob(
    const std::string& project, const std::string& namespace_name, const spec::JobSpec& job,
    int32_t priority_weight,
    const std::function<const spec::PluginSpec*(const std::string&)>& plugins) {
  NewExecution out;
  out.kind = "job";
  out.project = project;
  out.namespace_name = namespace_name;
  out.name = job.name;
  out.priority = priority_weight;
  // Optimus's pool: the job's metadata pool, else its queue; Airflow's default pool is none.
  out.pool =
      !job.metadata.airflow_pool.empty() ? job.metadata.airflow_pool : job.metadata.airflow_queue;
  if (out.pool == "default_pool") out.pool.clear();
  // The task, or a recipe's tasks in order (sequential steps, each with its own log).
  std::vector<std::pair<spec::JobStep, const spec::PluginSpec*>> tasks;
  for (const spec::JobStep& s : job.Steps()) {
    const spec::PluginSpec* plugin = plugins(s.task->name);
    if (plugin == nullptr) {
      return absl::FailedPreconditionError("job " + job.name + " uses task plugin " + s.task->name +
                                           ", which this server does not have");
    }
    tasks.emplace_back(s, plugin);
  }
  const auto base_env = [&](core::v1::ExecutionStep& step, const std::string& type,
                            const std::string& name) {
    auto& env = *step.mutable_env();
    env["PROJECT"] = project;
    env["NAMESPACE"] = namespace_name;
    env["JOB_NAME"] = job.name;
    env["INSTANCE_TYPE"] = type;
    env["INSTANCE_NAME"] = name;
    step.set_instance_type(type);
  };
  const auto add_step = [&](core::v1::ExecutionStep::Kind kind, const spec::PluginSpec& plugin,
                            const std::string& name, const std::string& version,
                            const std::string& type) {
    const spec::PluginVersion v = plugin.Resolve(version);
    core::v1::ExecutionStep step;
    step.set_kind(kind);
    step.set_name(name);
    step.set_image(plugin.ImageFor(version));
    step.set_shell(v.entrypoint.shell);
    step.set_script(v.entrypoint.script);
    base_env(step, type, name);
    return step;
  };
  std::vector<core::v1::ExecutionStep> pre, post, fail;
  for (const spec::Hook& hook : job.hooks) {
    const spec::PluginSpec* plugin = plugins(hook.name);
    if (plugin == nullptr) {
      return absl::FailedPreconditionError("job " + job.name + " uses hook plugin " + hook.name +
                                           ", which this server does not have");
    }
    // Hook types of v1 plugins; at Optimus's HEAD every hook runs after the task.
    if (plugin->hook_type == "pre") {
      pre.push_back(add_step(core::v1::ExecutionStep::KIND_HOOK_PRE, *plugin, hook.name,
                             hook.version, "hook"));
    } else if (plugin->hook_type == "fail") {
      fail.push_back(add_step(core::v1::ExecutionStep::KIND_HOOK_FAIL, *plugin, hook.name,
                              hook.version, "hook"));
    } else {
      post.push_back(add_step(core::v1::ExecutionStep::KIND_HOOK_POST, *plugin, hook.name,
                              hook.version, "hook"));
    }
  }
  for (auto& s : pre) *out.plan.add_steps() = std::move(s);
  for (const auto& [s, plugin] : tasks) {
    *out.plan.add_steps() =
        add_step(core::v1::ExecutionStep::KIND_TASK, *plugin, s.name, s.task->version, "task");
  }
  for (auto& s : post) *out.plan.add_steps() = std::move(s);
  for (auto& s : fail) *out.plan.add_steps() = std::move(s);
  out.plan.set_cpu_request(job.metadata.request.cpu);
  out.plan.set_memory_request(job.metadata.request.memory);
  out.plan.set_cpu_limit(job.metadata.limit.cpu);
  out.plan.set_memory_limit(job.metadata.limit.memory);
  out.plan.set_service_account(job.metadata.kubernetes_service_account);
  out.plan.mutable_labels()->insert(job.labels.begin(), job.labels.end());
  return out;
}

std::function<const spec::PluginSpec*(const std::string&)> StoredPlugins(store::Transaction& tx) {
  auto cache = std::make_shared<std::map<std::string, std::optional<spec::PluginSpec>>>();
  return [&tx, cache](const std::string& name) -> const spec::PluginSpec* {
    auto [it, fresh] = cache->try_emplace(name);
    if (fresh) {
      auto r = tx.Execute("SELECT record FROM plan_plugins WHERE name = $1", {name});
      if (r.ok() && !r->rows.empty()) {
        events::v1::PluginRecord record;
        if (record.ParseFromString(r->rows[0].Text(0))) {
          auto plugin = pipeline::PluginFromRecord(record);
          if (plugin.ok()) it->second = *std::move(plugin);
        }
      }
    }
    return it->second ? &*it->second : nullptr;
  };
}

absl::StatusOr<bool> JobPlans::Deployed(store::Transaction& tx, const std::string& project,
                                        const std::string& job) {
  auto rows =
      tx.Execute("SELECT 1 FROM plan_jobs WHERE job_key = $1", {pipeline::JobKey(project, job)});
  if (!rows.ok()) return rows.status();
  return !rows->rows.empty();
}

absl::StatusOr<NewExecution> JobPlans::ExecutionOf(store::Transaction& tx,
                                                   const std::string& project,
                                                   const std::string& job) {
  auto rows =
      tx.Execute("SELECT namespace, spec_yaml, priority, error FROM plan_jobs WHERE job_key = $1",
                 {pipeline::JobKey(project, job)});
  if (!rows.ok()) return rows.status();
  if (rows->rows.empty()) {
    return absl::NotFoundError("no job " + job + " deployed in project " + project);
  }
  const store::Row& row = rows->rows[0];
  if (!row.Text(3).empty()) {
    return absl::FailedPreconditionError("job " + job + " cannot run: " + row.Text(3));
  }
  spec::Diagnostics diagnostics;
  auto spec = spec::LoadStoredJobSpec(job + "/job.yaml", row.Text(1), diagnostics);
  if (spec == nullptr) {
    return absl::FailedPreconditionError("the stored spec of " + job +
                                         " does not load: " + diagnostics.ToString());
  }
  return PlanJob(project, row.Text(0), *spec, static_cast<int32_t>(row.Int(2)), StoredPlugins(tx));
}

}  // namespace optimus::dispatcher
