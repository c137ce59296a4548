// Loads optimus.yaml, the server config.yaml, presets and resource.yaml, checking each fully.
#include <regex>
#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "checks.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/names.h"
#include "optimus/spec/validate.h"
#include "yaml_reader.h"

namespace optimus::spec {
namespace {

using internal::IndexPath;
using internal::JoinPath;
using internal::Quote;
using internal::YamlNode;
using internal::YamlReader;

// The location recorded for `path`, else the nearest recorded parent, else the file.
Location Find(const std::map<std::string, Location>& locations, const std::string& file,
              std::string path) {
  while (true) {
    if (auto it = locations.find(path); it != locations.end()) return it->second;
    if (path.empty()) return Location{file, 0, 0};
    const size_t cut = path.find_last_of(".[");
    path = cut == std::string::npos ? "" : path.substr(0, cut);
  }
}

const char* const kLogLevels[] = {"DEBUG", "INFO", "WARNING", "WARN", "ERROR", "FATAL"};

bool ValidLogLevel(const std::string& level) {
  const std::string upper = internal::Upper(level);
  for (const char* l : kLogLevels) {
    if (upper == l) return true;
  }
  return false;
}

// Project config keys are case-insensitive: the server upper-cases them.
bool HasKey(const StringMap& config, const std::string& upper_key) {
  for (const auto& [k, v] : config) {
    if (internal::Upper(k) == upper_key && !v.empty()) return true;
  }
  return false;
}

}  // namespace

std::optional<ClientConfig> LoadClientConfig(const std::string& path, const std::string& content,
                                             Diagnostics& diagnostics) {
  std::map<std::string, Location> where;
  YamlReader r(path, diagnostics, &where);
  auto root_or = r.ParseMap(content);
  if (!root_or) return std::nullopt;
  const YamlNode& root = *root_or;
  ClientConfig c;
  auto error = [&](const std::string& field, std::string message) {
    diagnostics.Error(Find(where, path, field), field, std::move(message));
  };
  {
    r.CheckKeys(root, "", {"version", "log", "host", "auth", "project", "namespaces"});
    r.Int(root, "version", "", c.version);
    if (auto log = r.GetMap(root, "log", "log")) {
      r.CheckKeys(*log, "log", {"level", "format"});
      r.String(*log, "level", "log", c.log_level);
      r.String(*log, "format", "log", c.log_format);
    }
    r.String(root, "host", "", c.host);
    if (auto auth = r.GetMap(root, "auth", "auth")) {
      r.CheckKeys(*auth, "auth", {"client_id", "client_secret"});
      r.String(*auth, "client_id", "auth", c.auth_client_id);
      r.String(*auth, "client_secret", "auth", c.auth_client_secret);
    }
    if (auto project = r.GetMap(root, "project", "project")) {
      r.CheckKeys(*project, "project", {"name", "preset_path", "config", "variables"});
      r.String(*project, "name", "project", c.project_name);
      r.String(*project, "preset_path", "project", c.preset_path);
      r.Map(*project, "config", "project", c.project_config);
      r.Map(*project, "variables", "project", c.project_variables);
    }
    if (auto list = r.GetList(root, "namespaces", "namespaces")) {
      for (size_t i = 0; i < list->size(); ++i) {
        const std::string p = IndexPath("namespaces", i);
        const YamlNode& item = (*list)[i];
        r.Record(p, item);
        if (!r.ExpectMap(item, p)) continue;
        r.CheckKeys(item, p, {"name", "config", "variables", "job", "datastore"});
        NamespaceConfig ns;
        r.String(item, "name", p, ns.name);
        r.Map(item, "config", p, ns.config);
        r.Map(item, "variables", p, ns.variables);
        if (auto job = r.GetMap(item, "job", JoinPath(p, "job"))) {
          r.CheckKeys(*job, JoinPath(p, "job"), {"path"});
          r.String(*job, "path", JoinPath(p, "job"), ns.job_path);
        }
        if (auto stores = r.GetList(item, "datastore", JoinPath(p, "datastore"))) {
          for (size_t j = 0; j < stores->size(); ++j) {
            const std::string dp = IndexPath(JoinPath(p, "datastore"), j);
            const YamlNode& s = (*stores)[j];
            r.Record(dp, s);
            if (!r.ExpectMap(s, dp)) continue;
            r.CheckKeys(s, dp, {"type", "path", "backup"});
            Datastore d;
            r.String(s, "type", dp, d.type);
            r.String(s, "path", dp, d.path);
            r.Map(s, "backup", dp, d.backup);
            ns.datastores.push_back(std::move(d));
          }
        }
        c.namespaces.push_back(std::move(ns));
      }
    }
  }

  if (c.version != 1) {
    error("version", c.version == 0
                         ? "missing required field (1)"
                         : "unsupported version " + std::to_string(c.version) + " (want 1)");
  }
  if (!c.log_level.empty() && !ValidLogLevel(c.log_level)) {
    error("log.level",
          "invalid level " + Quote(c.log_level) + " (want DEBUG, INFO, WARNING, ERROR or FATAL)");
  }
  if (c.host.empty()) error("host", "missing required field (the server's gRPC address)");
  if (c.project_name.empty()) {
    error("project.name", "missing required field");
  } else if (auto problem = NameProblem(NameKind::kProject, c.project_name)) {
    error("project.name", *problem);
  }
  if (!HasKey(c.project_config, "STORAGE_PATH")) {
    error("project.config.storage_path",
          "missing required field (where compiled DAGs go, e.g. gs://bucket/prefix)");
  }
  // `scheduler: native` projects are run by the server itself and need no Airflow.
  std::string scheduler;
  for (const auto& [key, value] : c.project_config) {
    if (absl::AsciiStrToUpper(key) == "SCHEDULER") scheduler = absl::AsciiStrToLower(value);
  }
  if (!scheduler.empty() && scheduler != "airflow" && scheduler != "native") {
    error("project.config.scheduler",
          "invalid value " + Quote(scheduler) + " (want airflow or native)");
  }
  if (scheduler != "native" && !HasKey(c.project_config, "SCHEDULER_HOST")) {
    error("project.config.scheduler_host", "missing required field (the Airflow webserver URL)");
  }
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < c.namespaces.size(); ++i) {
    const NamespaceConfig& ns = c.namespaces[i];
    const std::string p = IndexPath("namespaces", i);
    if (ns.name.empty()) {
      error(p + ".name", "missing required field");
    } else if (auto problem = NameProblem(NameKind::kNamespace, ns.name)) {
      error(p + ".name", *problem);
    } else if (auto [it, inserted] = seen.emplace(ns.name, i); !inserted) {
      error(p + ".name", "namespace " + Quote(ns.name) + " is also defined at namespaces[" +
                             std::to_string(it->second) + "] (names must be unique)");
    }
    for (size_t j = 0; j < ns.datastores.size(); ++j) {
      const std::string dp = IndexPath(p + ".datastore", j);
      const std::string& type = ns.datastores[j].type;
      if (type != "bigquery" && type != "maxcompute") {
        error(dp + ".type", "unknown datastore " + Quote(type) + " (want bigquery or maxcompute)");
      }
      if (ns.datastores[j].path.empty()) error(dp + ".path", "missing required field");
    }
  }
  return c;
}

