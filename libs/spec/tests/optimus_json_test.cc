// JobSpecFromOptimusJson: Optimus's REST JobSpecification, in either JSON spelling, becomes the
// JobSpec a job.yaml would give, and every error names its field.
#include "optimus/spec/optimus_json.h"

#include "optimus/spec/loaders.h"
#include "optimus/spec/schedule_hooks.h"
#include "optimus/spec/validate.h"
#include "optimus/spec/writer.h"
#include "optimus/testing/testing.h"

namespace optimus::spec {
namespace {

using nlohmann::json;

// A v3 job using every mapped field, with proto (snake_case) names.
constexpr const char* kSnakeCase = R"({
  "version": 3,
  "name": "sample-project.mart.daily_orders",
  "owner": "payments@example.com",
  "description": "daily order aggregates",
  "start_date": "2024-01-01",
  "end_date": "2025-01-01",
  "interval": "0 3 * * *",
  "depends_on_past": true,
  "catch_up": true,
  "task_name": "bq2bq",
  "config": [{"name": "PROJECT", "value": "sample-project"},
             {"name": "TABLE", "value": "daily_orders"}],
  "window": {"size": "1d", "shift_by": "-1d", "truncate_to": "d", "location": "Asia/Jakarta"},
  "dependencies": [
    {"name": "sample-project.raw.orders_snapshot", "type": "intra"},
    {"name": "other-project/other-project.dim.customers"},
    {"http_dependency": {"name": "vendor_ready", "url": "https://vendor.example.com/ready",
                         "headers": {"Authorization": "Bearer t"},
                         "params": {"date": "{{ ds }}"}}}
  ],
  "assets": {"query.sql": "SELECT 1"},
  "hooks": [{"name": "predator", "config": [{"name": "BQ_TABLE", "value": "{{.TASK__TABLE}}"}]}],
  "labels": {"tier": "gold"},
  "behavior": {
    "retry": {"count": 2, "delay": "300s", "exponential_backoff": true},
    "notify": [{"on": "TYPE_SLA_MISS", "channels": ["pagerduty://#payments_oncall"],
                "config": {"duration": "2h"}, "severity": "CRITICAL", "team": "payments"}],
    "webhook": [{"on": "TYPE_FAILURE",
                 "endpoints": [{"url": "https://hooks.example.com/fail",
                                "headers": {"X-Token": "t"}}]}]
  },
  "metadata": {
    "resource": {"request": {"cpu": "250m", "memory": "512Mi"},
                 "limit": {"cpu": "1", "memory": "1Gi"}},
    "airflow": {"pool": "payments_pool", "queue": "default"}
  }
})";

// The same job with protojson's lowerCamelCase names, as grpc-gateway responses spell them.
constexpr const char* kCamelCase = R"({
  "version": 3,
  "name": "sample-project.mart.daily_orders",
  "owner": "payments@example.com",
  "description": "daily order aggregates",
  "startDate": "2024-01-01",
  "endDate": "2025-01-01",
  "interval": "0 3 * * *",
  "dependsOnPast": true,
  "catchUp": true,
  "taskName": "bq2bq",
  "config": [{"name": "PROJECT", "value": "sample-project"},
             {"name": "TABLE", "value": "daily_orders"}],
  "window": {"size": "1d", "shiftBy": "-1d", "truncateTo": "d", "location": "Asia/Jakarta"},
  "dependencies": [
    {"name": "sample-project.raw.orders_snapshot", "type": "intra"},
    {"name": "other-project/other-project.dim.customers"},
    {"httpDependency": {"name": "vendor_ready", "url": "https://vendor.example.com/ready",
                        "headers": {"Authorization": "Bearer t"},
                        "params": {"date": "{{ ds }}"}}}
  ],
  "assets": {"query.sql": "SELECT 1"},
  "hooks": [{"name": "predator", "config": [{"name": "BQ_TABLE", "value": "{{.TASK__TABLE}}"}]}],
  "labels": {"tier": "gold"},
  "behavior": {
    "retry": {"count": 2, "delay": "300s", "exponentialBackoff": true},
    "notify": [{"on": "TYPE_SLA_MISS", "channels": ["pagerduty://#payments_oncall"],
                "config": {"duration": "2h"}, "severity": "CRITICAL", "team": "payments"}],
    "webhook": [{"on": "TYPE_FAILURE",
                 "endpoints": [{"url": "https://hooks.example.com/fail",
                                "headers": {"X-Token": "t"}}]}]
  },
  "metadata": {
    "resource": {"request": {"cpu": "250m", "memory": "512Mi"},
                 "limit": {"cpu": "1", "memory": "1Gi"}},
    "airflow": {"pool": "payments_pool", "queue": "default"}
  }
})";

