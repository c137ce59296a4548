// optimus-ingest: component wiring. Its handlers arrive with the deploy pipeline (issue 4).
#include "optimus/ingest/ingest_service.h"

namespace optimus::ingest {

absl::Status IngestService::Start(app::Context& context) {
  (void)context;
  return absl::OkStatus();
}

}  // namespace optimus::ingest