std::optional<ServerConfig> LoadServerConfig(const std::string& path, const std::string& content,
                                             Diagnostics& diagnostics) {
  std::map<std::string, Location> where;
  YamlReader r(path, diagnostics, &where);
  auto root_or = r.ParseMap(content);
  if (!root_or) return std::nullopt;
  const YamlNode& root = *root_or;
  ServerConfig c;
  auto error = [&](const std::string& field, std::string message) {
    diagnostics.Error(Find(where, path, field), field, std::move(message));
  };
  {
    r.CheckKeys(root, "",
                {"version", "log", "serve", "telemetry", "alerting", "sla", "resource_managers",
                 "upstream_resolvers", "replay", "backfill", "publisher",
                 "job_sync_interval_minutes", "external_tables", "features", "plugins", "plugin",
                 "job_validation", "job_expectator", "job_execution_summary"});
    r.Int(root, "version", "", c.version);
    if (auto log = r.GetMap(root, "log", "log")) {
      r.CheckKeys(*log, "log", {"level", "format"});
      r.String(*log, "level", "log", c.log_level);
      r.String(*log, "format", "log", c.log_format);
    }
    if (auto serve = r.GetMap(root, "serve", "serve")) {
      r.CheckKeys(*serve, "serve",
                  {"port", "port_grpc", "ingress_host", "ingress_host_grpc", "app_key", "db"});
      r.Int(*serve, "port", "serve", c.serve_port);
      r.Int(*serve, "port_grpc", "serve", c.serve_port_grpc);
      r.String(*serve, "ingress_host", "serve", c.ingress_host);
      r.String(*serve, "ingress_host_grpc", "serve", c.ingress_host_grpc);
      r.String(*serve, "app_key", "serve", c.app_key);
      if (auto db = r.GetMap(*serve, "db", "serve.db")) {
        r.CheckKeys(*db, "serve.db", {"dsn", "min_open_connection", "max_open_connection"});
        r.String(*db, "dsn", "serve.db", c.db_dsn);
        r.Int(*db, "min_open_connection", "serve.db", c.db_min_open_connection);
        r.Int(*db, "max_open_connection", "serve.db", c.db_max_open_connection);
      }
    }
    if (auto t = r.GetMap(root, "telemetry", "telemetry")) {
      r.CheckKeys(*t, "telemetry", {"profile_addr", "jaeger_addr"});
      r.String(*t, "profile_addr", "telemetry", c.telemetry_profile_addr);
      r.String(*t, "jaeger_addr", "telemetry", c.telemetry_jaeger_addr);
    }
    if (auto list = r.GetList(root, "resource_managers", "resource_managers")) {
      for (size_t i = 0; i < list->size(); ++i) {
        const std::string p = IndexPath("resource_managers", i);
        const YamlNode& item = (*list)[i];
        if (!r.ExpectMap(item, p)) continue;
        ResourceManager m;
        r.String(item, "name", p, m.name);
        r.String(item, "type", p, m.type);
        r.String(item, "description", p, m.description);
        if (auto cfg = r.GetMap(item, "config", JoinPath(p, "config"))) {
          r.String(*cfg, "host", JoinPath(p, "config"), m.host);
          r.Map(*cfg, "headers", JoinPath(p, "config"), m.headers);
        }
        c.resource_managers.push_back(std::move(m));
      }
    }
    if (auto list = r.GetList(root, "upstream_resolvers", "upstream_resolvers")) {
      for (size_t i = 0; i < list->size(); ++i) {
        const std::string p = IndexPath("upstream_resolvers", i);
        const YamlNode& item = (*list)[i];
        if (!r.ExpectMap(item, p)) continue;
        UpstreamResolver u;
        r.String(item, "type", p, u.type);
        r.Map(item, "config", p, u.config);
        c.upstream_resolvers.push_back(std::move(u));
      }
    }
    if (auto replay = r.GetMap(root, "replay", "replay")) {
      r.Int(*replay, "replay_timeout_in_minutes", "replay", c.replay_timeout_in_minutes);
      r.Int(*replay, "execution_interval_in_seconds", "replay",
            c.replay_execution_interval_in_seconds);
      r.Map(*replay, "plugin_execution_project_config_names", "replay",
            c.replay_plugin_execution_project_config_names);
    }
    if (auto backfill = r.GetMap(root, "backfill", "backfill")) {
      r.Int(*backfill, "execution_interval_in_seconds", "backfill",
            c.backfill_execution_interval_in_seconds);
    }
    if (auto pub = r.GetMap(root, "publisher", "publisher")) {
      r.String(*pub, "type", "publisher", c.publisher_type);
      r.Int(*pub, "buffer", "publisher", c.publisher_buffer);
      if (auto cfg = r.GetMap(*pub, "config", "publisher.config")) {
        r.String(*cfg, "topic", "publisher.config", c.publisher_topic);
        r.Int(*cfg, "batch_interval_second", "publisher.config", c.publisher_batch_interval_second);
        r.Strings(*cfg, "broker_urls", "publisher.config", c.publisher_broker_urls);
      }
    }
    r.Int(root, "job_sync_interval_minutes", "", c.job_sync_interval_minutes);
    if (auto f = r.GetMap(root, "features", "features")) {
      r.CheckKeys(*f, "features",
                  {"enable_v2_sensor", "enable_v3_sensor", "enable_ignore_old_schedule_runs_sensor",
                   "enable_table_comment_with_metadata"});
      r.Bool(*f, "enable_v2_sensor", "features", c.enable_v2_sensor);
      r.Bool(*f, "enable_v3_sensor", "features", c.enable_v3_sensor);
      r.Bool(*f, "enable_ignore_old_schedule_runs_sensor", "features",
             c.enable_ignore_old_schedule_runs_sensor);
      r.Bool(*f, "enable_table_comment_with_metadata", "features",
             c.enable_table_comment_with_metadata);
    }
    if (auto plugins = r.GetMap(root, "plugins", "plugins")) {
      r.String(*plugins, "location", "plugins", c.plugins_location);
    }
    if (auto plugin = r.GetMap(root, "plugin", "plugin")) {
      r.Strings(*plugin, "artifacts", "plugin", c.plugin_artifacts);
    }
    for (const char* key : {"alerting", "sla", "external_tables", "job_validation",
                            "job_expectator", "job_execution_summary"}) {
      if (auto section = r.Get(root, key, key)) c.extra[key] = internal::ToJson(*section);
    }
  }

  if (c.version != 0 && c.version != 1) {
    error("version", "unsupported version " + std::to_string(c.version) + " (want 1)");
  }
  if (!ValidLogLevel(c.log_level)) {
    error("log.level",
          "invalid level " + Quote(c.log_level) + " (want DEBUG, INFO, WARNING, ERROR or FATAL)");
  }
  if (c.ingress_host.empty()) {
    error("serve.ingress_host", "missing required field (the HTTP host DAGs call back)");
  }
  if (c.ingress_host_grpc.empty()) {
    error("serve.ingress_host_grpc", "missing required field (the gRPC host for job run-input)");
  }
  if (c.db_dsn.empty()) {
    error("serve.db.dsn", "missing required field (postgres://user:pass@host:5432/db)");
  } else if (c.db_dsn.rfind("postgres://", 0) != 0 && c.db_dsn.rfind("postgresql://", 0) != 0) {
    error("serve.db.dsn", "the scheme must be postgres:// (got " +
                              Quote(c.db_dsn.substr(0, c.db_dsn.find("://"))) + ")");
  }
  if (c.app_key.size() < 32) {
    error("serve.app_key",
          "must be at least 32 characters (it keys AES-256 secret encryption), "
          "got " +
              std::to_string(c.app_key.size()));
  }
  if (c.serve_port < 0 || c.serve_port > 65535) error("serve.port", "must be 0..65535");
  if (c.serve_port_grpc < 0 || c.serve_port_grpc > 65535) {
    error("serve.port_grpc", "must be 0..65535");
  }
  if (c.db_min_open_connection > c.db_max_open_connection) {
    error("serve.db.min_open_connection", "is larger than max_open_connection");
  }
  if (!c.publisher_type.empty() && c.publisher_type != "kafka") {
    error("publisher.type", "unknown publisher " + Quote(c.publisher_type) + " (want kafka)");
  }
  if (c.publisher_type == "kafka" && c.publisher_broker_urls.empty()) {
    error("publisher.config.broker_urls", "missing required field for the kafka publisher");
  }
  return c;
}