JobSpec Convert(const json& spec) {
  absl::StatusOr<JobSpec> job = JobSpecFromOptimusJson(spec, "specs[0]");
  EXPECT_TRUE(job.ok()) << job.status();
  return job.ok() ? *std::move(job) : JobSpec{};
}

JobSpec Convert(const char* text) { return Convert(json::parse(text)); }

std::string ErrorOf(const char* text, const std::string& where = "specs[2]") {
  absl::StatusOr<JobSpec> job = JobSpecFromOptimusJson(json::parse(text), where);
  if (job.ok()) return "no error";
  EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(job.status().message());
}

TEST(OptimusJsonTest, SnakeAndCamelCaseGiveTheSameSpec) {
  const JobSpec snake = Convert(kSnakeCase);
  const JobSpec camel = Convert(kCamelCase);
  EXPECT_EQ(WriteJobSpec(camel), WriteJobSpec(snake));
  EXPECT_EQ(camel.assets, snake.assets);
  EXPECT_EQ(snake.version, 3);
  EXPECT_EQ(snake.name, "sample-project.mart.daily_orders");
  EXPECT_EQ(snake.owner, "payments@example.com");
  EXPECT_EQ(snake.description, "daily order aggregates");
  EXPECT_EQ(snake.schedule.start_date, "2024-01-01");
  EXPECT_EQ(snake.schedule.end_date, "2025-01-01");
  EXPECT_EQ(snake.schedule.interval, "0 3 * * *");
  EXPECT_EQ(snake.behavior.depends_on_past, std::optional<bool>(true));
  EXPECT_EQ(snake.behavior.catch_up, std::optional<bool>(true));
  EXPECT_EQ(snake.task.name, "bq2bq");
  EXPECT_EQ(snake.task.config,
            (StringMap{{"PROJECT", "sample-project"}, {"TABLE", "daily_orders"}}));
  EXPECT_EQ(snake.labels, (StringMap{{"tier", "gold"}}));
}

TEST(OptimusJsonTest, MapsWindowDependenciesHooksAssetsAndMetadata) {
  const JobSpec job = Convert(kSnakeCase);
  const Window& w = job.task.window;
  EXPECT_EQ(w.version, 3);
  EXPECT_EQ(w.size, "1d");
  EXPECT_EQ(w.shift_by, "-1d");
  EXPECT_EQ(w.truncate_to, "d");
  EXPECT_EQ(w.location, "Asia/Jakarta");
  EXPECT_EQ(w.offset, "");
  EXPECT_EQ(w.preset, "");

  ASSERT_EQ(job.dependencies.size(), 3u);
  EXPECT_EQ(job.dependencies[0].job, "sample-project.raw.orders_snapshot");
  EXPECT_EQ(job.dependencies[0].project, "");
  EXPECT_EQ(job.dependencies[0].name, "sample-project.raw.orders_snapshot");
  EXPECT_EQ(job.dependencies[0].type, "intra");
  EXPECT_FALSE(job.dependencies[0].http.has_value());
  EXPECT_EQ(job.dependencies[1].job, "other-project/other-project.dim.customers");
  EXPECT_EQ(job.dependencies[1].project, "other-project");
  EXPECT_EQ(job.dependencies[1].name, "other-project.dim.customers");
  EXPECT_EQ(job.dependencies[2].job, "");
  ASSERT_TRUE(job.dependencies[2].http.has_value());
  EXPECT_EQ(job.dependencies[2].http->name, "vendor_ready");
  EXPECT_EQ(job.dependencies[2].http->url, "https://vendor.example.com/ready");
  EXPECT_EQ(job.dependencies[2].http->headers, (StringMap{{"Authorization", "Bearer t"}}));
  EXPECT_EQ(job.dependencies[2].http->params, (StringMap{{"date", "{{ ds }}"}}));

  ASSERT_EQ(job.hooks.size(), 1u);
  EXPECT_EQ(job.hooks[0].name, "predator");
  EXPECT_EQ(job.hooks[0].config, (StringMap{{"BQ_TABLE", "{{.TASK__TABLE}}"}}));
  EXPECT_EQ(job.assets, (StringMap{{"query.sql", "SELECT 1"}}));

  EXPECT_EQ(job.metadata.request.cpu, "250m");
  EXPECT_EQ(job.metadata.request.memory, "512Mi");
  EXPECT_EQ(job.metadata.limit.cpu, "1");
  EXPECT_EQ(job.metadata.limit.memory, "1Gi");
  EXPECT_EQ(job.metadata.airflow_pool, "payments_pool");
  EXPECT_EQ(job.metadata.airflow_queue, "default");
}

