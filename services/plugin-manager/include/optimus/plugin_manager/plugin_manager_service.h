// optimus-plugin-manager: Discovers task and hook plugins and publishes them to the other services.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "optimus/app/component.h"
#include "optimus/core/v1/plugin.pb.h"
#include "optimus/plugin_manager/installer.h"
#include "optimus/spec/model.h"

namespace optimus::plugin_manager {

class PluginManagerService : public app::Component {
 public:
  PluginManagerService();
  ~PluginManagerService() override;
  std::string name() const override { return "plugin-manager"; }
  // Plugins belong to no project: any accepted token may read them.
  std::map<std::string, rpc::Access, std::less<>> AccessRules() const override {
    return {{"GET /api/v1beta1/plugins", rpc::Access::kAnyToken},
            {"GET /api/v1beta1/plugins/archive", rpc::Access::kAnyToken},
            {"optimus.core.v1.PluginService/ListPlugins", rpc::Access::kAnyToken},
            {"optimus.core.v1.PluginService/GetPluginArchive", rpc::Access::kAnyToken}};
  }
  config::Schema ConfigSchema() const override;
  std::vector<store::Migration> Migrations() const override;
  // Installs the configured plugin artifacts (plugins.providers / plugins.plugins) into
  // plugins.install_dir — a failure keeps the set installed before and fails /readyz, saying
  // which artifact and why — then discovers the plugins of the installed set and of
  // plugins.dirs (a broken local one stops the start, as in Optimus), publishes those that are
  // new or changed, and serves GET /api/v1beta1/plugins and GET /api/v1beta1/plugins/archive.
  absl::Status Start(app::Context& context) override;

 private:
  class PluginGrpc;
  core::v1::ListPluginsResponse List();
  // The set as one archive, or only its digest when it is `if_none_match`.
  core::v1::GetPluginArchiveResponse Archive(const std::string& if_none_match) const;

  std::unique_ptr<PluginGrpc> grpc_;
  PluginArchive archive_;  // the served plugin files, archived at start
  std::mutex mu_;
  std::vector<spec::PluginSpec> plugins_;
  std::map<std::string, std::string> sources_;  // plugin file -> where it was installed from
  std::map<std::string, std::string> digests_;  // plugin name -> sha256 of its file
  std::string install_error_;  // why the configured set could not be installed, or ""
};

// What `optimus-plugin-manager --help` says about the service.
inline constexpr char kPluginManagerUsage[] =
    "optimus-plugin-manager: Discovers task and hook plugins and publishes them to the other "
    "services.";
inline constexpr int kPluginManagerHttpPort = 8084;
inline constexpr int kPluginManagerGrpcPort = 9104;

}  // namespace optimus::plugin_manager
