// Loads job.yaml / this.yaml into JobSpec, checking types and recording field locations.
#include <map>
#include <string>

#include "optimus/spec/loaders.h"
#include "yaml_reader.h"

namespace optimus::spec {
namespace {

using internal::IndexPath;
using internal::JoinPath;
using internal::YamlNode;
using internal::YamlReader;

void LoadAlert(YamlReader& r, const YamlNode& node, const std::string& path, Alert& alert) {
  r.CheckKeys(node, path,
              {"sla_miss", "retry", "success", "failure", "team", "disable_anomaly_detection"});
  if (auto list = r.GetList(node, "sla_miss", JoinPath(path, "sla_miss"))) {
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string p = IndexPath(JoinPath(path, "sla_miss"), i);
      const YamlNode& item = (*list)[i];
      r.Record(p, item);
      if (!r.ExpectMap(item, p)) continue;
      r.CheckKeys(item, p, {"duration_threshold", "severity", "team", "auto_threshold"});
      SlaMissAlert sla;
      r.String(item, "duration_threshold", p, sla.duration_threshold);
      r.String(item, "severity", p, sla.severity);
      r.String(item, "team", p, sla.team);
      r.OptBool(item, "auto_threshold", p, sla.auto_threshold);
      alert.sla_miss.push_back(std::move(sla));
    }
  }
  if (auto list = r.GetList(node, "retry", JoinPath(path, "retry"))) {
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string p = IndexPath(JoinPath(path, "retry"), i);
      const YamlNode& item = (*list)[i];
      r.Record(p, item);
      if (!r.ExpectMap(item, p)) continue;
      r.CheckKeys(item, p, {"count_threshold", "severity"});
      RetryAlert retry;
      r.Int(item, "count_threshold", p, retry.count_threshold);
      r.String(item, "severity", p, retry.severity);
      alert.retry.push_back(std::move(retry));
    }
  }
  if (auto m = r.GetMap(node, "success", JoinPath(path, "success"))) {
    r.CheckKeys(*m, JoinPath(path, "success"), {"severity"});
    r.String(*m, "severity", JoinPath(path, "success"), alert.success_severity);
  }
  if (auto m = r.GetMap(node, "failure", JoinPath(path, "failure"))) {
    r.CheckKeys(*m, JoinPath(path, "failure"), {"severity"});
    r.String(*m, "severity", JoinPath(path, "failure"), alert.failure_severity);
  }
  r.String(node, "team", path, alert.team);
  r.OptBool(node, "disable_anomaly_detection", path, alert.disable_anomaly_detection);
}

void LoadBehavior(YamlReader& r, const YamlNode& node, Behavior& behavior) {
  const std::string path = "behavior";
  r.CheckKeys(node, path, {"depends_on_past", "catch_up", "retry", "notify", "webhook"});
  r.OptBool(node, "depends_on_past", path, behavior.depends_on_past);
  r.OptBool(node, "catch_up", path, behavior.catch_up);
  if (auto retry = r.GetMap(node, "retry", "behavior.retry")) {
    r.CheckKeys(*retry, "behavior.retry", {"count", "delay", "exponential_backoff"});
    r.OptInt(*retry, "count", "behavior.retry", behavior.retry.count);
    r.String(*retry, "delay", "behavior.retry", behavior.retry.delay);
    r.OptBool(*retry, "exponential_backoff", "behavior.retry", behavior.retry.exponential_backoff);
  }
  if (auto list = r.GetList(node, "notify", "behavior.notify")) {
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string p = IndexPath("behavior.notify", i);
      const YamlNode& item = (*list)[i];
      r.Record(p, item);
      if (!r.ExpectMap(item, p)) continue;
      r.CheckKeys(item, p, {"on", "config", "channels", "severity", "team"});
      Notify notify;
      r.String(item, "on", p, notify.on);
      r.Map(item, "config", p, notify.config);
      r.Strings(item, "channels", p, notify.channels);
      r.String(item, "severity", p, notify.severity);
      r.String(item, "team", p, notify.team);
      behavior.notify.push_back(std::move(notify));
    }
  }
  if (auto list = r.GetList(node, "webhook", "behavior.webhook")) {
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string p = IndexPath("behavior.webhook", i);
      const YamlNode& item = (*list)[i];
      r.Record(p, item);
      if (!r.ExpectMap(item, p)) continue;
      r.CheckKeys(item, p, {"on", "endpoints"});
      Webhook webhook;
      r.String(item, "on", p, webhook.on);
      if (auto endpoints = r.GetList(item, "endpoints", JoinPath(p, "endpoints"))) {
        for (size_t j = 0; j < endpoints->size(); ++j) {
          const std::string ep = IndexPath(JoinPath(p, "endpoints"), j);
          const YamlNode& e = (*endpoints)[j];
          r.Record(ep, e);
          if (!r.ExpectMap(e, ep)) continue;
          r.CheckKeys(e, ep, {"url", "headers"});
          WebhookEndpoint endpoint;
          r.String(e, "url", ep, endpoint.url);
          r.Map(e, "headers", ep, endpoint.headers);
          webhook.endpoints.push_back(std::move(endpoint));
        }
      }
      behavior.webhook.push_back(std::move(webhook));
    }
  }
}

