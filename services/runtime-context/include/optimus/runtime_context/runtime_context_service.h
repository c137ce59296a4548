// optimus-runtime-context: Serves running tasks their context and records job run events from the
// scheduler.
#pragma once

#include <string>

#include "optimus/app/component.h"

namespace optimus::runtime_context {

class RuntimeContextService : public app::Component {
 public:
  std::string name() const override { return "runtime-context"; }
  absl::Status Start(app::Context& context) override;
};

// What `optimus-runtime-context --help` says about the service.
inline constexpr char kRuntimeContextUsage[] =
    "optimus-runtime-context: Serves running tasks their context and records job run events from "
    "the scheduler.";
inline constexpr int kRuntimeContextHttpPort = 8085;
inline constexpr int kRuntimeContextGrpcPort = 9105;

}  // namespace optimus::runtime_context
