// `optimus window`: prints DSTART/DEND (and the v3 extras) for a window and a scheduled time.
#pragma once

#include <ostream>

namespace optimus::cli {

// Runs `optimus window ...`; argv[0] is "window". Writes the result to `out` and a one-line
// error to `err`. Returns 0 on success, 2 for bad flags or values.
int RunWindowCommand(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace optimus::cli
