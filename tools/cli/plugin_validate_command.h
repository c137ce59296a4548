// `optimus plugin validate`: checks YAML plugin files (version 1 and 2) offline.
#pragma once

#include <ostream>

namespace optimus::cli {

// argv[0] is "validate". Exit codes: 0 valid, 1 problems found, 2 bad flags or nothing to read.
int RunPluginValidateCommand(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace optimus::cli
