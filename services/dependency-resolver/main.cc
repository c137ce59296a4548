// optimus-dependency-resolver: the service on its own, as the Helm chart deploys it.
#include "optimus/app/host.h"
#include "optimus/dependency_resolver/dependency_resolver_service.h"

int main(int argc, char** argv) {
  std::vector<std::unique_ptr<optimus::app::Component>> components;
  components.push_back(std::make_unique<optimus::dependency_resolver::DependencyResolverService>());
  return optimus::app::RunMain(
      argc, argv,
      {.program = "optimus-dependency-resolver",
       .default_http_port = optimus::dependency_resolver::kDependencyResolverHttpPort,
       .default_grpc_port = optimus::dependency_resolver::kDependencyResolverGrpcPort,
       .usage = optimus::dependency_resolver::kDependencyResolverUsage},
      std::move(components));
}
