// optimus-runtime-context: component wiring. Its handlers arrive with the deploy pipeline (issue
// 4).
#include "optimus/runtime_context/runtime_context_service.h"

namespace optimus::runtime_context {

absl::Status RuntimeContextService::Start(app::Context& context) {
  (void)context;
  return absl::OkStatus();
}

}  // namespace optimus::runtime_context
