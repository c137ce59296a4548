// A BlobStore on a local directory: one file per key, written atomically (temp file + rename).
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "optimus/blob/blob_store.h"

namespace optimus::blob {

class FileBlobStore : public BlobStore {
 public:
  // Creates `root` (and its parents) when missing. `root` must be an absolute path.
  static absl::StatusOr<std::unique_ptr<FileBlobStore>> Open(const std::filesystem::path& root);

  // Keys are '/'-separated relative paths: no empty, "." or ".." segment, no leading '/', no NUL,
  // and no segment starting with ".optimus-tmp-" (the store's own temp files).
  absl::Status Put(std::string_view key, std::string_view content) override;
  absl::Status PutUnsynced(std::string_view key, std::string_view content) override;
  // Makes every PutUnsynced (and Delete) since the last Sync durable: a few files are fsynced
  // one by one with their folders; many at once take one syncfs(2) of the file system.
  absl::Status Sync() override;
  absl::StatusOr<std::string> Get(std::string_view key) override;
  absl::Status Delete(std::string_view key) override;
  absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix) override;

  const std::filesystem::path& root() const { return root_; }

  // InvalidArgument, naming the problem, when `key` is not one this store accepts.
  static absl::Status ValidateKey(std::string_view key);

 private:
  explicit FileBlobStore(std::filesystem::path root) : root_(std::move(root)) {}
  absl::Status Write(std::string_view key, std::string_view content, bool sync);

  std::filesystem::path root_;
  std::mutex mu_;
  std::set<std::filesystem::path> unsynced_files_;
  std::set<std::filesystem::path> unsynced_dirs_;
};

}  // namespace optimus::blob
