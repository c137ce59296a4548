// optimus-spec-store: Stores projects, namespaces, presets and versioned job specs; publishes spec
// changes.
#pragma once

#include <string>

#include "optimus/app/component.h"

namespace optimus::spec_store {

class SpecStoreService : public app::Component {
 public:
  std::string name() const override { return "spec-store"; }
  absl::Status Start(app::Context& context) override;
};

// What `optimus-spec-store --help` says about the service.
inline constexpr char kSpecStoreUsage[] =
    "optimus-spec-store: Stores projects, namespaces, presets and versioned job specs; publishes "
    "spec changes.";
inline constexpr int kSpecStoreHttpPort = 8081;
inline constexpr int kSpecStoreGrpcPort = 9101;

}  // namespace optimus::spec_store
