// Replays and the native scheduler's runs from the command line (docs/scheduling.md):
//   optimus replay create JOB START [END] | status ID | list | cancel ID
//   optimus job runs [JOB]
#pragma once

#include <ostream>
#include <string>

#include "optimus/core/v1/dispatch.pb.h"

namespace optimus::cli {

// The runs as one line per job and one column per scheduled time, oldest first: each cell the
// run's state (ok, FAILED, waiting, running, retry, cancelled), "+N" when replays ran it N more
// times, "-" when the job has no run then.
std::string RunTimeline(const core::v1::ListScheduledRunsResponse& runs);

int RunReplayCommand(int argc, char** argv, std::ostream& out, std::ostream& err);
int RunJobRunsCommand(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace optimus::cli
