// Where a project's DAG files go: the place its storage_path names, as Optimus publishes them
// (<storage_path>/dags/__lib.py and <storage_path>/dags/<namespace>/<job>.py), or the server's
// own blob store under "<project>/".
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "optimus/blob/blob_store.h"

namespace optimus::compiler {

// The location of a project's DAG objects, from its storage_path:
//   file:///absolute/path, s3://bucket[/prefix][?endpoint=...&region=...&path_style=true],
//   gs://bucket[/prefix][?endpoint=...]   → the project's own place ("root", ending in '/',
//                                           any query kept after it);
//   empty, or a relative file://path (Optimus's sample file://dags) → "" (the server's store).
// InvalidArgument for any other scheme or a malformed path, naming the value.
absl::StatusOr<std::string> StorageRoot(const std::string& storage_path);

// The published location of `dag_path` (e.g. dags/ns/job.py) of `project` under `root`:
// "<project>/<dag_path>" in the server's store when root is "", else root + dag_path with the
// root's query (if any) after it, e.g. s3://b/p/dags/ns/job.py?endpoint=http://127.0.0.1:9000.
std::string DagUri(const std::string& root, const std::string& project,
                   const std::string& dag_path);

// The key of a DagUri inside its root's store (the uri itself for the server's store).
std::string DagKey(const std::string& root, const std::string& uri);

// The stores behind DAG URIs: the server's for plain keys, and one opened per project root (and
// credentials), cached. Thread-safe.
class DagStores {
 public:
  // Opens a store for a root URI (a storage_path) with the project's STORAGE secret ("" when
  // it has none).
  using Opener = std::function<absl::StatusOr<std::unique_ptr<blob::BlobStore>>(
      const std::string& root, const std::string& credentials)>;
  // The default opener: file:// and s3:// through blob::OpenBlobStore (S3 credentials from the
  // secret's JSON {"access_key_id", "secret_access_key", "session_token"}, else the server's
  // environment), gs:// through the GCS store (the secret is a service-account key JSON).
  static absl::StatusOr<std::unique_ptr<blob::BlobStore>> OpenRoot(const std::string& root,
                                                                   const std::string& credentials);

  DagStores(blob::BlobStore& server, Opener opener = OpenRoot)
      : server_(server), opener_(std::move(opener)) {}

  // The store of `root` ("" = the server's), opened with the project's STORAGE secret
  // (`credentials`, "" when none) the first time. Opening can fail (bad bucket, missing
  // credentials): the status says which root and why.
  absl::StatusOr<blob::BlobStore*> Store(const std::string& root, const std::string& credentials);

  // Syncs the stores written to since the last call.
  absl::Status Sync();

 private:
  blob::BlobStore& server_;
  Opener opener_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<blob::BlobStore>> stores_;  // by root and credentials
  std::set<blob::BlobStore*> touched_;
};

}  // namespace optimus::compiler
