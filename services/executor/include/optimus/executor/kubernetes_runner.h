// Runs execution steps as Kubernetes Jobs (kubernetes_job.h) and follows each to its end:
// its Pod's log streamed as it grows, its outcome read from the Job's status and the Pod's
// exit code, the Job deleted when the run is cancelled or its lease lost.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "optimus/core/v1/dispatch.pb.h"
#include "optimus/executor/kubernetes_api.h"
#include "optimus/executor/kubernetes_job.h"
#include "optimus/executor/process.h"

namespace optimus::executor {

class KubernetesRunner {
 public:
  KubernetesRunner(KubernetesApi& api, KubernetesJobOptions options,
                   std::chrono::milliseconds poll = std::chrono::milliseconds(1000))
      : api_(api), options_(std::move(options)), poll_(poll) {}

  // Runs step `index` of `execution` to its end (kExited with the container's exit code,
  // kTimedOut when its activeDeadlineSeconds passed, kCancelled when `stop` was set, or
  // kNotStarted when the API refused the Job or could not be reached for a minute).
  ProcessResult Run(const core::v1::Execution& execution, int index, const std::string& run_token,
                    std::chrono::steady_clock::time_point deadline, const OutputSink& output,
                    const std::atomic<Stop>& stop);

  const KubernetesJobOptions& options() const { return options_; }

 private:
  KubernetesApi& api_;
  KubernetesJobOptions options_;
  std::chrono::milliseconds poll_;
};

}  // namespace optimus::executor
