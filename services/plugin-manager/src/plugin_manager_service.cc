// optimus-plugin-manager: finds optimus-plugin-*.yaml files in the configured folders at start
// and publishes each new or changed one on the compacted plugins topic.
#include "optimus/plugin_manager/plugin_manager_service.h"

#include <filesystem>
#include <fstream>

#include "nlohmann/json.hpp"
#include "optimus/config/config.h"
#include "optimus/core/v1/plugin.grpc.pb.h"
#include "optimus/events/v1/jobs.pb.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/plugin_manager/installer.h"
#include "optimus/rpc/grpc_server.h"
#include "optimus/rpc/http_server.h"
#include "optimus/rpc/status.h"
#include "optimus/spec/project_reader.h"
#include "optimus/store/outbox.h"
#include "optimus/telemetry/health.h"
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
  schema.Add({.name = "plugins.install_at_start",
              .type = config::Type::kBool,
              .default_value = "true",
              .description =
                  "Install plugins.plugins at start; false when an init container "
                  "ran `optimus plugin install` already (the process serves that set)."});
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

// PluginService: what the server has, for `optimus plugin list` and `optimus plugin sync`. Any
// accepted token may ask (plugins belong to no project).
class PluginManagerService::PluginGrpc final : public core::v1::PluginService::Service {
 public:
  PluginGrpc(PluginManagerService& service, const rpc::Authenticator* authenticator)
      : service_(service), authenticator_(authenticator) {}

  grpc::Status ListPlugins(grpc::ServerContext* context, const core::v1::ListPluginsRequest*,
                           core::v1::ListPluginsResponse* response) override {
    if (grpc::Status allowed =
            rpc::Authorize(context, authenticator_, "optimus.core.v1.PluginService/ListPlugins", {},
                           rpc::Access::kAnyToken);
        !allowed.ok()) {
      return allowed;
    }
    *response = service_.List();
    return grpc::Status::OK;
  }

  grpc::Status GetPluginArchive(grpc::ServerContext* context,
                                const core::v1::GetPluginArchiveRequest* request,
                                core::v1::GetPluginArchiveResponse* response) override {
    if (grpc::Status allowed = rpc::Authorize(context, authenticator_,
                                              "optimus.core.v1.PluginService/GetPluginArchive", {},
                                              rpc::Access::kAnyToken);
        !allowed.ok()) {
      return allowed;
    }
    *response = service_.Archive(request->if_none_match());
    return grpc::Status::OK;
  }

 private:
  PluginManagerService& service_;
  const rpc::Authenticator* authenticator_;
};

PluginManagerService::PluginManagerService() = default;
PluginManagerService::~PluginManagerService() = default;

core::v1::ListPluginsResponse PluginManagerService::List() {
  core::v1::ListPluginsResponse out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& p : plugins_) {
    const std::string file = std::filesystem::path(p.file).filename().string();
    auto source = sources_.find(file);
    core::v1::PluginInfo* info = out.add_plugins();
    info->set_name(p.name);
    info->set_description(p.description);
    info->set_type(p.plugin_type.empty() ? "task" : p.plugin_type);
    info->set_version(p.spec_version == 1 ? p.plugin_version : p.Resolve("").tag);
    for (const auto& [version, details] : p.plugin_versions) info->add_versions(version);
    info->set_image(p.ImageFor(""));
    info->set_source(source == sources_.end() ? p.file : source->second);
    if (auto d = digests_.find(p.name); d != digests_.end()) info->set_sha256(d->second);
  }
  return out;
}

core::v1::GetPluginArchiveResponse PluginManagerService::Archive(
    const std::string& if_none_match) const {
  core::v1::GetPluginArchiveResponse out;
  out.set_sha256(archive_.sha256);
  if (!if_none_match.empty() && if_none_match == archive_.sha256) {
    out.set_not_modified(true);
  } else {
    out.set_archive(archive_.bytes);
  }
  return out;
}

absl::Status PluginManagerService::Start(app::Context& context) {
  if (absl::Status s = pipeline::EnsurePipelineTopics(context.bus); !s.ok()) return s;
  std::vector<std::filesystem::path> dirs;
  const std::filesystem::path install_dir = context.config.String("plugins.install_dir");
  auto plan = ParseInstallPlan(context.config.Yaml("plugins.providers"),
                               context.config.Yaml("plugins.plugins"));
  if (!plan.ok()) return plan.status();
  if (!plan->empty() && context.config.Bool("plugins.install_at_start")) {
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
  // The files served were read at start (as the plugins published were): archived once.
  auto archive = ArchivePluginFiles(dirs);
  if (!archive.ok()) return archive.status();
  archive_ = *std::move(archive);
  context.http.Get("/api/v1beta1/plugins", [this](const rpc::HttpRequest&) {
    nlohmann::json list = nlohmann::json::array();
    const core::v1::ListPluginsResponse plugins = List();
    for (const core::v1::PluginInfo& p : plugins.plugins()) {
      list.push_back(
          {{"name", p.name()},
           {"description", p.description()},
           {"type", p.type()},
           {"version", p.version()},
           {"versions", std::vector<std::string>(p.versions().begin(), p.versions().end())},
           {"image", p.image()},
           {"source", p.source()},
           {"sha256", p.sha256()}});
    }
    return rpc::HttpResponse::Json(nlohmann::json{{"plugins", list}}.dump());
  });
  // The plugin files as one archive, for `optimus plugin sync`: one request, and none at all
  // when the client has this digest already (If-None-Match).
  context.http.Get("/api/v1beta1/plugins/archive", [this](const rpc::HttpRequest& request) {
    std::string etag = request.Header("If-None-Match");
    if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
      etag = etag.substr(1, etag.size() - 2);
    }
    const core::v1::GetPluginArchiveResponse archive = Archive(etag);
    rpc::HttpResponse response;
    response.status = archive.not_modified() ? 304 : 200;
    response.body = archive.archive();
    response.content_type = "application/gzip";
    response.headers.emplace_back("ETag", "\"" + archive.sha256() + "\"");
    response.headers.emplace_back("X-Optimus-Plugins-Digest", archive.sha256());
    return response;
  });
  grpc_ = std::make_unique<PluginGrpc>(*this, context.authenticator);
  context.grpc.AddService(grpc_.get(), "optimus.core.v1.PluginService");
  return absl::OkStatus();
}

}  // namespace optimus::plugin_manager