TEST(OptimusJsonTest, MapsBehavior) {
  const Behavior b = Convert(kSnakeCase).behavior;
  EXPECT_EQ(b.retry.count, std::optional<int>(2));
  EXPECT_EQ(b.retry.delay, "300s");
  EXPECT_EQ(b.retry.exponential_backoff, std::optional<bool>(true));
  ASSERT_EQ(b.notify.size(), 1u);
  EXPECT_EQ(b.notify[0].on, "sla_miss");
  EXPECT_EQ(b.notify[0].channels, std::vector<std::string>{"pagerduty://#payments_oncall"});
  EXPECT_EQ(b.notify[0].config, (StringMap{{"duration", "2h"}}));
  EXPECT_EQ(b.notify[0].severity, "CRITICAL");
  EXPECT_EQ(b.notify[0].team, "payments");
  ASSERT_EQ(b.webhook.size(), 1u);
  EXPECT_EQ(b.webhook[0].on, "failure");
  ASSERT_EQ(b.webhook[0].endpoints.size(), 1u);
  EXPECT_EQ(b.webhook[0].endpoints[0].url, "https://hooks.example.com/fail");
  EXPECT_EQ(b.webhook[0].endpoints[0].headers, (StringMap{{"X-Token", "t"}}));
}

TEST(OptimusJsonTest, EventTypesMayBeNumbers) {
  const Behavior b = Convert(R"({"name": "j", "behavior": {
      "notify": [{"on": 7}, {"on": 6}, {"on": "TYPE_REPLAY_LIFECYCLE"}],
      "webhook": [{"on": 1}]}})")
                         .behavior;
  ASSERT_EQ(b.notify.size(), 3u);
  EXPECT_EQ(b.notify[0].on, "failure");
  EXPECT_EQ(b.notify[1].on, "job_success");
  EXPECT_EQ(b.notify[2].on, "replay_lifecycle");
  ASSERT_EQ(b.webhook.size(), 1u);
  EXPECT_EQ(b.webhook[0].on, "sla_miss");
}

TEST(OptimusJsonTest, LegacyWindowFieldsForVersionsOneAndTwo) {
  Window w = Convert(R"({"version": 2, "name": "j", "window_size": "24h",
                         "window_offset": "-24h", "window_truncate_to": "d"})")
                 .task.window;
  EXPECT_EQ(w.version, 2);
  EXPECT_EQ(w.size, "24h");
  EXPECT_EQ(w.offset, "-24h");
  EXPECT_EQ(w.truncate_to, "d");
  EXPECT_EQ(w.shift_by, "");

  w = Convert(R"({"version": 1, "name": "j", "windowSize": "48h", "windowOffset": "0",
                  "windowTruncateTo": "w"})")
          .task.window;
  EXPECT_EQ(w.version, 1);
  EXPECT_EQ(w.size, "48h");
  EXPECT_EQ(w.offset, "0");
  EXPECT_EQ(w.truncate_to, "w");

  // Newer CLIs send only the `window` object, whatever the version.
  w = Convert(R"({"version": 2, "name": "j",
                  "window": {"size": "1M", "truncateTo": "M", "shiftBy": "1d"}})")
          .task.window;
  EXPECT_EQ(w.size, "1M");
  EXPECT_EQ(w.truncate_to, "M");
  EXPECT_EQ(w.shift_by, "");  // not a field of version 2 windows
}

TEST(OptimusJsonTest, PresetWinsOverOtherWindowFields) {
  Window w = Convert(R"({"version": 3, "name": "j",
                         "window": {"preset": "yesterday", "size": "1d"}})")
                 .task.window;
  EXPECT_EQ(w.preset, "yesterday");
  EXPECT_EQ(w.size, "");
  w = Convert(R"({"version": 2, "name": "j", "windowPreset": "@last_month",
                  "windowSize": "24h"})")
          .task.window;
  EXPECT_EQ(w.preset, "@last_month");
  EXPECT_EQ(w.size, "");
}

TEST(OptimusJsonTest, DeprecatedDelayIsANegatedShiftBy) {
  auto shift_by = [](const char* window) {
    return Convert(json{{"version", 3}, {"name", "j"}, {"window", json::parse(window)}})
        .task.window.shift_by;
  };
  EXPECT_EQ(shift_by(R"({"size": "1d", "delay": "1d"})"), "-1d");
  EXPECT_EQ(shift_by(R"({"size": "1d", "delay": "-2h"})"), "2h");
  EXPECT_EQ(shift_by(R"({"size": "1d", "delay": "0"})"), "0");
  EXPECT_EQ(shift_by(R"({"size": "1d", "delay": "1d", "shift_by": "-3h"})"), "-3h");
}

