// The execution plane from the command line (docs/execution.md):
//   optimus job execute JOB            run a deployed job now, for a scheduled time
//   optimus execution list|describe|cancel|logs
//   optimus task create|list|describe|execute   catalog tasks
//   optimus executor list|token|revoke
#pragma once

#include <ostream>

namespace optimus::cli {

int RunJobExecuteCommand(int argc, char** argv, std::ostream& out, std::ostream& err);
int RunExecutionCommand(int argc, char** argv, std::ostream& out, std::ostream& err);
int RunTaskCommand(int argc, char** argv, std::ostream& out, std::ostream& err);
int RunExecutorCommand(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace optimus::cli
