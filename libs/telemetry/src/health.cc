// Runs health checks and renders their results as JSON.
#include "optimus/telemetry/health.h"

#include <chrono>
#include <exception>
#include <nlohmann/json.hpp>
#include <utility>

#include "optimus/telemetry/log.h"

namespace optimus::telemetry {

std::string HealthReport::ToJson() const {
  nlohmann::json body;
  body["status"] = ok ? "ok" : "fail";
  body["shutting_down"] = shutting_down;
  nlohmann::json checks_json = nlohmann::json::object();
  for (const CheckResult& result : checks) {
    nlohmann::json entry;
    entry["status"] = result.status.ok() ? "ok" : "fail";
    if (!result.status.ok()) {
      entry["code"] = absl::StatusCodeToString(result.status.code());
      entry["message"] = std::string(result.status.message());
    }
    entry["duration_seconds"] = result.duration_seconds;
    checks_json[result.name] = std::move(entry);
  }
  body["checks"] = std::move(checks_json);
  // Replace invalid UTF-8 from a check's message instead of throwing while answering a probe.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void HealthRegistry::AddLivenessCheck(std::string name, Check check) {
  std::lock_guard<std::mutex> lock(mu_);
  Upsert(liveness_, std::move(name), std::move(check));
}

void HealthRegistry::AddReadinessCheck(std::string name, Check check) {
  std::lock_guard<std::mutex> lock(mu_);
  Upsert(readiness_, std::move(name), std::move(check));
}

HealthReport HealthRegistry::CheckLiveness() const {
  std::vector<NamedCheck> checks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    checks = liveness_;
  }
  HealthReport report = Run(checks);
  report.shutting_down = shutting_down();
  return report;
}

HealthReport HealthRegistry::CheckReadiness() const {
  std::vector<NamedCheck> checks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    checks = readiness_;
  }
  HealthReport report = Run(checks);
  report.shutting_down = shutting_down();
  if (report.shutting_down) report.ok = false;
  return report;
}

void HealthRegistry::SetShuttingDown() {
  if (!shutting_down_.exchange(true)) {
    LOG_INFO("shutting down: readiness now fails");
  }
}

void HealthRegistry::Upsert(std::vector<NamedCheck>& checks, std::string name, Check check) {
  for (NamedCheck& existing : checks) {
    if (existing.name == name) {
      existing.check = std::move(check);
      return;
    }
  }
  checks.push_back({std::move(name), std::move(check)});
}

HealthReport HealthRegistry::Run(const std::vector<NamedCheck>& checks) {
  HealthReport report;
  for (const NamedCheck& named : checks) {
    CheckResult result;
    result.name = named.name;
    auto start = std::chrono::steady_clock::now();
    try {
      result.status = named.check();
    } catch (const std::exception& e) {
      // A throwing check is a failed check, reported with its reason, not a crashed probe.
      result.status = absl::InternalError("health check \"" + named.name + "\" threw: " + e.what());
    }
    result.duration_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!result.status.ok()) report.ok = false;
    report.checks.push_back(std::move(result));
  }
  return report;
}

}  // namespace optimus::telemetry
