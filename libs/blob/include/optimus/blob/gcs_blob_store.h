// A BlobStore on Google Cloud Storage (or an emulator: fake-gcs-server) over its JSON API, with
// service-account keys turned into bearer tokens by our own JWT-bearer grant.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "optimus/blob/blob_store.h"

namespace optimus::blob {

struct GcsConfig {
  std::string bucket;
  // Prepended to every key and removed from listed keys; a non-empty prefix ends with '/'
  // (Create and GcsConfigFromUri add it), so "dags" and "dags/" both mean the folder dags/.
  std::string prefix;
  // "http://127.0.0.1:59044" for an emulator. Empty: STORAGE_EMULATOR_HOST when set
  // (http://host:port, or host:port meaning http; credentials are then ignored, as Google's
  // client libraries ignore them), otherwise https://storage.googleapis.com.
  std::string endpoint;
  // The JSON of a service-account key file ("type": "service_account", client_email,
  // private_key, token_uri). Empty: requests carry no Authorization header, which only an
  // emulator accepts, so Create then requires an endpoint or STORAGE_EMULATOR_HOST.
  std::string credentials_json;
  int connect_timeout_ms = 5000;
  int request_timeout_ms = 60000;  // Whole request, including the transfer of the body.
  // Tries of one request in all; a failed connection, a timeout or a 408/429/5xx answer is
  // retried after 100 ms, 200 ms, 400 ms, ... (with jitter, at most 5 s apart).
  int max_attempts = 4;
  int list_page_size = 0;  // maxResults of each list call; 0: the server's (1000).
};

// Reads gs://bucket/prefix?endpoint=...[&list_page_size=N][&connect_timeout_ms=N]
// [&request_timeout_ms=N][&max_attempts=N]. Credentials never come from a URI (URIs end up in
// logs); they come from code.
absl::StatusOr<GcsConfig> GcsConfigFromUri(std::string_view uri);

class GcsBlobStore : public BlobStore {
 public:
  // Fills the endpoint from the environment when empty; InvalidArgument when the bucket,
  // endpoint or credentials are missing or malformed. Does not contact any server.
  static absl::StatusOr<std::unique_ptr<GcsBlobStore>> Create(GcsConfig config);
  ~GcsBlobStore() override;

  // Safe to call from several threads at once.
  absl::Status Put(std::string_view key, std::string_view content) override;
  absl::StatusOr<std::string> Get(std::string_view key) override;
  absl::Status Delete(std::string_view key) override;
  absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix) override;

  // Creates the bucket in `project`; one that already exists is fine. For tests and dev setup.
  absl::Status CreateBucket(const std::string& project = "test");

  // The config as Create resolved it (endpoint filled, prefix ending in '/'), without the key:
  // credentials_json is dropped once parsed, so that printing a config cannot leak it.
  const GcsConfig& config() const { return config_; }

 private:
  class Impl;  // libcurl, the token source and the endpoint stay out of this header.

  GcsBlobStore(GcsConfig config, std::unique_ptr<Impl> impl);

  GcsConfig config_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace optimus::blob
