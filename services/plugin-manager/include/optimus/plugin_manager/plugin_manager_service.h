// optimus-plugin-manager: Discovers task and hook plugins and publishes them to the other services.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "optimus/app/component.h"
#include "optimus/spec/model.h"

namespace optimus::plugin_manager {

class PluginManagerService : public app::Component {
 public:
  std::string name() const override { return "plugin-manager"; }
  // Plugins belong to no project: any accepted token may read them.
  std::map<std::string, rpc::Access, std::less<>> AccessRules() const override {
    return {{"GET /api/v1beta1/plugins", rpc::Access::kAnyToken}};
  }
  config::Schema ConfigSchema() const override;
  std::vector<store::Migration> Migrations() const override;
  // Discovers the plugins (a broken one stops the start, as in Optimus), publishes those that
  // are new or changed, and serves GET /api/v1beta1/plugins.
  absl::Status Start(app::Context& context) override;

 private:
  std::mutex mu_;
  std::vector<spec::PluginSpec> plugins_;
};

// What `optimus-plugin-manager --help` says about the service.
inline constexpr char kPluginManagerUsage[] =
    "optimus-plugin-manager: Discovers task and hook plugins and publishes them to the other "
    "services.";
inline constexpr int kPluginManagerHttpPort = 8084;
inline constexpr int kPluginManagerGrpcPort = 9104;

}  // namespace optimus::plugin_manager
