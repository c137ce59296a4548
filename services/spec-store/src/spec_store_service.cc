// optimus-spec-store: component wiring. Its handlers arrive with the deploy pipeline (issue 4).
#include "optimus/spec_store/spec_store_service.h"

#include "optimus/telemetry/health.h"

namespace optimus::spec_store {

config::Schema SpecStoreService::ConfigSchema() const {
  config::Schema schema;
  return schema;
}

absl::Status SpecStoreService::Start(app::Context& context) {
  (void)context;
  return absl::OkStatus();
}

}  // namespace optimus::spec_store
