// A BlobStore on an S3-compatible service (AWS S3, MinIO) over HTTP with our own SigV4 signing.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "optimus/blob/blob_store.h"

namespace optimus::blob {

struct S3Config {
  std::string bucket;
  // Prepended to every key and removed from listed keys; a non-empty prefix ends with '/'
  // (S3Config from a URI adds it), so "dags" and "dags/" both mean the folder dags/.
  std::string prefix;
  // "http://127.0.0.1:59000" for MinIO; empty means AWS: https://s3.<region>.amazonaws.com.
  std::string endpoint;
  // Empty: AWS_REGION, then AWS_DEFAULT_REGION, then us-east-1.
  std::string region;
  // Bucket in the path (http://host/bucket/key), as MinIO needs; otherwise in the host name
  // (http://bucket.host/key), as AWS prefers.
  bool path_style = false;
  // Empty: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN.
  std::string access_key;
  std::string secret_key;
  std::string session_token;
  int connect_timeout_ms = 5000;
  int request_timeout_ms = 60000;  // Whole request, including the transfer of the body.
  // Tries of one request in all; a failed connection, a timeout or a 5xx/429 answer is retried
  // after 100 ms, 200 ms, 400 ms, ... (with jitter, at most 5 s apart).
  int max_attempts = 4;
  int list_page_size = 0;  // max-keys of each ListObjectsV2 call; 0: the server's (1000).
};

// Reads s3://bucket/prefix?endpoint=...&region=...&path_style=true[&list_page_size=N]
// [&connect_timeout_ms=N][&request_timeout_ms=N][&max_attempts=N]. Credentials never come from
// a URI (URIs end up in logs); they come from the environment or from code.
absl::StatusOr<S3Config> S3ConfigFromUri(std::string_view uri);

class S3BlobStore : public BlobStore {
 public:
  // Fills what the config leaves empty from the environment; InvalidArgument when the bucket,
  // endpoint or credentials are missing or malformed. Does not contact the server.
  static absl::StatusOr<std::unique_ptr<S3BlobStore>> Create(S3Config config);
  ~S3BlobStore() override;

  // Safe to call from several threads at once.
  absl::Status Put(std::string_view key, std::string_view content) override;
  absl::StatusOr<std::string> Get(std::string_view key) override;
  absl::Status Delete(std::string_view key) override;
  absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix) override;

  // Creates the bucket (in the configured region); a bucket we already own is fine.
  absl::Status CreateBucket();
  // Deletes the (empty) bucket; a missing bucket is fine. For tests and dev setup.
  absl::Status DeleteBucket();

  const S3Config& config() const { return config_; }

 private:
  class Impl;  // The endpoint, SigV4 signing and libcurl stay out of this header.

  explicit S3BlobStore(S3Config config);

  S3Config config_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace optimus::blob
