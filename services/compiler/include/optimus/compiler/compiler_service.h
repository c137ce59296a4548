// optimus-compiler: Compiles each job into an Airflow DAG and publishes it to object storage.
#pragma once

#include <string>

#include "optimus/app/component.h"

namespace optimus::compiler {

class CompilerService : public app::Component {
 public:
  std::string name() const override { return "compiler"; }
  absl::Status Start(app::Context& context) override;
};

// What `optimus-compiler --help` says about the service.
inline constexpr char kCompilerUsage[] =
    "optimus-compiler: Compiles each job into an Airflow DAG and publishes it to object storage.";
inline constexpr int kCompilerHttpPort = 8083;
inline constexpr int kCompilerGrpcPort = 9103;

}  // namespace optimus::compiler
