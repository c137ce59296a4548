// optimus-dependency-resolver: Infers each job's upstreams from its SQL and static dependencies;
// serves lineage.
#pragma once

#include <string>

#include "optimus/app/component.h"

namespace optimus::dependency_resolver {

class DependencyResolverService : public app::Component {
 public:
  std::string name() const override { return "dependency-resolver"; }
  absl::Status Start(app::Context& context) override;
};

// What `optimus-dependency-resolver --help` says about the service.
inline constexpr char kDependencyResolverUsage[] =
    "optimus-dependency-resolver: Infers each job's upstreams from its SQL and static "
    "dependencies; serves lineage.";
inline constexpr int kDependencyResolverHttpPort = 8082;
inline constexpr int kDependencyResolverGrpcPort = 9102;

}  // namespace optimus::dependency_resolver
