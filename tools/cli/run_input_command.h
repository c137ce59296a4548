// `optimus job run-input JOB`: fetches a run's input from runtime-context and writes it where
// the task container reads it (in/.env, in/.secret and the asset files).
#pragma once

#include <filesystem>
#include <map>
#include <ostream>
#include <string>

#include "absl/status/status.h"

namespace optimus::cli {

int RunJobRunInputCommand(int argc, char** argv, std::ostream& out, std::ostream& err);

// `KEY='value'` lines, sorted, with every ' written '\'' so that `source` reads any value back
// unchanged.
std::string ShellAssignments(const std::map<std::string, std::string>& values);

// Writes `files` under dir/in/ (sub-folders made as needed; a name leaving in/ is refused),
// then in/.env and in/.secret.
absl::Status WriteRunInput(const std::filesystem::path& dir,
                           const std::map<std::string, std::string>& envs,
                           const std::map<std::string, std::string>& files,
                           const std::map<std::string, std::string>& secrets);

}  // namespace optimus::cli