TEST(OptimusJsonTest, TaskObjectWinsOverFlatFields) {
  const JobSpec job = Convert(R"({"name": "j", "task_name": "old",
      "config": [{"name": "A", "value": "1"}, {"name": "B", "value": "1"}],
      "task": {"name": "bq2bq", "version": "3.6", "config": [{"name": "A", "value": "2"}],
               "alert": {"slaMiss": [{"durationThreshold": "1h30m", "severity": "WARNING",
                                      "autoThreshold": true}],
                         "retry": [{"countThreshold": "3", "severity": "INFO"}],
                         "failure": {"severity": "CRITICAL"}, "team": "data"}},
      "hooks": [{"name": "predator", "version": "2", "alert": {"success": {"severity": "INFO"}}}]
  })");
  EXPECT_EQ(job.task.name, "bq2bq");
  EXPECT_EQ(job.task.version, "3.6");
  EXPECT_EQ(job.task.config, (StringMap{{"A", "2"}, {"B", "1"}}));
  const Alert& a = job.task.alert;
  ASSERT_EQ(a.sla_miss.size(), 1u);
  EXPECT_EQ(a.sla_miss[0].duration_threshold, "1h30m");
  EXPECT_EQ(a.sla_miss[0].severity, "WARNING");
  EXPECT_EQ(a.sla_miss[0].auto_threshold, std::optional<bool>(true));
  ASSERT_EQ(a.retry.size(), 1u);
  EXPECT_EQ(a.retry[0].count_threshold, 3);
  EXPECT_EQ(a.retry[0].severity, "INFO");
  EXPECT_EQ(a.failure_severity, "CRITICAL");
  EXPECT_EQ(a.team, "data");
  ASSERT_EQ(job.hooks.size(), 1u);
  EXPECT_EQ(job.hooks[0].version, "2");
  EXPECT_EQ(job.hooks[0].alert.success_severity, "INFO");
}

TEST(OptimusJsonTest, IntFieldsMayBeStrings) {
  const JobSpec job =
      Convert(R"({"version": "3", "name": "j", "behavior": {"retry": {"count": "2"}}})");
  EXPECT_EQ(job.version, 3);
  EXPECT_EQ(job.task.window.version, 3);
  EXPECT_EQ(job.behavior.retry.count, std::optional<int>(2));
  EXPECT_EQ(Convert(R"({"version": 2.0, "name": "j"})").version, 2);
  EXPECT_EQ(ErrorOf(R"({"version": "three", "name": "j"})"),
            "specs[2].version: expected a 32-bit integer (a number or a decimal string)");
  EXPECT_EQ(ErrorOf(R"({"version": 4294967296, "name": "j"})"),
            "specs[2].version: expected a 32-bit integer (a number or a decimal string)");
  EXPECT_EQ(ErrorOf(R"({"version": 1.5, "name": "j"})"),
            "specs[2].version: expected a 32-bit integer (a number or a decimal string)");
}

// grpc-gateway responses carry every field: zeros, empty lists and nulls mean "not set".
TEST(OptimusJsonTest, ZeroValuesNullsAndUnknownFieldsAreIgnored) {
  const JobSpec job = Convert(R"({"version": 3, "name": "j", "owner": "", "endDate": "",
      "dependsOnPast": false, "catchUp": false, "config": [], "windowSize": "",
      "windowPreset": "", "window": null, "dependencies": [], "assets": {}, "hooks": null,
      "labels": {}, "metadata": null, "destination": "bigquery://p:d.t", "sources": ["x"],
      "schedulerState": "enabled", "somethingNew": {"a": [1, 2]},
      "behavior": {"retry": {"count": 0, "delay": "0s", "exponentialBackoff": false},
                   "notify": [], "webhook": null}})");
  EXPECT_FALSE(job.behavior.depends_on_past.has_value());
  EXPECT_FALSE(job.behavior.catch_up.has_value());
  EXPECT_FALSE(job.behavior.retry.count.has_value());
  EXPECT_EQ(job.behavior.retry.delay, "");
  EXPECT_FALSE(job.behavior.retry.exponential_backoff.has_value());
  EXPECT_EQ(WriteJobSpec(job), WriteJobSpec(Convert(R"({"version": 3, "name": "j"})")));
}

