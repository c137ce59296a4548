// A step as a Kubernetes Job, followed to its end (see kubernetes_runner.h).
#include "optimus/executor/kubernetes_runner.h"

#include <thread>

namespace optimus::executor {
namespace {

using Clock = std::chrono::steady_clock;

// The exit code of the first terminated container of `statuses` (init or main), if any.
std::optional<int> ExitCode(const nlohmann::json& pod, const char* statuses) {
  if (!pod.contains("status") || !pod["status"].contains(statuses)) return std::nullopt;
  for (const auto& s : pod["status"][statuses]) {
    if (s.contains("state") && s["state"].contains("terminated")) {
      const int code = s["state"]["terminated"].value("exitCode", 0);
      if (code != 0 || std::string(statuses) == "containerStatuses") return code;
    }
  }
  return std::nullopt;
}

}  // namespace

ProcessResult KubernetesRunner::Run(const core::v1::Execution& e, int index,
                                    const std::string& run_token, Clock::time_point deadline,
                                    const OutputSink& output, const std::atomic<Stop>& stop) {
  ProcessResult result;
  int64_t seconds = 0;
  if (deadline != Clock::time_point::max()) {
    seconds = std::max<int64_t>(
        1, std::chrono::ceil<std::chrono::seconds>(deadline - Clock::now()).count());
  }
  const nlohmann::json job = StepJob(e, index, run_token, seconds, options_);
  const std::string name = job["metadata"]["name"];
  const std::string ns = options_.namespace_name;
  auto created = api_.CreateJob(job);
  if (!created.ok() && created.status().code() != absl::StatusCode::kAlreadyExists) {
    result.error =
        "cannot create Kubernetes Job " + name + ": " + std::string(created.status().message());
    return result;
  }
  output("kubernetes: Job " + ns + "/" + name + "\n");
  size_t shown = 0;
  std::string pod_name;
  auto unreachable_since = Clock::time_point::max();
  const std::string container = job["spec"]["template"]["spec"]["containers"][0]["name"];
  const auto show_log = [&] {
    if (pod_name.empty()) return;
    auto log = api_.Log(ns, pod_name, container);
    if (log.ok() && log->size() > shown) {
      output(std::string_view(*log).substr(shown));
      shown = log->size();
    }
  };
  for (;;) {
    if (stop.load() != Stop::kNo) {
      show_log();
      (void)api_.DeleteJob(ns, name);  // its Pods go with it
      result.end = ProcessResult::End::kCancelled;
      return result;
    }
    auto got = api_.GetJob(ns, name);
    if (!got.ok()) {
      if (got.status().code() == absl::StatusCode::kNotFound) {
        result.error = "Kubernetes Job " + name + " was deleted by someone else";
        return result;
      }
      if (unreachable_since == Clock::time_point::max()) unreachable_since = Clock::now();
      if (Clock::now() - unreachable_since > std::chrono::minutes(1)) {
        result.error = "the Kubernetes API has not answered for a minute: " +
                       std::string(got.status().message());
        (void)api_.DeleteJob(ns, name);
        return result;
      }
      std::this_thread::sleep_for(poll_);
      continue;
    }
    unreachable_since = Clock::time_point::max();
    nlohmann::json pod;
    if (auto pods = api_.Pods(ns, "job-name=" + name); pods.ok() && !pods->empty()) {
      pod = pods->back();
      pod_name = pod["metadata"].value("name", std::string());
    }
    show_log();
    const nlohmann::json status = got->value("status", nlohmann::json::object());
    std::string failed_reason;
    for (const auto& c : status.value("conditions", nlohmann::json::array())) {
      if (c.value("type", "") == "Failed" && c.value("status", "") == "True") {
        failed_reason = c.value("reason", "Failed");
      }
    }
    if (status.value("succeeded", 0) > 0) {
      show_log();
      result.end = ProcessResult::End::kExited;
      result.exit_code = 0;
      return result;
    }
    if (status.value("failed", 0) > 0 || !failed_reason.empty()) {
      show_log();
      if (failed_reason == "DeadlineExceeded") {
        result.end = ProcessResult::End::kTimedOut;
        return result;
      }
      result.end = ProcessResult::End::kExited;
      const auto init = ExitCode(pod, "initContainerStatuses");
      const auto main = ExitCode(pod, "containerStatuses");
      result.exit_code = main ? *main : init ? *init : 1;
      if (init && !main) output("kubernetes: the run-input init container failed\n");
      return result;
    }
    std::this_thread::sleep_for(poll_);
  }
}

}  // namespace optimus::executor
