// FileBlobStore: keys are relative paths under a root directory; writes go through a temp file.
#include "optimus/blob/file_blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <system_error>

namespace optimus::blob {
namespace {

namespace fs = std::filesystem;

// Temp files live beside their target (rename is atomic only within one file system) and carry
// this marker so List can skip them and keys can never collide with them.
constexpr std::string_view kTempMarker = ".optimus-tmp-";

std::string ErrnoText(int err) { return std::strerror(err); }

absl::Status ErrnoStatus(int err, std::string_view what, const fs::path& path) {
  std::string message = std::string(what) + " " + path.string() + ": " + ErrnoText(err);
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message + " (check the permissions of the store's root)");
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(message + " (the disk is full)");
    case ENOTDIR:
    case EISDIR:
    case EEXIST:
      return absl::FailedPreconditionError(
          message + " (a key cannot be both an object and a folder of other keys)");
    default:
      return absl::InternalError(message);
  }
}

// Splits on '/' keeping empty segments, so "a//b" shows up as an empty one.
std::vector<std::string_view> Segments(std::string_view key) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t slash = key.find('/', start);
    out.push_back(key.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

std::string RandomSuffix() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  for (int i = 0; i < 12; ++i) out.push_back(kAlphabet[rng() % (sizeof(kAlphabet) - 1)]);
  return out;
}

bool IsTempName(std::string_view name) { return name.substr(0, kTempMarker.size()) == kTempMarker; }

absl::Status WriteAll(int fd, std::string_view content, const fs::path& path) {
  const char* data = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "cannot write", path);
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Makes a rename durable: the directory entry is only on disk once its directory is synced.
void SyncDirectory(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // The data itself is synced; a directory we cannot open only risks order.
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

absl::Status FileBlobStore::ValidateKey(std::string_view key) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError("invalid blob key \"" + std::string(key) +
                                      "\": " + std::string(why));
  };
  if (key.empty()) return bad("it is empty");
  if (key.find('\0') != std::string_view::npos) return bad("it contains a NUL byte");
  if (key.front() == '/') return bad("it starts with '/'; keys are relative to the store's root");
  for (std::string_view segment : Segments(key)) {
    if (segment.empty()) return bad("it has an empty path segment (\"//\" or a trailing '/')");
    if (segment == "." || segment == "..") {
      return bad("'.' and '..' segments are not allowed; they would leave or alias the root");
    }
    if (IsTempName(segment)) {
      return bad("segments starting with \".optimus-tmp-\" are reserved for temp files");
    }
    if (segment.size() > 255) return bad("a path segment is longer than 255 bytes");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FileBlobStore>> FileBlobStore::Open(const fs::path& root) {
  if (root.empty() || !root.is_absolute()) {
    return absl::InvalidArgumentError("file blob store root \"" + root.string() +
                                      "\" must be an absolute path");
  }
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) {
    return ErrnoStatus(ec.value(), "cannot create the blob store root", root);
  }
  if (!fs::is_directory(root, ec)) {
    return absl::FailedPreconditionError("file blob store root " + root.string() +
                                         " exists but is not a directory");
  }
  fs::path canonical = fs::canonical(root, ec);
  if (ec) return ErrnoStatus(ec.value(), "cannot resolve the blob store root", root);
  return std::unique_ptr<FileBlobStore>(new FileBlobStore(std::move(canonical)));
}

absl::Status FileBlobStore::Put(std::string_view key, std::string_view content) {
  return Write(key, content, true);
}

absl::Status FileBlobStore::PutUnsynced(std::string_view key, std::string_view content) {
  return Write(key, content, false);
}

absl::Status FileBlobStore::Sync() {
  std::set<fs::path> files, dirs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    files.swap(unsynced_files_);
    dirs.swap(unsynced_dirs_);
  }
  if (files.empty() && dirs.empty()) return absl::OkStatus();
  // One syncfs flushes everything dirty on the file system (cheap for a big batch, slow for a
  // single DAG after a big deploy); a few fsyncs flush exactly what this store wrote.
  constexpr size_t kFsyncLimit = 32;
  if (files.size() + dirs.size() > kFsyncLimit) {
    int fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "cannot open", root_);
    const int rc = ::syncfs(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return ErrnoStatus(err, "cannot sync the file system of", root_);
    return absl::OkStatus();
  }
  for (const fs::path& file : files) {
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) continue;  // replaced or deleted since: its folder is synced below
      return ErrnoStatus(errno, "cannot open", file);
    }
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return ErrnoStatus(err, "cannot fsync", file);
  }
  for (const fs::path& dir : dirs) SyncDirectory(dir);
  return absl::OkStatus();
}