TEST(OptimusJsonTest, ErrorsNameTheFieldPath) {
  EXPECT_EQ(ErrorOf("[]"), "specs[2]: expected a JSON object (a JobSpecification)");
  EXPECT_EQ(ErrorOf(R"({"version": 3})"), "specs[2].name: missing required field (the job name)");
  EXPECT_EQ(ErrorOf(R"({"name": ""})"), "specs[2].name: missing required field (the job name)");
  EXPECT_EQ(ErrorOf(R"({"name": "j", "config": {"A": "1"}})"), "specs[2].config: expected a list");
  EXPECT_EQ(ErrorOf(R"({"name": "j", "config": [{"name": "A", "value": "1"},
                                                {"name": "B", "value": 2}]})"),
            "specs[2].config[1].value: expected a string");
  EXPECT_EQ(ErrorOf(R"({"name": "j", "config": [{"value": "1"}]})"),
            "specs[2].config[0].name: a config entry needs a name");
  EXPECT_EQ(ErrorOf(R"({"name": "j", "interval": 5})"), "specs[2].interval: expected a string");
  EXPECT_EQ(ErrorOf(R"({"name": "j", "dependsOnPast": "yes"})"),
            "specs[2].dependsOnPast: expected true or false");
  EXPECT_EQ(ErrorOf(R"({"name": "j", "hooks": ["predator"]})"),
            "specs[2].hooks[0]: expected an object");
  EXPECT_EQ(ErrorOf(R"({"name": "j", "labels": ["a"]})"), "specs[2].labels: expected an object");
  EXPECT_EQ(ErrorOf(R"({"name": "j", "assets": {"query.sql": null}})"),
            "specs[2].assets.query.sql: expected a string");
  // The path spells each field as the JSON did.
  EXPECT_EQ(ErrorOf(R"({"name": "j", "dependencies": [{"name": "a"},
                       {"httpDependency": {"headers": {"X-Token": 1}}}]})"),
            "specs[2].dependencies[1].httpDependency.headers.X-Token: expected a string");
  EXPECT_EQ(ErrorOf(R"({"name": "j", "behavior": {"retry": {"delay": "5m"}}})"),
            "specs[2].behavior.retry.delay: expected a duration in seconds like \"300s\"");
  EXPECT_EQ(ErrorOf(R"({"name": "j", "behavior": {"notify": [{"on": 3}]}})"),
            "specs[2].behavior.notify[0].on: unknown event type 3");
  EXPECT_EQ(ErrorOf(R"({"name": "j", "behavior": {"notify": [{"channels": "slack://#a"}]}})"),
            "specs[2].behavior.notify[0].channels: expected a list");
  EXPECT_EQ(ErrorOf(R"({"name": "j", "metadata": {"resource": {"limit": {"cpu": 1}}}})"),
            "specs[2].metadata.resource.limit.cpu: expected a string");
  // Without `where` the path stands alone.
  EXPECT_EQ(ErrorOf(R"({"name": 1})", ""), "name: expected a string");
  EXPECT_EQ(ErrorOf("\"job\"", ""),
            "job specification: expected a JSON object (a JobSpecification)");
}

TEST(OptimusJsonTest, ConvertedSpecLoadsBackAndValidates) {
  const JobSpec job = Convert(kSnakeCase);
  const std::string text = WriteJobSpec(job);
  Diagnostics d;
  std::optional<JobSpec> loaded = LoadJobSpec("converted.yaml", text, d);
  ASSERT_TRUE(loaded.has_value()) << text << d.ToString();
  EXPECT_TRUE(d.empty()) << text << d.ToString();
  EXPECT_EQ(WriteJobSpec(*loaded), text);
  EXPECT_EQ(loaded->task.window.version, job.task.window.version);
  EXPECT_EQ(loaded->task.window.shift_by, job.task.window.shift_by);
  EXPECT_EQ(loaded->task.window.location, job.task.window.location);
  EXPECT_EQ(loaded->dependencies[1].project, job.dependencies[1].project);
  EXPECT_EQ(loaded->dependencies[1].name, job.dependencies[1].name);
  EXPECT_EQ(loaded->behavior.retry.delay, job.behavior.retry.delay);
  EXPECT_EQ(loaded->behavior.webhook.size(), job.behavior.webhook.size());

  JobValidationOptions options;
  options.hooks = ScheduleValidationHooks();
  ValidateJob(*loaded, options, d);
  EXPECT_TRUE(d.empty()) << text << d.ToString();
}

}  // namespace
}  // namespace optimus::spec