void LoadWindow(YamlReader& r, const YamlNode& node, Window& window) {
  const std::string path = "task.window";
  r.CheckKeys(node, path, {"size", "offset", "shift_by", "truncate_to", "location", "preset"});
  r.String(node, "size", path, window.size);
  r.String(node, "offset", path, window.offset);
  r.String(node, "shift_by", path, window.shift_by);
  r.String(node, "truncate_to", path, window.truncate_to);
  r.String(node, "location", path, window.location);
  r.String(node, "preset", path, window.preset);
}

void LoadTask(YamlReader& r, const YamlNode& node, Task& task) {
  const std::string path = "task";
  r.CheckKeys(node, path, {"name", "version", "config", "window", "alert"});
  r.String(node, "name", path, task.name);
  r.String(node, "version", path, task.version);
  // Very old specs wrote config as a list of {name, value}; accept both forms.
  if (auto config = r.Get(node, "config", "task.config")) {
    if (config->IsSequence()) {
      for (size_t i = 0; i < config->size(); ++i) {
        const std::string p = IndexPath("task.config", i);
        const YamlNode& item = (*config)[i];
        if (!r.ExpectMap(item, p)) continue;
        std::string name, value;
        r.String(item, "name", p, name);
        r.String(item, "value", p, value);
        if (name.empty()) {
          r.Error(item, p, "a config entry needs a name");
          continue;
        }
        r.Record(JoinPath("task.config", name), item);
        task.config[name] = value;
      }
    } else if (r.ExpectMap(*config, "task.config")) {
      r.MapNode(*config, "task.config", task.config);
    }
  }
  if (auto window = r.GetMap(node, "window", "task.window")) LoadWindow(r, *window, task.window);
  if (auto alert = r.GetMap(node, "alert", "task.alert")) {
    LoadAlert(r, *alert, "task.alert", task.alert);
  }
}

// `recipe:` (what a recipe.json becomes): a list of {name, version, config}.
void LoadRecipe(YamlReader& r, const YamlNode& list, std::vector<Task>& recipe) {
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string p = IndexPath("recipe", i);
    const YamlNode& item = list[i];
    r.Record(p, item);
    if (!r.ExpectMap(item, p)) continue;
    r.CheckKeys(item, p, {"name", "version", "config"});
    Task step;
    r.String(item, "name", p, step.name);
    r.String(item, "version", p, step.version);
    r.Map(item, "config", p, step.config);
    recipe.push_back(std::move(step));
  }
}

void LoadHooks(YamlReader& r, const YamlNode& list, std::vector<Hook>& hooks) {
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string p = IndexPath("hooks", i);
    const YamlNode& item = list[i];
    r.Record(p, item);
    if (!r.ExpectMap(item, p)) continue;
    r.CheckKeys(item, p, {"name", "version", "config", "alert", "type"});
    Hook hook;
    r.String(item, "name", p, hook.name);
    r.String(item, "version", p, hook.version);
    r.Map(item, "config", p, hook.config);
    if (auto alert = r.GetMap(item, "alert", JoinPath(p, "alert"))) {
      LoadAlert(r, *alert, JoinPath(p, "alert"), hook.alert);
    }
    hooks.push_back(std::move(hook));
  }
}

void LoadDependencies(YamlReader& r, const YamlNode& list, std::vector<Dependency>& deps) {
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string p = IndexPath("dependencies", i);
    const YamlNode& item = list[i];
    r.Record(p, item);
    if (!r.ExpectMap(item, p)) continue;
    r.CheckKeys(item, p, {"job", "type", "http"});
    Dependency dep;
    r.String(item, "job", p, dep.job);
    r.String(item, "type", p, dep.type);
    if (const auto slash = dep.job.find('/'); slash == std::string::npos) {
      dep.name = dep.job;
    } else {
      dep.project = dep.job.substr(0, slash);
      dep.name = dep.job.substr(slash + 1);
    }
    if (auto http = r.GetMap(item, "http", JoinPath(p, "http"))) {
      const std::string hp = JoinPath(p, "http");
      r.CheckKeys(*http, hp, {"name", "url", "headers", "params"});
      HttpDependency h;
      r.String(*http, "name", hp, h.name);
      r.String(*http, "url", hp, h.url);
      r.Map(*http, "headers", hp, h.headers);
      r.Map(*http, "params", hp, h.params);
      dep.http = std::move(h);
    }
    deps.push_back(std::move(dep));
  }
}

