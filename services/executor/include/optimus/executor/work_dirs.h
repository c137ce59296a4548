// Where a local executor's runs get their directories.
//
// Each running execution holds a slot, `<root>/slot-<n>/` (an executor's root is its own folder
// of the work directory), that the next run in that slot reuses: the files a run writes again
// (its steps' `in/.env`, `in/.secret`, assets) are overwritten in place instead of deleted and
// created anew. On a busy executor, creating and
// deleting some ten inodes per run cost more CPU than anything else it did (on ext4 without a
// journal, every new inode searches past the recently deleted ones). What a run leaves besides
// (whatever its steps wrote) is removed when it ends, and `in/.secret` is emptied then; what a
// previous run of another shape left (other steps, other assets) is removed before the next
// starts. With `keep`, each run gets a fresh `<execution>-<attempt>/` that is left in place.
#pragma once

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace optimus::executor {

class WorkDirs {
 public:
  WorkDirs(std::filesystem::path root, bool keep) : root_(std::move(root)), keep_(keep) {}

  // The directory of a run in `slot`, ready for steps named `steps` (`<n>-<step>`): entries of
  // a previous run that are not among them are removed, and each of them keeps only `in/`.
  absl::StatusOr<std::filesystem::path> Open(int slot, const std::string& execution, int attempt,
                                             const std::vector<std::string>& steps) const;

  // After a step's run input was written to `in`: removes what a previous run left there that
  // is not among `written` (paths relative to `in`), and anything that is not a plain file or
  // directory.
  static void Prune(const std::filesystem::path& in, const std::set<std::string>& written);

  // After the run: each step directory keeps only `in/`, whose `.secret` is emptied (with
  // `keep`, nothing is touched).
  void Close(const std::filesystem::path& dir) const;

 private:
  std::filesystem::path root_;
  bool keep_;
};

}  // namespace optimus::executor
