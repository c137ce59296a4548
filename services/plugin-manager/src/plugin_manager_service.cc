// optimus-plugin-manager: component wiring. Its handlers arrive with the deploy pipeline (issue 4).
#include "optimus/plugin_manager/plugin_manager_service.h"

#include "optimus/telemetry/health.h"

namespace optimus::plugin_manager {

config::Schema PluginManagerService::ConfigSchema() const {
  config::Schema schema;
  schema.Add({.name = "plugins.dirs", .type = config::Type::kStringList, .default_value = "",
              .description = "Folders searched for YAML plugins (version 1 and 2)."});
  return schema;
}

absl::Status PluginManagerService::Start(app::Context& context) {
  (void)context;
  return absl::OkStatus();
}

}  // namespace optimus::plugin_manager
