// optimus-ingest: The front door for people and CI: deploy, replace-all, upsert and delete jobs;
// watch deployments.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "optimus/app/component.h"

namespace grpc {
class Service;
}  // namespace grpc

namespace optimus::ingest {

class SecretsApi;

class IngestService : public app::Component {
 public:
  IngestService();
  ~IngestService() override;
  std::string name() const override { return "ingest"; }
  // Listing every project needs an admin token. Registering a project and reading a
  // deployment need an accepted token at the route; the handler then asks for one of the
  // project's (registering a new project: an admin's).
  std::map<std::string, rpc::Access, std::less<>> AccessRules() const override {
    return {{"GET /api/v1beta1/project", rpc::Access::kAdmin},
            {"POST /api/v1beta1/project", rpc::Access::kAnyToken},
            {"GET /api/v1beta1/deployment/{deployment_id}", rpc::Access::kAnyToken}};
  }
  std::vector<store::Migration> Migrations() const override;
  config::Schema ConfigSchema() const override;
  absl::Status Start(app::Context& context) override;
  void Stop() override;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<grpc::Service> lineage_proxy_;
  std::unique_ptr<SecretsApi> secrets_;
};

// What `optimus-ingest --help` says about the service.
inline constexpr char kIngestUsage[] =
    "optimus-ingest: The front door for people and CI: deploy, replace-all, upsert and delete "
    "jobs; watch deployments.";
inline constexpr int kIngestHttpPort = 8080;
inline constexpr int kIngestGrpcPort = 9100;

}  // namespace optimus::ingest
