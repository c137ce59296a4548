// `optimus job inspect JOB`: a deployed job's lineage as the server resolved it.
#pragma once

#include <ostream>

namespace optimus::cli {

int RunJobInspectCommand(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace optimus::cli
