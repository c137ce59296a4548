// `optimus job validate`: offline validation of a project's job specs.
#pragma once

#include <ostream>

namespace optimus::cli {

// argv[0] is "validate". Exit codes: 0 no errors (warnings allowed), 1 problems found,
// 2 bad flags or an unreadable project.
int RunJobValidateCommand(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace optimus::cli
