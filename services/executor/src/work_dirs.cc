// Reused run directories (see work_dirs.h).
#include "optimus/executor/work_dirs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace optimus::executor {
namespace {

namespace fs = std::filesystem;

bool IsDirectory(const fs::path& p) {
  std::error_code ec;
  return fs::symlink_status(p, ec).type() == fs::file_type::directory;
}

// A plain file with one name: safe to overwrite in place (a link elsewhere would carry what
// the next run writes to wherever it points).
bool IsPlainFile(const fs::path& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1;
}

// Removes every entry of `dir` but those named in `keep`.
void RemoveAllBut(const fs::path& dir, const std::set<std::string>& keep) {
  std::error_code ec;
  std::vector<fs::path> doomed;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!keep.contains(entry.path().filename().string())) doomed.push_back(entry.path());
  }
  for (const auto& p : doomed) fs::remove_all(p, ec);
}

}  // namespace

absl::StatusOr<fs::path> WorkDirs::Open(int slot, const std::string& execution, int attempt,
                                        const std::vector<std::string>& steps) const {
  std::error_code ec;
  const fs::path dir =
      keep_ ? root_ / absl::StrCat(execution, "-", attempt) : root_ / absl::StrCat("slot-", slot);
  if (keep_ || !IsDirectory(dir)) fs::remove_all(dir, ec);
  const std::set<std::string> names(steps.begin(), steps.end());
  RemoveAllBut(dir, names);
  for (const std::string& step : steps) {
    const fs::path step_dir = dir / step;
    if (!IsDirectory(step_dir)) fs::remove_all(step_dir, ec);
    RemoveAllBut(step_dir, {"in"});
    if (!IsDirectory(step_dir / "in")) fs::remove_all(step_dir / "in", ec);
    fs::create_directories(step_dir, ec);
    if (ec) {
      return absl::FailedPreconditionError("cannot create the run directory " + step_dir.string() +
                                           ": " + ec.message());
    }
  }
  return dir;
}

void WorkDirs::Prune(const fs::path& in, const std::set<std::string>& written) {
  std::error_code ec;
  // Directories that hold a written file stay (their other entries are looked at).
  std::set<std::string> parents;
  for (const std::string& w : written) {
    for (fs::path p = fs::path(w).parent_path(); !p.empty(); p = p.parent_path()) {
      parents.insert(p.string());
    }
  }
  std::vector<fs::path> doomed;
  for (auto it = fs::recursive_directory_iterator(in, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    const fs::path relative = it->path().lexically_relative(in);
    if (IsDirectory(it->path()) && parents.contains(relative.string())) continue;
    if (IsPlainFile(it->path()) && written.contains(relative.string())) continue;
    doomed.push_back(it->path());
    if (IsDirectory(it->path())) it.disable_recursion_pending();
  }
  for (const auto& p : doomed) fs::remove_all(p, ec);
}

void WorkDirs::Close(const fs::path& dir) const {
  if (keep_) return;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (!IsDirectory(entry.path())) continue;
    RemoveAllBut(entry.path(), {"in"});
    if (!IsDirectory(entry.path() / "in")) {
      fs::remove_all(entry.path() / "in", ec);
      continue;
    }
    const fs::path secret = entry.path() / "in" / ".secret";
    if (IsPlainFile(secret)) {
      if (const int fd = ::open(secret.c_str(), O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
          fd >= 0) {
        ::close(fd);
      }
    } else {
      fs::remove_all(secret, ec);
    }
  }
}

}  // namespace optimus::executor
