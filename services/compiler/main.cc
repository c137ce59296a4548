// optimus-compiler: the service on its own, as the Helm chart deploys it.
#include "optimus/app/host.h"
#include "optimus/compiler/compiler_service.h"

int main(int argc, char** argv) {
  std::vector<std::unique_ptr<optimus::app::Component>> components;
  components.push_back(std::make_unique<optimus::compiler::CompilerService>());
  return optimus::app::RunMain(argc, argv,
                               {.program = "optimus-compiler",
                                .default_http_port = optimus::compiler::kCompilerHttpPort,
                                .default_grpc_port = optimus::compiler::kCompilerGrpcPort,
                                .usage = optimus::compiler::kCompilerUsage},
                               std::move(components));
}
