// optimus-plugin-manager: finds optimus-plugin-*.yaml files in the configured folders at start
// and publishes each new or changed one on the compacted plugins topic.
#include "optimus/plugin_manager/plugin_manager_service.h"

#include <filesystem>
#include <fstream>

#include "nlohmann/json.hpp"
#include "optimus/config/config.h"
#include "optimus/events/v1/jobs.pb.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/plugin_manager/installer.h"
#include "optimus/rpc/http_server.h"
#include "optimus/telemetry/health.h"
#include "optimus/spec/project_reader.h"
#include "optimus/store/outbox.h"
#include "optimus/telemetry/log.h"

namespace optimus::plugin_manager {

config::Schema PluginManagerService::ConfigSchema() const {
  config::Schema schema;
  schema.Add({.name = "plugins.providers",
              .type = config::Type::kYaml,
              .description = "Where plugin artifacts come from: a list of {name, type (http, "
                             "https, s3, gcs, local), url, auth_header_env | auth_header_file, "
                             "credentials_env | credentials_file} (docs/plugins.md)."});
  schema.Add({.name = "plugins.plugins",
              .type = config::Type::kYaml,
              .description = "The plugin artifacts to install at start: a list of {provider, "
                             "path (a .yaml plugin file or a .tar.gz/.zip of them), sha256}."});
  schema.Add({.name = "plugins.install_dir",
              .default_value = ".plugins-installed",
              .description = "Where installed plugin sets are kept (sets/<digest>/, and "
                             "current pointing at the one in use); searched before plugins.dirs."});
  schema.Add({.name = "plugins.dirs",
              .type = config::Type::kStringList,
              .default_value = ".plugins",
              .description = "Folders searched, in order, for optimus-plugin-<name>.yaml files; "
                             "the first file of a name wins."});
  return schema;
}

std::vector<store::Migration> PluginManagerService::Migrations() const {
  return {{1, "published plugins",
           "CREATE TABLE plugins (name TEXT PRIMARY KEY, sha256 TEXT NOT NULL, source TEXT NOT "
           "NULL)"}};
}

absl::Status PluginManagerService::Start(app::Context& context) {
  if (absl::Status s = pipeline::EnsurePipelineTopics(context.bus); !s.ok()) return s;
  std::vector<std::filesystem::path> dirs;
  const std::filesystem::path install_dir = context.config.String("plugins.install_dir");
  auto plan = ParseInstallPlan(context.config.Yaml("plugins.providers"),
                               context.config.Yaml("plugins.plugins"));
  if (!plan.ok()) return plan.status();
  if (!plan->empty()) {
    auto installed = Install(*plan, install_dir);
    if (installed.ok()) {
      LOG_INFO("plugins installed", {{"digest", installed->digest},
                                     {"plugins", static_cast<int64_t>(installed->plugins.size())},
                                     {"dir", installed->dir.string()}});
    } else {
      // The set installed before stays in use; readiness says what failed until a restart with
      // a config that installs.
      install_error_ = std::string(installed.status().message());
      LOG_ERROR("plugins not installed: the previous set stays in use",
                {{"error", installed.status()}});
    }
    context.health.AddReadinessCheck("plugins", [this]() -> absl::Status {
      if (install_error_.empty()) return absl::OkStatus();
      return absl::FailedPreconditionError("plugin installation failed, the previous set serves: " +
                                           install_error_);
    });
  }
  if (auto current = CurrentSet(install_dir); current.ok()) {
    dirs.push_back(*current);
    std::ifstream manifest(*current / ".optimus-plugins.json");
    auto json = nlohmann::json::parse(manifest, nullptr, false);
    for (const auto& item : json.is_array() ? json : nlohmann::json::array()) {
      if (item.contains("file") && item.contains("source")) {
        sources_[item["file"].get<std::string>()] = item["source"].get<std::string>();
      }
    }
  }
  for (const std::string& d : context.config.StringList("plugins.dirs")) dirs.emplace_back(d);
  spec::Diagnostics diagnostics;
  auto plugins = spec::ReadPlugins(dirs, {}, diagnostics);
  if (diagnostics.HasErrors()) {
    return absl::FailedPreconditionError("invalid plugins:\n" + diagnostics.ToString());
  }
  int published = 0;
  for (const spec::PluginSpec& plugin : plugins) {
    spec::Diagnostics read;
    auto text = spec::ReadFile(plugin.file, plugin.file, read);
    if (!text) return absl::FailedPreconditionError(read.ToString());
    const std::string digest = pipeline::Sha256Hex(*text);
    digests_[plugin.name] = digest;
    absl::Status s = context.db.InTransaction([&](store::Transaction& tx) -> absl::Status {
      auto row = tx.Execute("SELECT sha256 FROM plugins WHERE name = $1", {plugin.name});
      if (!row.ok()) return row.status();
      if (!row->rows.empty() && row->rows[0].Text(0) == digest) return absl::OkStatus();
      auto saved = tx.Execute(
          "INSERT INTO plugins (name, sha256, source) VALUES ($1, $2, $3) ON CONFLICT (name) DO "
          "UPDATE SET sha256 = excluded.sha256, source = excluded.source",
          {plugin.name, digest, plugin.file});
      if (!saved.ok()) return saved.status();
      events::v1::PluginRecord record;
      record.set_name(plugin.name);
      record.set_spec_yaml(*text);
      record.set_sha256(digest);
      record.set_source(plugin.file);
      ++published;
      return context.outbox.Enqueue(
          tx, pipeline::ProtoRecord(pipeline::kPluginsTopic, plugin.name, record));
    });
    if (!s.ok()) return s;
  }
  LOG_INFO("plugins discovered", {{"plugins", static_cast<int64_t>(plugins.size())},
                                  {"published", static_cast<int64_t>(published)}});
  {
    std::lock_guard<std::mutex> lock(mu_);
    plugins_ = std::move(plugins);
  }
  context.http.Get("/api/v1beta1/plugins", [this](const rpc::HttpRequest&) {
    nlohmann::json list = nlohmann::json::array();
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& p : plugins_) {
      const std::string file = std::filesystem::path(p.file).filename().string();
      auto source = sources_.find(file);
      nlohmann::json versions = nlohmann::json::array();
      for (const auto& [version, details] : p.plugin_versions) versions.push_back(version);
      list.push_back({{"name", p.name},
                      {"description", p.description},
                      {"type", p.plugin_type.empty() ? "task" : p.plugin_type},
                      {"spec_version", p.spec_version},
                      {"version", p.spec_version == 1 ? p.plugin_version : p.Resolve("").tag},
                      {"versions", versions},
                      {"image", p.ImageFor("")},
                      {"source", source == sources_.end() ? p.file : source->second},
                      {"sha256", digests_.count(p.name) ? digests_.at(p.name) : ""},
                      {"destination_urn_template", p.destination_urn_template}});
    }
    return rpc::HttpResponse::Json(nlohmann::json{{"plugins", list}}.dump());
  });
  // The plugin files as one archive, for `optimus plugin sync`: one request, and none at all
  // when the client has this digest already (If-None-Match).
  context.http.Get("/api/v1beta1/plugins/archive", [dirs](const rpc::HttpRequest& request) {
    auto archive = ArchivePluginFiles(dirs);
    if (!archive.ok()) return rpc::HttpResponse::Error(archive.status());
    const std::string etag = "\"" + archive->sha256 + "\"";
    rpc::HttpResponse response;
    if (request.Header("If-None-Match") == etag) {
      response.status = 304;
    } else {
      response.status = 200;
      response.body = std::move(archive->bytes);
      response.content_type = "application/gzip";
    }
    response.headers.emplace_back("ETag", etag);
    response.headers.emplace_back("X-Optimus-Plugins-Digest", archive->sha256);
    return response;
  });
  return absl::OkStatus();
}

}  // namespace optimus::plugin_manager
