// optimus-ingest: The front door for people and CI: deploy, replace-all, upsert and delete jobs;
// watch deployments.
#pragma once

#include <string>

#include "optimus/app/component.h"

namespace optimus::ingest {

class IngestService : public app::Component {
 public:
  std::string name() const override { return "ingest"; }
  absl::Status Start(app::Context& context) override;
};

// What `optimus-ingest --help` says about the service.
inline constexpr char kIngestUsage[] =
    "optimus-ingest: The front door for people and CI: deploy, replace-all, upsert and delete "
    "jobs; watch deployments.";
inline constexpr int kIngestHttpPort = 8080;
inline constexpr int kIngestGrpcPort = 9100;

}  // namespace optimus::ingest
