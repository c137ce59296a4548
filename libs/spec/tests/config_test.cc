// Tests of the client config, server config, presets and resource.yaml loaders.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "optimus/spec/loaders.h"
#include "optimus/spec/validate.h"
#include "test_util.h"

namespace optimus::spec {
namespace {

using ::testing::HasSubstr;
using testutil::Only;
using testutil::ReadTestData;

TEST(ClientConfigTest, LoadsTheSample) {
  Diagnostics d;
  auto c = LoadClientConfig("optimus.yaml", ReadTestData("realistic/optimus.yaml"), d);
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(d.empty()) << d.ToString();
  EXPECT_EQ(c->version, 1);
  EXPECT_EQ(c->host, "localhost:9100");
  EXPECT_EQ(c->log_level, "info");
  EXPECT_EQ(c->project_name, "sample_project");
  EXPECT_EQ(c->preset_path, "./preset.yaml");
  EXPECT_EQ(c->project_config.at("storage_path"), "gs://bucket/prefix");
  EXPECT_EQ(c->project_variables.at("environment"), "integration");
  ASSERT_EQ(c->namespaces.size(), 2u);
  EXPECT_EQ(c->namespaces[0].job_path, "ns1/jobs");
  ASSERT_EQ(c->namespaces[0].datastores.size(), 1u);
  EXPECT_EQ(c->namespaces[0].datastores[0].type, "bigquery");
}

TEST(ClientConfigTest, NativeProjectsNeedNoAirflowHost) {
  const auto load = [](const std::string& scheduler) {
    Diagnostics d;
    LoadClientConfig("optimus.yaml",
                     "version: 1\nhost: localhost:9100\nproject:\n  name: p\n  config:\n"
                     "    storage_path: file:///tmp/dags\n    scheduler: " +
                         scheduler + "\n",
                     d);
    return d;
  };
  EXPECT_EQ(load("native").ErrorCount(), 0);
  Diagnostics airflow = load("airflow");
  EXPECT_THAT(Only(airflow, "project.config.scheduler_host"), HasSubstr("missing required field"));
  Diagnostics bad = load("cron");
  EXPECT_THAT(Only(bad, "project.config.scheduler"),
              HasSubstr("invalid value \"cron\" (want airflow or native)"));
}

TEST(ClientConfigTest, ReportsEveryProblem) {
  Diagnostics d;
  auto c = LoadClientConfig("optimus.yaml",
                            "version: 2\n"
                            "log: {level: chatty}\n"
                            "project:\n"
                            "  config: {STORAGE_PATH: gs://b}\n"
                            "namespaces:\n"
                            "- name: a\n"
                            "  datastore: [{type: postgres, path: x}]\n"
                            "- name: a\n",
                            d);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(Only(d, "version"), "optimus.yaml:1:10: version: unsupported version 2 (want 1)");
  EXPECT_THAT(Only(d, "log.level"), HasSubstr("invalid level \"chatty\""));
  EXPECT_EQ(Only(d, "host"),
            "optimus.yaml:1:1: host: missing required field (the server's gRPC address)");
  EXPECT_THAT(Only(d, "project.name"), HasSubstr("missing required field"));
  EXPECT_TRUE(Only(d, "project.config.storage_path").empty());  // keys are case-insensitive
  EXPECT_THAT(Only(d, "project.config.scheduler_host"), HasSubstr("missing required field"));
  EXPECT_THAT(Only(d, "namespaces[0].datastore[0].type"),
              HasSubstr("unknown datastore \"postgres\""));
  EXPECT_EQ(Only(d, "namespaces[1].name"),
            "optimus.yaml:8:9: namespaces[1].name: namespace \"a\" is also defined at "
            "namespaces[0] (names must be unique)");
  EXPECT_EQ(d.ErrorCount(), 7);
}

const char kServer[] =
    "version: 1\n"
    "log: {level: DEBUG}\n"
    "serve:\n"
    "  port: 9100\n"
    "  port_grpc: 9101\n"
    "  ingress_host: optimus.example.com:80\n"
    "  ingress_host_grpc: optimus-grpc.example.com:80\n"
    "  app_key: 0123456789abcdef0123456789abcdef\n"
    "  db: {dsn: 'postgres://u:p@localhost:5432/optimus?sslmode=disable', max_open_connection: "
    "30}\n"
    "telemetry: {profile_addr: ':9110', jaeger_addr: 'http://jaeger:14268/api/traces'}\n"
    "replay: {replay_timeout_in_minutes: 60, plugin_execution_project_config_names: {bq2bq: "
    "EXECUTION_PROJECT}}\n"
    "publisher: {type: kafka, buffer: 8, config: {topic: optimus-events, batch_interval_second: 1, "
    "broker_urls: ['k:9092']}}\n"
    "features: {enable_v2_sensor: true}\n"
    "plugins: {location: /opt/plugins}\n"
    "resource_managers:\n"
    "- {name: other, type: optimus, config: {host: other:9100, headers: {X-A: b}}}\n"
    "alerting: {enable_slack: true, dashboard: 'https://d'}\n";

TEST(ServerConfigTest, LoadsEveryModelledSection) {
  Diagnostics d;
  auto c = LoadServerConfig("config.yaml", kServer, d);
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(d.empty()) << d.ToString();
  EXPECT_EQ(c->serve_port_grpc, 9101);
  EXPECT_EQ(c->db_max_open_connection, 30);
  EXPECT_EQ(c->db_min_open_connection, 5);  // default kept
  EXPECT_EQ(c->replay_timeout_in_minutes, 60);
  EXPECT_EQ(c->replay_execution_interval_in_seconds, 120);
  EXPECT_EQ(c->replay_plugin_execution_project_config_names.at("bq2bq"), "EXECUTION_PROJECT");
  EXPECT_EQ(c->publisher_broker_urls, std::vector<std::string>{"k:9092"});
  EXPECT_TRUE(c->enable_v2_sensor);
  EXPECT_FALSE(c->enable_v3_sensor);
  EXPECT_EQ(c->plugins_location, "/opt/plugins");
  ASSERT_EQ(c->resource_managers.size(), 1u);
  EXPECT_EQ(c->resource_managers[0].headers.at("X-A"), "b");
  EXPECT_EQ(c->extra["alerting"]["enable_slack"], true);
}

TEST(ServerConfigTest, RequiredAtStart) {
  Diagnostics d;
  auto c =
      LoadServerConfig("config.yaml", "serve:\n  app_key: short\n  db: {dsn: 'mysql://x'}\n", d);
  ASSERT_TRUE(c.has_value());
  EXPECT_THAT(Only(d, "serve.ingress_host"), HasSubstr("missing required field"));
  EXPECT_THAT(Only(d, "serve.ingress_host_grpc"), HasSubstr("missing required field"));
  EXPECT_EQ(Only(d, "serve.db.dsn"),
            "config.yaml:3:13: serve.db.dsn: the scheme must be postgres:// (got \"mysql\")");
  EXPECT_THAT(Only(d, "serve.app_key"), HasSubstr("at least 32 characters"));
  EXPECT_EQ(d.ErrorCount(), 4);
}

TEST(PresetsTest, LoadsAndChecksWithHook) {
  Diagnostics d;
  auto presets = LoadPresets("preset.yaml",
                             "presets:\n"
                             "  yesterday:\n"
                             "    description: y\n"
                             "    window: {size: 1d}\n"
                             "  Broken:\n"
                             "    window: {size: '0', truncate_to: M}\n",
                             d);
  ASSERT_EQ(presets.size(), 2u);
  EXPECT_EQ(presets.at("yesterday").window.size, "1d");
  EXPECT_EQ(presets.at("broken").window.truncate_to, "M");
  EXPECT_THAT(Only(d, "presets.Broken"), HasSubstr("warning: preset names are lower-case"));
  ValidationHooks hooks;
  hooks.check_window = [](const Window& w) {
    return w.size == "0" && w.version == 3
               ? std::string("size \"0\" is invalid, use \"\" or \"0d\"")
               : std::string();
  };
  ValidatePresets(presets, hooks, d);
  EXPECT_EQ(Only(d, "presets.broken.description"),
            "preset.yaml:5:3: presets.broken.description: missing required field");
  EXPECT_EQ(Only(d, "presets.broken.window"),
            "preset.yaml:5:3: presets.broken.window: size \"0\" is invalid, use \"\" or \"0d\"");
}

TEST(PresetsTest, RealisticFile) {
  Diagnostics d;
  auto presets = LoadPresets("preset.yaml", ReadTestData("realistic/preset.yaml"), d);
  EXPECT_TRUE(d.empty()) << d.ToString();
  EXPECT_EQ(presets.at("last_month").description, "last calendar month");
}

TEST(ResourceSpecTest, LoadsBigQueryTable) {
  Diagnostics d;
  auto r =
      LoadResourceSpec("r/resource.yaml",
                       ReadTestData("realistic/ns1/resources/orders/resource.yaml"), "bigquery", d);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(d.empty()) << d.ToString();
  EXPECT_EQ(r->type, "table");
  EXPECT_EQ(r->labels.at("owner"), "optimus");
  EXPECT_EQ(r->spec["partition"]["field"], "event_ts");
  EXPECT_EQ(r->spec["table_expiration"], 30);
  EXPECT_EQ(r->spec["schema"][0]["mode"], "required");
}

TEST(ResourceSpecTest, ChecksNameTypeAndVersion) {
  Diagnostics d;
  auto r =
      LoadResourceSpec("r/resource.yaml", "name: p.d\ntype: table\nspec: [1]\n", "bigquery", d);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(Only(d, "version"), "r/resource.yaml:1:1: version: missing required field (1)");
  EXPECT_EQ(Only(d, "name"),
            "r/resource.yaml:1:7: name: invalid table name \"p.d\" (want project.dataset.name)");
  EXPECT_EQ(Only(d, "spec"), "r/resource.yaml:3:7: spec: want a map, got a list");
  Diagnostics d2;
  LoadResourceSpec("r/resource.yaml", "version: 1\nname: p.d\ntype: bucket\n", "bigquery", d2);
  EXPECT_THAT(Only(d2, "type"), HasSubstr("unknown bigquery resource type \"bucket\""));
  Diagnostics d3;
  LoadResourceSpec("r/resource.yaml", "version: 1\nname: p.d\ntype: dataset\n", "bigquery", d3);
  EXPECT_TRUE(d3.empty()) << d3.ToString();
}

}  // namespace
}  // namespace optimus::spec
