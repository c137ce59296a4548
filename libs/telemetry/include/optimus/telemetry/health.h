// Named liveness and readiness checks, run on demand by /healthz, /readyz and the gRPC health
// service.
#pragma once

#include <absl/status/status.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace optimus::telemetry {

struct CheckResult {
  std::string name;
  absl::Status status;
  double duration_seconds = 0;
};

struct HealthReport {
  // Every check passed (and, for readiness, the process is not shutting down).
  bool ok = true;
  bool shutting_down = false;
  std::vector<CheckResult> checks;

  // {"status":"ok"|"fail","shutting_down":false,
  //  "checks":{"<name>":{"status":"ok","duration_seconds":0.0001} |
  //            {"status":"fail","code":"UNAVAILABLE","message":"..."}}}
  std::string ToJson() const;
};

// Liveness answers "should this process be restarted?": keep its checks to what only a restart
// fixes (a wedged loop), never dependencies. Readiness answers "may traffic come here?": database
// reachable, read model loaded; it fails from SetShuttingDown() on so that load balancers drain
// the instance before it stops.
class HealthRegistry {
 public:
  using Check = std::function<absl::Status()>;

  // Names are unique per kind; adding a name again replaces its check.
  void AddLivenessCheck(std::string name, Check check);
  void AddReadinessCheck(std::string name, Check check);

  // Runs every check of the kind now, in the order they were added, on the calling thread.
  HealthReport CheckLiveness() const;
  HealthReport CheckReadiness() const;

  // From now on readiness fails (with the checks still reported), for draining before exit.
  void SetShuttingDown();
  bool shutting_down() const { return shutting_down_.load(); }

 private:
  struct NamedCheck {
    std::string name;
    Check check;
  };

  static void Upsert(std::vector<NamedCheck>& checks, std::string name, Check check);
  static HealthReport Run(const std::vector<NamedCheck>& checks);

  mutable std::mutex mu_;
  std::vector<NamedCheck> liveness_;
  std::vector<NamedCheck> readiness_;
  std::atomic<bool> shutting_down_{false};
};

}  // namespace optimus::telemetry
