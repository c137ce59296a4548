// Replays and the native scheduler's runs from the command line (docs/scheduling.md):
//   optimus replay create JOB START [END] | status ID | list | cancel ID
//   optimus job runs [JOB]
#pragma once

#include <ostream>

namespace optimus::cli {

int RunReplayCommand(int argc, char** argv, std::ostream& out, std::ostream& err);
int RunJobRunsCommand(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace optimus::cli
