// The Job manifest of one execution step (see kubernetes_job.h).
#include "optimus/executor/kubernetes_job.h"

#include <cctype>

#include "google/protobuf/util/time_util.h"

namespace optimus::executor {
namespace {

using Step = core::v1::ExecutionStep;
constexpr char kDataDir[] = "/data";

std::string StepKind(Step::Kind kind) {
  switch (kind) {
    case Step::KIND_HOOK_PRE:
      return "pre-hook";
    case Step::KIND_HOOK_POST:
      return "post-hook";
    case Step::KIND_HOOK_FAIL:
      return "fail-hook";
    default:
      return "task";
  }
}

// What the container runs: the run input exported (as the task pods of Optimus's DAGs do),
// then the entrypoint.
std::string Entrypoint(const std::string& script) {
  return "set -a; [ -f /data/in/.env ] && . /data/in/.env; [ -f /data/in/.secret ] && . "
         "/data/in/.secret; set +a\n" +
         script;
}

}  // namespace

std::string LabelValue(const std::string& text) {
  std::string out;
  for (char c : text) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    out += ok ? c : '-';
  }
  if (out.size() > 63) out = out.substr(out.size() - 63);
  while (!out.empty() && !std::isalnum(static_cast<unsigned char>(out.front()))) out.erase(0, 1);
  while (!out.empty() && !std::isalnum(static_cast<unsigned char>(out.back()))) out.pop_back();
  return out;
}

std::string StepJobName(const core::v1::Execution& execution, int step_index) {
  std::string hex;
  for (char c : execution.id()) {
    if (std::isxdigit(static_cast<unsigned char>(c))) hex += static_cast<char>(std::tolower(c));
    if (hex.size() == 8) break;
  }
  return "opt-" + hex + "-a" + std::to_string(execution.attempt()) + "-s" +
         std::to_string(step_index);
}

nlohmann::json StepJob(const core::v1::Execution& e, int step_index, const std::string& run_token,
                       int64_t deadline_seconds, const KubernetesJobOptions& o) {
  const Step& step = e.plan().steps(step_index);
  nlohmann::json labels = {{"app.kubernetes.io/managed-by", "optimus-executor"},
                           {"optimus.io/execution", LabelValue(e.id())},
                           {"optimus.io/project", LabelValue(e.project())},
                           {"optimus.io/name", LabelValue(e.name())},
                           {"optimus.io/attempt", std::to_string(e.attempt())},
                           {"optimus.io/step", StepKind(step.kind())}};
  for (const auto& [k, v] :
       std::map<std::string, std::string>(e.plan().labels().begin(), e.plan().labels().end())) {
    const std::string key = LabelValue(k);
    if (!key.empty() && !labels.contains(key)) labels[key] = LabelValue(v);
  }
  nlohmann::json env = nlohmann::json::array();
  std::map<std::string, std::string> values(step.env().begin(), step.env().end());
  values["JOB_DIR"] = kDataDir;
  values["EXECUTION_ID"] = e.id();
  values["EXECUTION_ATTEMPT"] = std::to_string(e.attempt());
  if (e.has_scheduled_at()) {
    values["SCHEDULED_AT"] = google::protobuf::util::TimeUtil::ToString(e.scheduled_at());
  }
  for (const auto& [k, v] : values) env.push_back({{"name", k}, {"value", v}});
  const nlohmann::json mounts =
      nlohmann::json::array({{{"name", "asset-volume"}, {"mountPath", kDataDir}}});
  nlohmann::json container = {
      {"name", StepKind(step.kind())},
      {"image", step.image()},
      {"imagePullPolicy", o.image_pull_policy},
      {"command", nlohmann::json::array({step.shell().empty() ? "/bin/sh" : step.shell(), "-c"})},
      {"args", nlohmann::json::array({Entrypoint(step.script())})},
      {"env", env},
      {"volumeMounts", mounts}};
  nlohmann::json resources = nlohmann::json::object();
  const auto quantity = [&resources](const char* kind, const char* name, const std::string& v) {
    if (!v.empty()) resources[kind][name] = v;
  };
  quantity("requests", "cpu", e.plan().cpu_request());
  quantity("requests", "memory", e.plan().memory_request());
  quantity("limits", "cpu", e.plan().cpu_limit());
  quantity("limits", "memory", e.plan().memory_limit());
  if (!resources.empty()) container["resources"] = resources;
  nlohmann::json pod = {
      {"restartPolicy", "Never"},
      {"serviceAccountName",
       e.plan().service_account().empty() ? o.service_account : e.plan().service_account()},
      {"volumes",
       nlohmann::json::array({{{"name", "asset-volume"}, {"emptyDir", nlohmann::json::object()}}})},
      {"containers", nlohmann::json::array({container})}};
  if (!step.instance_type().empty()) {
    pod["initContainers"] = nlohmann::json::array(
        {{{"name", "run-input"},
          {"image", o.input_image},
          {"imagePullPolicy", o.image_pull_policy},
          {"command", nlohmann::json::array({"optimus-executor", "fetch-input"})},
          {"args", nlohmann::json::array({"--host", o.dispatcher, "--execution", e.id(), "--epoch",
                                          std::to_string(e.epoch()), "--instance-type",
                                          step.instance_type(), "--instance-name", step.name(),
                                          "--output-dir", kDataDir})},
          {"env",
           nlohmann::json::array(
               {{{"name", "OPTIMUS_EXECUTOR_CREDENTIAL"},
                 {"valueFrom",
                  {{"secretKeyRef", {{"name", o.credential_secret}, {"key", "credential"}}}}}},
                {{"name", "OPTIMUS_RUN_TOKEN"}, {"value", run_token}}})},
          {"volumeMounts", mounts}}});
  }
  nlohmann::json spec = {{"backoffLimit", o.backoff_limit},
                         {"ttlSecondsAfterFinished", o.ttl_seconds_after_finished},
                         {"template", {{"metadata", {{"labels", labels}}}, {"spec", pod}}}};
  if (deadline_seconds > 0) spec["activeDeadlineSeconds"] = deadline_seconds;
  return {{"apiVersion", "batch/v1"},
          {"kind", "Job"},
          {"metadata",
           {{"name", StepJobName(e, step_index)},
            {"namespace", o.namespace_name},
            {"labels", labels},
            {"annotations",
             {{"optimus.io/execution-id", e.id()},
              {"optimus.io/project", e.project()},
              {"optimus.io/name", e.name()},
              {"optimus.io/step-name", step.name()}}}}},
          {"spec", spec}};
}

}  // namespace optimus::executor
