// optimus-compiler: component wiring. Its handlers arrive with the deploy pipeline (issue 4).
#include "optimus/compiler/compiler_service.h"

#include "optimus/telemetry/health.h"

namespace optimus::compiler {

config::Schema CompilerService::ConfigSchema() const {
  config::Schema schema;
  schema.Add({.name = "compiler.airflow_version", .type = config::Type::kString, .default_value = "2.10",
              .description = "Airflow version the DAG template targets: 2.9, 2.10 or 3.0."});
  return schema;
}

absl::Status CompilerService::Start(app::Context& context) {
  (void)context;
  return absl::OkStatus();
}

}  // namespace optimus::compiler
