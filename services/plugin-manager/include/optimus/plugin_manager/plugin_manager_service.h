// optimus-plugin-manager: Discovers task and hook plugins and publishes them to the other services.
#pragma once

#include <string>

#include "optimus/app/component.h"

namespace optimus::plugin_manager {

class PluginManagerService : public app::Component {
 public:
  std::string name() const override { return "plugin-manager"; }
  absl::Status Start(app::Context& context) override;
};

// What `optimus-plugin-manager --help` says about the service.
inline constexpr char kPluginManagerUsage[] =
    "optimus-plugin-manager: Discovers task and hook plugins and publishes them to the other "
    "services.";
inline constexpr int kPluginManagerHttpPort = 8084;
inline constexpr int kPluginManagerGrpcPort = 9104;

}  // namespace optimus::plugin_manager
