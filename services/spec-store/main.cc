// optimus-spec-store: the service on its own, as the Helm chart deploys it.
#include "optimus/app/host.h"
#include "optimus/spec_store/spec_store_service.h"

int main(int argc, char** argv) {
  std::vector<std::unique_ptr<optimus::app::Component>> components;
  components.push_back(std::make_unique<optimus::spec_store::SpecStoreService>());
  return optimus::app::RunMain(argc, argv,
                               {.program = "optimus-spec-store",
                                .default_http_port = optimus::spec_store::kSpecStoreHttpPort,
                                .default_grpc_port = optimus::spec_store::kSpecStoreGrpcPort,
                                .usage = optimus::spec_store::kSpecStoreUsage},
                               std::move(components));
}
