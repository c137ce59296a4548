// OpenBlobStore: picks the BlobStore implementation from the URI's scheme.
#include "optimus/blob/blob_store.h"

#include "absl/status/status.h"
#include "optimus/blob/file_blob_store.h"
#include "optimus/blob/gcs_blob_store.h"
#include "optimus/blob/s3_blob_store.h"
#include "uri_util.h"

namespace optimus::blob {
namespace {

absl::StatusOr<std::unique_ptr<BlobStore>> OpenFileStore(std::string_view uri) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError("invalid file URI \"" + std::string(uri) + "\": " +
                                      std::string(why) + " (expected file:///absolute/path)");
  };
  std::string_view rest = uri.substr(std::string_view("file://").size());
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return bad("file URIs take no query or fragment");
  }
  size_t slash = rest.find('/');
  std::string_view host = rest.substr(0, slash);
  if (!host.empty() && host != "localhost") {
    return bad("the host must be empty or localhost; a relative path needs file:///");
  }
  if (slash == std::string_view::npos) return bad("the path is missing");
  auto path = uri_util::PercentDecode(rest.substr(slash));
  if (!path.ok()) return bad(std::string(path.status().message()));
  if (path->find('\0') != std::string::npos) return bad("the path contains a NUL byte");
  auto store = FileBlobStore::Open(*path);
  if (!store.ok()) return store.status();
  return std::unique_ptr<BlobStore>(*std::move(store));
}

}  // namespace

absl::StatusOr<std::unique_ptr<BlobStore>> OpenBlobStore(std::string_view uri) {
  if (uri.substr(0, 7) == "file://") return OpenFileStore(uri);
  if (uri.substr(0, 5) == "s3://") {
    auto config = S3ConfigFromUri(uri);
    if (!config.ok()) return config.status();
    auto store = S3BlobStore::Create(*std::move(config));
    if (!store.ok()) return store.status();
    return std::unique_ptr<BlobStore>(*std::move(store));
  }
  if (uri.substr(0, 5) == "gs://") {
    // No credentials from a URI: this opens an emulator (endpoint= or STORAGE_EMULATOR_HOST).
    auto config = GcsConfigFromUri(uri);
    if (!config.ok()) return config.status();
    auto store = GcsBlobStore::Create(*std::move(config));
    if (!store.ok()) return store.status();
    return std::unique_ptr<BlobStore>(*std::move(store));
  }
  return absl::InvalidArgumentError(
      "unsupported blob store URI \"" + std::string(uri) +
      "\": use file:///absolute/path, s3://bucket/prefix?endpoint=...&region=... or "
      "gs://bucket/prefix?endpoint=...");
}

}  // namespace optimus::blob
