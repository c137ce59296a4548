// optimus-plugin-manager: finds optimus-plugin-*.yaml files in the configured folders at start
// and publishes each new or changed one on the compacted plugins topic.
#include "optimus/plugin_manager/plugin_manager_service.h"

#include <filesystem>

#include "nlohmann/json.hpp"
#include "optimus/config/config.h"
#include "optimus/events/v1/jobs.pb.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/rpc/http_server.h"
#include "optimus/spec/project_reader.h"
#include "optimus/store/outbox.h"
#include "optimus/telemetry/log.h"

namespace optimus::plugin_manager {

config::Schema PluginManagerService::ConfigSchema() const {
  config::Schema schema;
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
      list.push_back({{"name", p.name},
                      {"description", p.description},
                      {"type", p.plugin_type.empty() ? "task" : p.plugin_type},
                      {"spec_version", p.spec_version},
                      {"image", p.ImageFor("")},
                      {"destination_urn_template", p.destination_urn_template}});
    }
    return rpc::HttpResponse::Json(nlohmann::json{{"plugins", list}}.dump());
  });
  return absl::OkStatus();
}

}  // namespace optimus::plugin_manager
