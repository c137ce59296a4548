// Tests of the health registry: liveness and readiness states, shutdown, and the JSON body.
#include "optimus/telemetry/health.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace optimus::telemetry {
namespace {

TEST(HealthTest, NoChecksMeansHealthyAndReady) {
  HealthRegistry health;
  EXPECT_TRUE(health.CheckLiveness().ok);
  EXPECT_TRUE(health.CheckReadiness().ok);
}

TEST(HealthTest, ReadinessFailsUntilEveryCheckPasses) {
  HealthRegistry health;
  bool db_up = false;
  bool model_loaded = false;
  health.AddReadinessCheck("postgres", [&] {
    return db_up ? absl::OkStatus() : absl::UnavailableError("postgres at db:5432 refused");
  });
  health.AddReadinessCheck("read_model", [&] {
    return model_loaded ? absl::OkStatus() : absl::UnavailableError("read model still loading");
  });
  health.AddLivenessCheck("loop", [] { return absl::OkStatus(); });

  EXPECT_FALSE(health.CheckReadiness().ok);
  db_up = true;
  HealthReport half = health.CheckReadiness();
  EXPECT_FALSE(half.ok);
  ASSERT_EQ(half.checks.size(), 2u);
  EXPECT_TRUE(half.checks[0].status.ok());
  EXPECT_EQ(half.checks[1].status.code(), absl::StatusCode::kUnavailable);
  model_loaded = true;
  EXPECT_TRUE(health.CheckReadiness().ok);
  EXPECT_TRUE(health.CheckLiveness().ok) << "liveness ignores readiness checks";
}

TEST(HealthTest, ShuttingDownFailsReadinessButNotLiveness) {
  HealthRegistry health;
  health.AddReadinessCheck("always", [] { return absl::OkStatus(); });
  EXPECT_TRUE(health.CheckReadiness().ok);
  health.SetShuttingDown();
  HealthReport report = health.CheckReadiness();
  EXPECT_FALSE(report.ok);
  EXPECT_TRUE(report.shutting_down);
  EXPECT_TRUE(report.checks.at(0).status.ok());
  EXPECT_TRUE(health.CheckLiveness().ok);
}

TEST(HealthTest, JsonBodyReportsEveryCheck) {
  HealthRegistry health;
  health.AddReadinessCheck("kafka", [] { return absl::UnavailableError("no brokers"); });
  health.AddReadinessCheck("postgres", [] { return absl::OkStatus(); });
  auto body = nlohmann::json::parse(health.CheckReadiness().ToJson());
  EXPECT_EQ(body["status"], "fail");
  EXPECT_EQ(body["shutting_down"], false);
  EXPECT_EQ(body["checks"]["kafka"]["status"], "fail");
  EXPECT_EQ(body["checks"]["kafka"]["code"], "UNAVAILABLE");
  EXPECT_EQ(body["checks"]["kafka"]["message"], "no brokers");
  EXPECT_EQ(body["checks"]["postgres"]["status"], "ok");
  EXPECT_TRUE(body["checks"]["postgres"]["duration_seconds"].is_number());
}

TEST(HealthTest, ReAddingANameReplacesTheCheck) {
  HealthRegistry health;
  health.AddLivenessCheck("loop", [] { return absl::InternalError("stuck"); });
  health.AddLivenessCheck("loop", [] { return absl::OkStatus(); });
  HealthReport report = health.CheckLiveness();
  EXPECT_TRUE(report.ok);
  EXPECT_EQ(report.checks.size(), 1u);
}

TEST(HealthTest, AThrowingCheckFailsWithItsReason) {
  HealthRegistry health;
  health.AddLivenessCheck("boom", []() -> absl::Status { throw std::runtime_error("kaput"); });
  HealthReport report = health.CheckLiveness();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.checks.at(0).status.code(), absl::StatusCode::kInternal);
  EXPECT_NE(report.checks.at(0).status.message().find("kaput"), absl::string_view::npos);
}

}  // namespace
}  // namespace optimus::telemetry