std::map<std::string, Preset> LoadPresets(const std::string& path, const std::string& content,
                                          Diagnostics& diagnostics) {
  std::map<std::string, Preset> out;
  YamlReader r(path, diagnostics);
  auto root_or = r.ParseMap(content);
  if (!root_or) return out;
  {
    r.CheckKeys(*root_or, "", {"presets"});
    auto presets = r.GetMap(*root_or, "presets", "presets");
    if (!presets) return out;
    for (const auto& kv : (*presets).entries()) {
      std::string name;
      if (!r.ToString(kv.first, "presets", name)) continue;
      const std::string p = "presets." + name;
      Preset preset;
      preset.name = internal::Lower(name);
      preset.location = r.At(kv.first);
      if (preset.name != name)
        r.Warning(kv.first, p, "preset names are lower-case; read as " + Quote(preset.name));
      if (!r.ExpectMap(kv.second, p)) continue;
      r.CheckKeys(kv.second, p, {"description", "window"});
      r.String(kv.second, "description", p, preset.description);
      if (auto w = r.GetMap(kv.second, "window", p + ".window")) {
        r.CheckKeys(*w, p + ".window", {"size", "shift_by", "truncate_to", "location"});
        r.String(*w, "size", p + ".window", preset.window.size);
        r.String(*w, "shift_by", p + ".window", preset.window.shift_by);
        r.String(*w, "truncate_to", p + ".window", preset.window.truncate_to);
        r.String(*w, "location", p + ".window", preset.window.location);
      }
      preset.window.version = 3;
      if (!out.emplace(preset.name, preset).second) {
        r.Error(kv.first, p, "preset " + Quote(preset.name) + " is defined twice");
      }
    }
  }
  return out;
}

