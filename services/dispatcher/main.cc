// optimus-dispatcher: the service on its own, as the Helm chart deploys it.
#include "optimus/app/host.h"
#include "optimus/dispatcher/dispatcher_service.h"

int main(int argc, char** argv) {
  std::vector<std::unique_ptr<optimus::app::Component>> components;
  components.push_back(std::make_unique<optimus::dispatcher::DispatcherService>());
  return optimus::app::RunMain(argc, argv,
                               {.program = "optimus-dispatcher",
                                .default_http_port = optimus::dispatcher::kDispatcherHttpPort,
                                .default_grpc_port = optimus::dispatcher::kDispatcherGrpcPort,
                                .usage = optimus::dispatcher::kDispatcherUsage},
                               std::move(components));
}
