// optimus-plugin-manager: the service on its own, as the Helm chart deploys it.
#include "optimus/app/host.h"
#include "optimus/plugin_manager/plugin_manager_service.h"

int main(int argc, char** argv) {
  std::vector<std::unique_ptr<optimus::app::Component>> components;
  components.push_back(std::make_unique<optimus::plugin_manager::PluginManagerService>());
  return optimus::app::RunMain(
      argc, argv,
      {.program = "optimus-plugin-manager",
       .default_http_port = optimus::plugin_manager::kPluginManagerHttpPort,
       .default_grpc_port = optimus::plugin_manager::kPluginManagerGrpcPort,
       .usage = optimus::plugin_manager::kPluginManagerUsage},
      std::move(components));
}