std::optional<ResourceSpec> LoadResourceSpec(const std::string& path, const std::string& content,
                                             const std::string& datastore,
                                             Diagnostics& diagnostics) {
  std::map<std::string, Location> where;
  YamlReader r(path, diagnostics, &where);
  auto root_or = r.ParseMap(content);
  if (!root_or) return std::nullopt;
  ResourceSpec res;
  res.file = path;
  res.datastore = datastore;
  auto error = [&](const std::string& field, std::string message) {
    diagnostics.Error(Find(where, path, field), field, std::move(message));
  };
  {
    const YamlNode& root = *root_or;
    r.CheckKeys(root, "", {"version", "name", "type", "labels", "spec"});
    r.Int(root, "version", "", res.version);
    r.String(root, "name", "", res.name);
    r.String(root, "type", "", res.type);
    r.Map(root, "labels", "", res.labels);
    if (auto spec = r.GetMap(root, "spec", "spec")) res.spec = internal::ToJson(*spec);
  }
  if (res.version != 1) {
    error("version", res.version == 0
                         ? "missing required field (1)"
                         : "unsupported version " + std::to_string(res.version) + " (want 1)");
  }
  if (res.name.empty()) error("name", "missing required field");
  if (res.type.empty()) error("type", "missing required field");
  if (datastore == "bigquery" && !res.name.empty() && !res.type.empty()) {
    static const std::regex kPart("[A-Za-z0-9_-]+(:[A-Za-z0-9_-]+)?");
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
      const size_t dot = res.name.find('.', start);
      parts.push_back(res.name.substr(start, dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    bool parts_ok = true;
    for (const auto& part : parts) parts_ok = parts_ok && std::regex_match(part, kPart);
    const std::set<std::string> kTableKinds = {"table", "view", "external_table"};
    if (res.type == "dataset") {
      if (parts.size() != 2 || !parts_ok) {
        error("name", "invalid dataset name " + Quote(res.name) + " (want project.dataset)");
      }
    } else if (kTableKinds.count(res.type) > 0) {
      if (parts.size() != 3 || !parts_ok) {
        error("name",
              "invalid " + res.type + " name " + Quote(res.name) + " (want project.dataset.name)");
      }
    } else {
      error("type", "unknown bigquery resource type " + Quote(res.type) +
                        " (want dataset, table, view or external_table)");
    }
  }
  for (const auto& [key, value] : res.labels) {
    if (std::string problem = CheckLabel(key, value); !problem.empty()) {
      error("labels." + key, problem);
    }
  }
  return res;
}

std::optional<StringMap> LoadStringMap(const std::string& path, const std::string& content,
                                       Diagnostics& diagnostics) {
  internal::YamlReader r(path, diagnostics);
  auto root = r.ParseMap(content);
  if (!root) return std::nullopt;
  StringMap out;
  r.MapNode(*root, "", out);
  return out;
}

}  // namespace optimus::spec
