// optimus-ingest: component wiring. Its handlers arrive with the deploy pipeline (issue 4).
#include "optimus/ingest/ingest_service.h"

#include "optimus/telemetry/health.h"

namespace optimus::ingest {

config::Schema IngestService::ConfigSchema() const {
  config::Schema schema;
  schema.Add({.name = "ingest.inline_asset_limit", .type = config::Type::kInt, .default_value = "262144",
              .description = "Assets larger than this many bytes travel through the blob store by reference.", .min = 1024, .max = 67108864});
  return schema;
}

absl::Status IngestService::Start(app::Context& context) {
  (void)context;
  return absl::OkStatus();
}

}  // namespace optimus::ingest
