// optimus-runtime-context: the service on its own, as the Helm chart deploys it.
#include "optimus/app/host.h"
#include "optimus/runtime_context/runtime_context_service.h"

int main(int argc, char** argv) {
  std::vector<std::unique_ptr<optimus::app::Component>> components;
  components.push_back(std::make_unique<optimus::runtime_context::RuntimeContextService>());
  return optimus::app::RunMain(
      argc, argv,
      {.program = "optimus-runtime-context",
       .default_http_port = optimus::runtime_context::kRuntimeContextHttpPort,
       .default_grpc_port = optimus::runtime_context::kRuntimeContextGrpcPort,
       .usage = optimus::runtime_context::kRuntimeContextUsage},
      std::move(components));
}
