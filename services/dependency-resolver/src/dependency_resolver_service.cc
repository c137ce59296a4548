// optimus-dependency-resolver: component wiring. Its handlers arrive with the deploy pipeline
// (issue 4).
#include "optimus/dependency_resolver/dependency_resolver_service.h"

namespace optimus::dependency_resolver {

absl::Status DependencyResolverService::Start(app::Context& context) {
  (void)context;
  return absl::OkStatus();
}

}  // namespace optimus::dependency_resolver
