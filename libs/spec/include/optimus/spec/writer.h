// A job spec written back as YAML: what the CLI sends the server after merging this.yaml
// files. Loading the text gives the same JobSpec (fields, not comments or layout).
#pragma once

#include <string>

#include "optimus/spec/model.h"

namespace optimus::spec {

std::string WriteJobSpec(const JobSpec& job);

}  // namespace optimus::spec
