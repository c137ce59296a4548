// `optimus verify specs`: checks single job.yaml and resource.yaml files, no project needed.
#pragma once

#include <ostream>

namespace optimus::cli {

// argv[0] is "specs". Exit codes: 0 valid, 1 problems found (also unreadable files), 2 bad flags.
int RunVerifySpecsCommand(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace optimus::cli