absl::Status FileBlobStore::Write(std::string_view key, std::string_view content, bool sync) {
  if (absl::Status s = ValidateKey(key); !s.ok()) return s;
  fs::path target = root_ / fs::path(std::string(key));
  fs::path dir = target.parent_path();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return ErrnoStatus(ec.value(), "cannot create the folder", dir);

  fs::path temp;
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    temp = dir / (std::string(kTempMarker) + RandomSuffix());
    // O_EXCL: never share a temp file with a concurrent writer. Mode 0666 lets the umask decide,
    // as for any other file the process writes (mkstemp would force 0600).
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && (errno != EEXIST || attempt >= 8)) {
      return ErrnoStatus(errno, "cannot create a temp file", temp);
    }
  }
  auto fail = [&](absl::Status status) {
    ::close(fd);
    ::unlink(temp.c_str());
    return status;
  };
  if (absl::Status s = WriteAll(fd, content, temp); !s.ok()) return fail(s);
  if (sync && ::fsync(fd) != 0) return fail(ErrnoStatus(errno, "cannot fsync", temp));
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return ErrnoStatus(err, "cannot close", temp);
  }
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return ErrnoStatus(err, "cannot rename the temp file onto", target);
  }
  if (sync) {
    SyncDirectory(dir);
  } else {
    std::lock_guard<std::mutex> lock(mu_);
    unsynced_files_.insert(target);
    unsynced_dirs_.insert(dir);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> FileBlobStore::Get(std::string_view key) {
  if (absl::Status s = ValidateKey(key); !s.ok()) return s;
  fs::path path = root_ / fs::path(std::string(key));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return absl::NotFoundError("no blob \"" + std::string(key) + "\" in " + root_.string());
    }
    return ErrnoStatus(errno, "cannot open", path);
  }
  std::string out;
  struct stat st {};
  if (::fstat(fd, &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      ::close(fd);
      return absl::NotFoundError("no blob \"" + std::string(key) + "\" in " + root_.string() +
                                 " (it is a folder of other keys)");
    }
    out.reserve(static_cast<size_t>(st.st_size));
  }
  char buf[64 * 1024];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoStatus(err, "cannot read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

absl::Status FileBlobStore::Delete(std::string_view key) {
  if (absl::Status s = ValidateKey(key); !s.ok()) return s;
  fs::path path = root_ / fs::path(std::string(key));
  if (::unlink(path.c_str()) != 0) {
    // Nothing to delete: missing, under a path that is a file, or a folder rather than an object.
    if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR) return absl::OkStatus();
    return ErrnoStatus(errno, "cannot delete", path);
  }
  std::lock_guard<std::mutex> lock(mu_);
  unsynced_dirs_.insert(path.parent_path());  // the removal is durable after the next Sync()
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ObjectInfo>> FileBlobStore::List(std::string_view prefix) {
  // Walk only the deepest folder the prefix names, when it is a valid key path; otherwise the
  // whole root (a prefix such as "../" then simply matches nothing).
  fs::path start = root_;
  size_t slash = prefix.rfind('/');
  if (slash != std::string_view::npos && slash > 0 && ValidateKey(prefix.substr(0, slash)).ok()) {
    start = root_ / fs::path(std::string(prefix.substr(0, slash)));
  }
  std::vector<ObjectInfo> out;
  std::error_code ec;
  if (!fs::is_directory(start, ec)) return out;
  fs::recursive_directory_iterator it(start, fs::directory_options::skip_permission_denied, ec);
  if (ec) return ErrnoStatus(ec.value(), "cannot list", start);
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::directory_entry& entry = *it;
    std::string name = entry.path().filename().string();
    if (IsTempName(name)) continue;
    std::error_code entry_ec;
    if (!entry.is_regular_file(entry_ec)) continue;
    std::string key = entry.path().lexically_relative(root_).generic_string();
    if (key.compare(0, prefix.size(), prefix) != 0) continue;
    uintmax_t size = entry.file_size(entry_ec);
    if (entry_ec) continue;  // Deleted between the directory read and now: not there any more.
    out.push_back(ObjectInfo{std::move(key), static_cast<int64_t>(size)});
  }
  if (ec) return ErrnoStatus(ec.value(), "cannot list", start);
  std::sort(out.begin(), out.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

}  // namespace optimus::blob
