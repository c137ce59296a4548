// The domain model of Optimus spec files: jobs, configs, presets, resources and plugins.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "optimus/spec/diagnostics.h"

namespace optimus::spec {

using StringMap = std::map<std::string, std::string>;

// ---- job.yaml / this.yaml (reference §3.4) ----

struct Schedule {
  std::string start_date;  // YYYY-MM-DD
  std::string end_date;    // YYYY-MM-DD or ""
  std::string interval;    // cron or descriptor; "" = unscheduled
};

struct Retry {
  std::optional<int> count;
  std::string delay;  // Go duration, e.g. "5m"
  // Optional so that an explicit `false` in a child is not overridden by a parent (§3.7 fix).
  std::optional<bool> exponential_backoff;
};

struct Notify {
  std::string on;  // sla_miss | failure | job_success | replay_lifecycle
  StringMap config;
  std::vector<std::string> channels;  // slack://#chan, slack://@group, pagerduty://#service
  std::string severity;               // INFO | WARNING | CRITICAL
  std::string team;
};

struct WebhookEndpoint {
  std::string url;
  StringMap headers;
};

struct Webhook {
  std::string on;  // job_success | failure | sla_miss
  std::vector<WebhookEndpoint> endpoints;
};

struct Behavior {
  std::optional<bool> depends_on_past;
  std::optional<bool> catch_up;
  Retry retry;
  std::vector<Notify> notify;
  std::vector<Webhook> webhook;
};

// task.window (reference §3.5). `version` is the job's spec version, copied here so that a
// window checker knows which grammar applies.
struct Window {
  int version = 0;
  std::string size;
  std::string offset;  // versions 1 and 2
  std::string shift_by;
  std::string truncate_to;
  std::string location;
  std::string preset;
  bool empty() const {
    return size.empty() && offset.empty() && shift_by.empty() && truncate_to.empty() &&
           location.empty() && preset.empty();
  }
};

struct SlaMissAlert {
  std::string duration_threshold;  // Go duration
  std::string severity;
  std::string team;
  std::optional<bool> auto_threshold;
};

struct RetryAlert {
  int count_threshold = 0;
  std::string severity;
};

// Operator-level alerts of a task or hook.
struct Alert {
  std::vector<SlaMissAlert> sla_miss;
  std::vector<RetryAlert> retry;
  std::string success_severity;
  std::string failure_severity;
  std::string team;
  std::optional<bool> disable_anomaly_detection;
  bool empty() const {
    return sla_miss.empty() && retry.empty() && success_severity.empty() &&
           failure_severity.empty() && team.empty() && !disable_anomaly_detection;
  }
};

struct Task {
  std::string name;     // plugin name
  std::string version;  // plugin version (plugin spec v2)
  StringMap config;
  Window window;
  Alert alert;
};

struct Hook {
  std::string name;
  std::string version;
  StringMap config;
  Alert alert;
};

struct HttpDependency {
  std::string name;
  std::string url;
  StringMap headers;
  StringMap params;
};

struct Dependency {
  std::string job;      // as written: "name" or "project/name"
  std::string project;  // parsed from `job`; "" = the job's own project
  std::string name;     // parsed from `job`
  std::string type;     // legacy intra/inter/extra, kept but ignored
  std::optional<HttpDependency> http;
};

struct ResourceQuantities {
  std::string cpu;
  std::string memory;
};

struct Metadata {
  ResourceQuantities request;
  ResourceQuantities limit;
  std::string airflow_pool;
  std::string airflow_queue;
  std::string kubernetes_service_account;
};

// One task of a job's run, under the name it runs as: its Airflow task_id and the instance name
// run input is asked for.
struct JobStep {
  std::string name;
  const Task* task = nullptr;
};

struct JobSpec {
  int version = 0;
  std::string name;
  std::string owner;
  std::string description;
  Schedule schedule;
  Behavior behavior;
  Task task;
  // The tasks of a StarThinker recipe (recipe.json, or `recipe:` in a job.yaml), run in this
  // order by one run. Empty for an ordinary job. `task` then holds the window and the first
  // step's plugin and config, so that what reads one task (lineage, checks) sees the first.
  std::vector<Task> recipe;
  std::vector<Hook> hooks;
  std::vector<Dependency> dependencies;
  StringMap labels;
  Metadata metadata;

  // Not YAML fields: where the spec came from.
  std::string file;                  // path of job.yaml (or this.yaml) as given to the loader
  std::string namespace_name;        // filled by the project reader
  StringMap assets;                  // path relative to assets/ -> content
  std::vector<std::string> parents;  // this.yaml files merged in, nearest first
  // Where each field was written, keyed by field path ("" = the document). Inherited fields
  // point into the this.yaml they came from.
  std::map<std::string, Location> locations;

  // The location of `field_path`, or of its nearest enclosing field, or of the file.
  Location LocationOf(const std::string& field_path) const;

  // A recipe's first step as `task` (its plugin, version and config; the window stays).
  void TaskFromRecipe();

