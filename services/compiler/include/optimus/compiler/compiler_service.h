// optimus-compiler: Compiles each job into an Airflow DAG and publishes it to object storage.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "optimus/app/component.h"
#include "optimus/bus/message.h"
#include "optimus/compiler/dag_renderer.h"
#include "optimus/compiler/dag_stores.h"
#include "optimus/events/v1/jobs.pb.h"
#include "optimus/secrets/secret_box.h"
#include "optimus/spec/model.h"
#include "optimus/store/database.h"
#include "optimus/store/outbox.h"

namespace optimus::blob {
class BlobStore;
}  // namespace optimus::blob
namespace optimus::pipeline {
class ConsumerWorker;
}  // namespace optimus::pipeline

namespace optimus::compiler {

// The compiler's state and its record handling, apart from the host for tests.
class Compiler {
 public:
  // `blob` is the server's store; a project whose storage_path names a place of its own
  // (dag_stores.h) gets its DAGs there, opened by `opener` with the project's STORAGE secret
  // (opened by `box`), unless `project_storage` is false.
  Compiler(blob::BlobStore& blob, RenderOptions options, int threads = 1,
           std::optional<secrets::SecretBox> box = std::nullopt,
           DagStores::Opener opener = DagStores::OpenRoot, bool project_storage = true)
      : stores_(blob, std::move(opener)),
        options_(std::move(options)),
        threads_(threads),
        box_(std::move(box)),
        project_storage_(project_storage) {}
  absl::Status Load(store::Database& db);
  // Applies one record of resolutions, projects, plugins or secrets inside `tx`. A resolution is
  // kept and its job queued; a deletion removes the job's DAG.
  absl::Status Apply(store::Transaction& tx, const store::Outbox& outbox, const bus::Message& m);
  // Compiles the queued jobs (the latest resolution of each) on the worker threads and writes
  // each DAG only when its checksum changed; call it before the batch's transaction commits.
  absl::Status Flush(store::Transaction& tx, const store::Outbox& outbox);
  // Forgets the queue (the batch's transaction rolled back).
  void Discard();
  // Makes the DAG files written since the last call durable (one sync for a batch), before the
  // transaction that records them commits.
  absl::Status SyncWrites();

 private:
  struct Queued {
    events::v1::JobResolution resolution;  // the latest of the batch
    std::set<std::string> report_to;       // deployments to tell how the job ended
    std::string record;  // the resolution as received, to keep; "" when it is kept already
  };
  // `record`: the resolution's bytes when it came in a message (kept for re-rendering when
  // the project or a plugin changes); "" for one re-queued from the table.
  void Queue(const events::v1::JobResolution& resolution, bool report, std::string record = "");

  bool unsynced_ = false;
  absl::Status Remove(store::Transaction& tx, const store::Outbox& outbox, const std::string& key,
                      const std::string& deployment_id);
  absl::Status EnsureLib(store::Transaction& tx, const std::string& project, int major,
                         const std::string& root, blob::BlobStore& store);
  // The root of a project's DAGs ("" = the server's store), from its storage_path.
  absl::StatusOr<std::string> RootOf(const events::v1::ProjectRecord& project) const;
  // The project's STORAGE secret, opened; "" when it has none.
  absl::StatusOr<std::string> StorageCredentials(const std::string& project) const;
  absl::StatusOr<blob::BlobStore*> StoreOf(const std::string& project, const std::string& root);
  // Deletes a published DAG from wherever it is (a missing one is fine).
  absl::Status DeleteDag(const std::string& project, const std::string& root,
                         const std::string& uri);
  // Keeps the project's STORAGE secret (sealed) and republishes the project's DAGs.
  absl::Status ApplySecret(store::Transaction& tx, const store::Outbox& outbox,
                           const bus::Message& m);
  // Queues every kept resolution whose job uses `plugin` again and flushes.
  absl::Status RequeueUsersOf(store::Transaction& tx, const store::Outbox& outbox,
                              const std::string& plugin);
  // Queues every kept resolution of `project` again and flushes.
  absl::Status Requeue(store::Transaction& tx, const store::Outbox& outbox,
                       const std::string& project);

  DagStores stores_;
  RenderOptions options_;
  int threads_;
  std::optional<secrets::SecretBox> box_;
  bool project_storage_;
  std::map<std::string, std::string> storage_secrets_;  // by project, sealed
  std::map<std::string, Queued> queued_;                // by job key
  std::vector<std::string> order_;                      // job keys as first queued
  std::map<std::string, events::v1::ProjectRecord> projects_;
  std::map<std::string, spec::PluginSpec> plugins_;
};

class CompilerService : public app::Component {
 public:
  CompilerService();
  ~CompilerService() override;
  std::string name() const override { return "compiler"; }
  config::Schema ConfigSchema() const override;
  std::vector<store::Migration> Migrations() const override;
  absl::Status Start(app::Context& context) override;
  void Stop() override;

 private:
  std::mutex mu_;
  std::unique_ptr<Compiler> compiler_;
  std::unique_ptr<pipeline::ConsumerWorker> worker_;
};

// What `optimus-compiler --help` says about the service.
inline constexpr char kCompilerUsage[] =
    "optimus-compiler: Compiles each job into an Airflow DAG and publishes it to object storage.";
inline constexpr int kCompilerHttpPort = 8083;
inline constexpr int kCompilerGrpcPort = 9103;

}  // namespace optimus::compiler
