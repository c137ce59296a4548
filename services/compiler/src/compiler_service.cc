// optimus-compiler: component wiring. Its handlers arrive with the deploy pipeline (issue 4).
#include "optimus/compiler/compiler_service.h"

namespace optimus::compiler {

absl::Status CompilerService::Start(app::Context& context) {
  (void)context;
  return absl::OkStatus();
}

}  // namespace optimus::compiler