  // What a run runs, in order: the task under its plugin's name, or a recipe's tasks, each
  // named "<plugin>_<n>" with n counting that plugin's tasks from 1 (StarThinker's task ids).
  // The pointers point into this spec.
  std::vector<JobStep> Steps() const;
};

// ---- optimus.yaml (reference §3.1) ----

struct Datastore {
  std::string type;  // bigquery | maxcompute
  std::string path;
  StringMap backup;
};

struct NamespaceConfig {
  std::string name;
  StringMap config;
  StringMap variables;
  std::string job_path;
  std::vector<Datastore> datastores;
};

struct ClientConfig {
  int version = 0;
  std::string log_level;
  std::string log_format;
  std::string host;
  std::string auth_client_id;
  std::string auth_client_secret;
  std::string project_name;
  std::string preset_path;
  StringMap project_config;  // keys as written; the server upper-cases them
  StringMap project_variables;
  std::vector<NamespaceConfig> namespaces;
};

// ---- server config.yaml (reference §3.2) ----

struct ResourceManager {
  std::string name;
  std::string type;
  std::string description;
  std::string host;
  StringMap headers;
};

struct UpstreamResolver {
  std::string type;
  StringMap config;
};

struct ServerConfig {
  int version = 0;
  std::string log_level = "INFO";
  std::string log_format;
  int serve_port = 9100;
  int serve_port_grpc = 0;
  std::string ingress_host;
  std::string ingress_host_grpc;
  std::string app_key;
  std::string db_dsn;
  int db_min_open_connection = 5;
  int db_max_open_connection = 20;
  std::string telemetry_profile_addr;
  std::string telemetry_jaeger_addr;
  std::vector<ResourceManager> resource_managers;
  std::vector<UpstreamResolver> upstream_resolvers;
  int replay_timeout_in_minutes = 180;
  int replay_execution_interval_in_seconds = 120;
  StringMap replay_plugin_execution_project_config_names;
  int backfill_execution_interval_in_seconds = 300;
  std::string publisher_type;
  int publisher_buffer = 0;
  std::string publisher_topic;
  int publisher_batch_interval_second = 0;
  std::vector<std::string> publisher_broker_urls;
  int job_sync_interval_minutes = 0;
  bool enable_v2_sensor = false;
  bool enable_v3_sensor = false;
  bool enable_ignore_old_schedule_runs_sensor = false;
  bool enable_table_comment_with_metadata = false;
  std::string plugins_location;
  std::vector<std::string> plugin_artifacts;
  // Sections kept as JSON for the services that use them: alerting, sla, external_tables,
  // job_validation, job_expectator, job_execution_summary.
  nlohmann::json extra = nlohmann::json::object();
};

// ---- presets (reference §3.6) ----

struct Preset {
  std::string name;  // lower-case
  std::string description;
  Window window;  // version 3 grammar
  Location location;
};

// ---- resource.yaml (reference §3.8) ----

struct ResourceSpec {
  int version = 0;
  std::string name;
  std::string type;
  StringMap labels;
  nlohmann::json spec = nlohmann::json::object();  // free-form, validated by the store
  std::string file;
  std::string namespace_name;
  std::string datastore;  // bigquery | maxcompute
};

// ---- plugins (reference §9) ----

struct SubQuestion;

struct Question {
  std::string name;
  std::string prompt;
  std::string help;
  std::string default_value;
  std::vector<std::string> multiselect;
  std::string regexp;
  std::string validation_error;
  int min_length = 0;  // 0 = no limit
  int max_length = 0;  // 0 = no limit
  bool required = false;
  std::vector<SubQuestion> sub_questions;

  // "" when `answer` is acceptable, else why not.
  std::string CheckAnswer(const std::string& answer) const;
};

// Questions asked when the parent's answer equals `if_value`.
struct SubQuestion {
  std::string if_value;
  std::vector<Question> questions;
};

struct NameValue {
  std::string name;
  std::string value;
};

struct Entrypoint {
  std::string shell;  // default /bin/sh
  std::string script;
};

struct AssetParser {
  std::string filepath;
  std::string selector;
  std::string env;
};

struct PluginVersion {
  std::string image;
  std::string tag;
  Entrypoint entrypoint;
};

struct PluginSpec {
  int spec_version = 1;  // 1 (v0.4 – v0.20.6) or 2 (HEAD)
  std::string name;
  std::string description;
  std::string destination_urn_template;
  std::map<std::string, std::vector<AssetParser>>
      asset_parsers;  // bq | maxcompute | sqlite | postgres

  // Both versions (version 2: our fields, which Optimus ignores; plugintype "task" when absent).
  std::string plugin_type;  // task | hook
  std::string hook_type;    // pre | post | fail
  std::vector<Question> questions;
  std::vector<NameValue> default_assets;

  // Version 1 only.
  std::vector<std::string> plugin_mods;
  std::string plugin_version;
  std::string image;
  std::string secret_path;
  Entrypoint entrypoint;
  std::vector<std::string> depends_on;
  std::vector<std::string> api_version;
  std::vector<NameValue> default_config_list;

  // Version 2 only.
  std::map<std::string, PluginVersion> plugin_versions;  // must contain "default"
  StringMap default_config;

  std::string file;

  // The image, tag and entrypoint for a task.version, each field falling back to "default"
  // (v2) or to the flat fields (v1).
  PluginVersion Resolve(const std::string& version) const;
  // "<image>:<tag>" for a task.version.
  std::string ImageFor(const std::string& version) const;
};

}  // namespace optimus::spec
