// Per-project DAG storage: a project's storage_path names where its Airflow reads DAG files.
#include "optimus/compiler/dag_stores.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "optimus/blob/gcs_blob_store.h"
#include "optimus/blob/s3_blob_store.h"
#include "optimus/pipeline/pipeline.h"

namespace optimus::compiler {
namespace {

// root = path part (ending in '/') + query part ("" or "?...").
std::pair<std::string, std::string> SplitRoot(const std::string& root) {
  const size_t q = root.find('?');
  if (q == std::string::npos) return {root, ""};
  return {root.substr(0, q), root.substr(q)};
}

absl::StatusOr<std::unique_ptr<blob::BlobStore>> OpenS3(const std::string& root,
                                                        const std::string& credentials) {
  auto config = blob::S3ConfigFromUri(root);
  if (!config.ok()) return config.status();
  if (!credentials.empty()) {
    auto json = nlohmann::json::parse(credentials, nullptr, false);
    if (json.is_discarded() || !json.is_object()) {
      return absl::InvalidArgumentError(
          "the project's STORAGE secret is not the JSON an s3:// storage_path needs "
          "({\"access_key_id\": ..., \"secret_access_key\": ...})");
    }
    auto text = [&](const char* a, const char* b) {
      for (const char* name : {a, b}) {
        if (auto it = json.find(name); it != json.end() && it->is_string()) {
          return it->get<std::string>();
        }
      }
      return std::string();
    };
    config->access_key = text("access_key_id", "aws_access_key_id");
    config->secret_key = text("secret_access_key", "aws_secret_access_key");
    config->session_token = text("session_token", "aws_session_token");
    if (config->access_key.empty() || config->secret_key.empty()) {
      return absl::InvalidArgumentError(
          "the project's STORAGE secret has no access_key_id and secret_access_key");
    }
  }
  auto store = blob::S3BlobStore::Create(*std::move(config));
  if (!store.ok()) return store.status();
  return std::unique_ptr<blob::BlobStore>(*std::move(store));
}

absl::StatusOr<std::unique_ptr<blob::BlobStore>> OpenGcs(const std::string& root,
                                                         const std::string& credentials) {
  auto config = blob::GcsConfigFromUri(root);
  if (!config.ok()) return config.status();
  config->credentials_json = credentials;
  auto store = blob::GcsBlobStore::Create(*std::move(config));
  if (!store.ok()) return store.status();
  return std::unique_ptr<blob::BlobStore>(*std::move(store));
}

}  // namespace

absl::StatusOr<std::string> StorageRoot(const std::string& storage_path) {
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError("storage_path \"" + storage_path + "\" " + why);
  };
  if (storage_path.empty()) return std::string();
  const size_t scheme_end = storage_path.find("://");
  if (scheme_end == std::string::npos) {
    return bad("is not a URI: use file:///absolute/path, s3://bucket/prefix or gs://bucket/prefix");
  }
  const std::string scheme = storage_path.substr(0, scheme_end);
  auto [path, query] = SplitRoot(storage_path);
  const std::string rest = path.substr(scheme_end + 3);
  if (scheme == "file") {
    if (!query.empty()) return bad("takes no query");
    if (!rest.starts_with("/")) return std::string();  // relative (file://dags): the server's
    if (rest.find("/../") != std::string::npos || rest.ends_with("/..")) {
      return bad("must not climb out of its folder with ..");
    }
  } else if (scheme == "s3" || scheme == "gs") {
    const std::string bucket = rest.substr(0, rest.find('/'));
    if (bucket.empty()) return bad("names no bucket");
  } else {
    return bad("has an unsupported scheme \"" + scheme +
               "\": use file:///absolute/path, s3://bucket/prefix or gs://bucket/prefix");
  }
  if (!path.ends_with("/")) path += "/";
  return path + query;
}

std::string DagUri(const std::string& root, const std::string& project,
                   const std::string& dag_path) {
  if (root.empty()) return absl::StrCat(project, "/", dag_path);
  auto [path, query] = SplitRoot(root);
  return absl::StrCat(path, dag_path, query);
}

std::string DagKey(const std::string& root, const std::string& uri) {
  if (root.empty()) return uri;
  auto [path, query] = SplitRoot(root);
  if (!uri.starts_with(path) || uri.size() < path.size() + query.size()) return uri;
  return uri.substr(path.size(), uri.size() - path.size() - query.size());
}

absl::StatusOr<std::unique_ptr<blob::BlobStore>> DagStores::OpenRoot(
    const std::string& root, const std::string& credentials) {
  absl::StatusOr<std::unique_ptr<blob::BlobStore>> store;
  if (root.starts_with("s3://")) {
    store = OpenS3(root, credentials);
  } else if (root.starts_with("gs://")) {
    store = OpenGcs(root, credentials);
  } else {
    store = blob::OpenBlobStore(root);
  }
  if (!store.ok()) {
    return absl::Status(store.status().code(),
                        absl::StrCat("cannot open the project's storage_path ",
                                     SplitRoot(root).first, ": ", store.status().message()));
  }
  return store;
}

absl::StatusOr<blob::BlobStore*> DagStores::Store(const std::string& root,
                                                  const std::string& credentials) {
  if (root.empty()) {
    std::lock_guard lock(mu_);
    touched_.insert(&server_);
    return &server_;
  }
  const std::string id = absl::StrCat(root, "\n", pipeline::Sha256Hex(credentials));
  std::lock_guard lock(mu_);
  auto it = stores_.find(id);
  if (it == stores_.end()) {
    auto opened = opener_(root, credentials);
    if (!opened.ok()) return opened.status();
    it = stores_.emplace(id, *std::move(opened)).first;
  }
  touched_.insert(it->second.get());
  return it->second.get();
}

absl::Status DagStores::Sync() {
  std::set<blob::BlobStore*> touched;
  {
    std::lock_guard lock(mu_);
    touched.swap(touched_);
  }
  for (blob::BlobStore* store : touched) {
    if (absl::Status s = store->Sync(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace optimus::compiler
