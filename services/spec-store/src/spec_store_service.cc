// optimus-spec-store: component wiring. Its handlers arrive with the deploy pipeline (issue 4).
#include "optimus/spec_store/spec_store_service.h"

namespace optimus::spec_store {

absl::Status SpecStoreService::Start(app::Context& context) {
  (void)context;
  return absl::OkStatus();
}

}  // namespace optimus::spec_store
