// `optimus init`: writes optimus.yaml and the namespace folders of a new project.
#pragma once

#include <istream>
#include <ostream>

namespace optimus::cli {

// Interactive when `interactive` (a terminal on stdin and no --no-input), else by flags only.
int RunInitCommand(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err,
                   bool interactive);

}  // namespace optimus::cli
