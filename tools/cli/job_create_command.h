// `optimus job create` and `optimus job addhook`: write a job spec (or add a hook to one) from
// a plugin's questions, interactively or from flags and an answers file.
#pragma once

#include <istream>
#include <ostream>

namespace optimus::cli {

int RunJobCreateCommand(int argc, char** argv, std::istream& in, std::ostream& out,
                        std::ostream& err, bool interactive);
int RunJobAddHookCommand(int argc, char** argv, std::istream& in, std::ostream& out,
                         std::ostream& err, bool interactive);

}  // namespace optimus::cli
