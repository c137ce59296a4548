// Kubernetes Jobs for execution steps, in the shape the simplify-plugins RFC asks: one Job per
// step; an init container (optimus-executor fetch-input) that fetches the run input onto an
// emptyDir; the plugin version's image running its entrypoint after sourcing in/.env and
// in/.secret; the plan's environment; activeDeadlineSeconds, backoffLimit, labels, service
// account and resources from the job's metadata. Pure: values in, manifests out.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "nlohmann/json.hpp"
#include "optimus/core/v1/dispatch.pb.h"

namespace optimus::executor {

struct KubernetesJobOptions {
  std::string namespace_name = "default";
  // The image with optimus-executor, for the init container.
  std::string input_image = "optimus:latest";
  // The dispatcher's gRPC address as seen from the cluster.
  std::string dispatcher;
  // A Secret holding the executor's credential under the key "credential".
  std::string credential_secret = "optimus-executor";
  // Used when the job's metadata names no service account.
  std::string service_account = "default";
  int32_t backoff_limit = 0;
  int64_t ttl_seconds_after_finished = 3600;
  std::string image_pull_policy = "IfNotPresent";
};

// "opt-<first 8 hex of the execution id>-a<attempt>-s<step>": unique per execution attempt and
// step, a valid DNS-1123 label.
std::string StepJobName(const core::v1::Execution& execution, int step_index);

// A label value Kubernetes accepts: [A-Za-z0-9._-], starting and ending alphanumeric, at most
// 63 characters (longer ones keep their end).
std::string LabelValue(const std::string& text);

// The Job running step `step_index` of `execution`, with at most `deadline_seconds` to run
// (0: none). `run_token` authorises the init container's run input request.
nlohmann::json StepJob(const core::v1::Execution& execution, int step_index,
                       const std::string& run_token, int64_t deadline_seconds,
                       const KubernetesJobOptions& options);

}  // namespace optimus::executor
