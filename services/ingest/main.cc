// optimus-ingest: the service on its own, as the Helm chart deploys it.
#include "optimus/app/host.h"
#include "optimus/ingest/ingest_service.h"

int main(int argc, char** argv) {
  std::vector<std::unique_ptr<optimus::app::Component>> components;
  components.push_back(std::make_unique<optimus::ingest::IngestService>());
  return optimus::app::RunMain(argc, argv,
                               {.program = "optimus-ingest",
                                .default_http_port = optimus::ingest::kIngestHttpPort,
                                .default_grpc_port = optimus::ingest::kIngestGrpcPort,
                                .usage = optimus::ingest::kIngestUsage},
                               std::move(components));
}
