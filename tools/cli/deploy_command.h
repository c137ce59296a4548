// The commands that send jobs to the server: deploy, job replace-all, job deploy, job delete.
#pragma once

#include <ostream>

namespace optimus::cli {

enum class DeployMode {
  kDeploy,      // `optimus deploy`: every namespace, replace-all
  kReplaceAll,  // `optimus job replace-all`
  kUpsert,      // `optimus job deploy`: add and update, never delete
};

int RunDeployCommand(int argc, char** argv, DeployMode mode, std::ostream& out, std::ostream& err);
int RunJobDeleteCommand(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace optimus::cli