void LoadQuantities(YamlReader& r, const YamlNode& map, const char* key, const std::string& prefix,
                    ResourceQuantities& out) {
  const std::string path = JoinPath(prefix, key);
  if (auto m = r.GetMap(map, key, path)) {
    r.CheckKeys(*m, path, {"cpu", "memory"});
    r.String(*m, "cpu", path, out.cpu);
    r.String(*m, "memory", path, out.memory);
  }
}

void LoadMetadata(YamlReader& r, const YamlNode& node, Metadata& metadata) {
  r.CheckKeys(node, "metadata", {"resource", "airflow", "kubernetes"});
  if (auto resource = r.GetMap(node, "resource", "metadata.resource")) {
    r.CheckKeys(*resource, "metadata.resource", {"request", "limit"});
    LoadQuantities(r, *resource, "request", "metadata.resource", metadata.request);
    LoadQuantities(r, *resource, "limit", "metadata.resource", metadata.limit);
  }
  if (auto airflow = r.GetMap(node, "airflow", "metadata.airflow")) {
    r.CheckKeys(*airflow, "metadata.airflow", {"pool", "queue"});
    r.String(*airflow, "pool", "metadata.airflow", metadata.airflow_pool);
    r.String(*airflow, "queue", "metadata.airflow", metadata.airflow_queue);
  }
  if (auto k8s = r.GetMap(node, "kubernetes", "metadata.kubernetes")) {
    r.CheckKeys(*k8s, "metadata.kubernetes", {"service_account"});
    r.String(*k8s, "service_account", "metadata.kubernetes", metadata.kubernetes_service_account);
  }
}

}  // namespace

std::optional<JobSpec> LoadJobSpec(const std::string& path, const std::string& content,
                                   Diagnostics& diagnostics) {
  JobSpec job;
  job.file = path;
  YamlReader r(path, diagnostics, &job.locations);
  auto root_or = r.ParseMap(content);
  if (!root_or) return std::nullopt;
  const YamlNode& root = *root_or;
  // yaml-cpp can throw on pathological input (e.g. deep nesting) while walking.
  {
    r.CheckKeys(root, "",
                {"version", "name", "owner", "description", "schedule", "behavior", "task",
                 "recipe", "hooks", "dependencies", "labels", "metadata"});
    r.Int(root, "version", "", job.version);
    r.String(root, "name", "", job.name);
    r.String(root, "owner", "", job.owner);
    r.String(root, "description", "", job.description);
    if (auto schedule = r.GetMap(root, "schedule", "schedule")) {
      r.CheckKeys(*schedule, "schedule", {"start_date", "end_date", "interval"});
      r.String(*schedule, "start_date", "schedule", job.schedule.start_date);
      r.String(*schedule, "end_date", "schedule", job.schedule.end_date);
      r.String(*schedule, "interval", "schedule", job.schedule.interval);
    }
    if (auto behavior = r.GetMap(root, "behavior", "behavior")) {
      LoadBehavior(r, *behavior, job.behavior);
    }
    if (auto task = r.GetMap(root, "task", "task")) LoadTask(r, *task, job.task);
    if (auto recipe = r.GetList(root, "recipe", "recipe")) {
      LoadRecipe(r, *recipe, job.recipe);
      if (job.recipe.empty()) {
        r.Error(*recipe, "recipe", "a recipe needs at least one task");
      } else if (!job.task.name.empty() || !job.task.config.empty()) {
        r.Error(*r.Get(root, "task", "task"), "task",
                "a recipe's first task is its task: give `task` only a window or alert");
      } else {
        job.TaskFromRecipe();
      }
    }
    if (auto hooks = r.GetList(root, "hooks", "hooks")) LoadHooks(r, *hooks, job.hooks);
    if (auto deps = r.GetList(root, "dependencies", "dependencies")) {
      LoadDependencies(r, *deps, job.dependencies);
    }
    r.Map(root, "labels", "", job.labels);
    if (auto metadata = r.GetMap(root, "metadata", "metadata")) {
      LoadMetadata(r, *metadata, job.metadata);
    }
  }
  job.task.window.version = job.version;
  return job;
}

void JobSpec::TaskFromRecipe() {
  if (recipe.empty()) return;
  task.name = recipe[0].name;
  task.version = recipe[0].version;
  task.config = recipe[0].config;
}

std::vector<JobStep> JobSpec::Steps() const {
  if (recipe.empty()) return {JobStep{task.name, &task}};
  std::vector<JobStep> out;
  std::map<std::string, int> seen;
  for (const Task& step : recipe) {
    out.push_back(JobStep{step.name + "_" + std::to_string(++seen[step.name]), &step});
  }
  return out;
}

Location JobSpec::LocationOf(const std::string& field_path) const {
  std::string path = field_path;
  while (true) {
    if (auto it = locations.find(path); it != locations.end()) return it->second;
    if (path.empty()) break;
    const size_t cut = path.find_last_of(".[");
    path = cut == std::string::npos ? "" : path.substr(0, cut);
  }
  return Location{file, 0, 0};
}

}  // namespace optimus::spec
