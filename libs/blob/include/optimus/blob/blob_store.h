// Object storage as the services see it: put, get, delete and list by key under one root.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace optimus::blob {

struct ObjectInfo {
  std::string key;
  int64_t size = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Writes the whole object atomically: a reader sees the old content or the new, never a part.
  virtual absl::Status Put(std::string_view key, std::string_view content) = 0;
  // Like Put, but durable only after the next Sync(): for writers that put many objects and
  // then record them (one sync instead of one per object). Stores whose Put is durable at once
  // (S3) need not override either.
  virtual absl::Status PutUnsynced(std::string_view key, std::string_view content) {
    return Put(key, content);
  }
  // Makes every PutUnsynced so far durable.
  virtual absl::Status Sync() { return absl::OkStatus(); }

  // NotFound when the key does not exist.
  virtual absl::StatusOr<std::string> Get(std::string_view key) = 0;

  // Deleting a key that does not exist is not an error.
  virtual absl::Status Delete(std::string_view key) = 0;

  // Every object whose key starts with `prefix`, sorted by key.
  virtual absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix) = 0;
};

// Opens a store from a URI: `file:///var/lib/optimus/dags`,
// `s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1&path_style=true` or
// `gs://bucket/prefix?endpoint=http://127.0.0.1:59044`.
// S3 credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY unless given in code.
// GCS credentials (a service-account key) only come from code (GcsConfig), so a gs:// URI opens
// an emulator: its endpoint= or STORAGE_EMULATOR_HOST.
absl::StatusOr<std::unique_ptr<BlobStore>> OpenBlobStore(std::string_view uri);

}  // namespace optimus::blob
