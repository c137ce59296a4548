// optimus-plugin-manager: component wiring. Its handlers arrive with the deploy pipeline (issue 4).
#include "optimus/plugin_manager/plugin_manager_service.h"

namespace optimus::plugin_manager {

absl::Status PluginManagerService::Start(app::Context& context) {
  (void)context;
  return absl::OkStatus();
}

}  // namespace optimus::plugin_manager
