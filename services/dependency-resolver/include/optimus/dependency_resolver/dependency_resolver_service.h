// optimus-dependency-resolver: Infers each job's upstreams from its SQL and static dependencies;
// serves lineage.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "optimus/app/component.h"
#include "optimus/bus/message.h"
#include "optimus/core/v1/lineage.pb.h"
#include "optimus/dependency_resolver/arrivals.h"
#include "optimus/dependency_resolver/job_graph.h"
#include "optimus/dependency_resolver/lineage_of.h"
#include "optimus/events/v1/jobs.pb.h"
#include "optimus/spec/model.h"
#include "optimus/store/database.h"
#include "optimus/store/outbox.h"

namespace optimus::pipeline {
class ConsumerWorker;
}  // namespace optimus::pipeline
namespace optimus::blob {
class BlobStore;
}  // namespace optimus::blob

namespace optimus::dependency_resolver {

// The resolver's state: every job's spec and lineage, the plugins and projects, and the graph.
// Kept in memory, rebuilt from its own tables at start; each record's effect and the
// resolutions it causes commit together.
class Resolver {
 public:
  // `blob` holds the assets that travel by reference (over 256 KiB); may be null in tests
  // that send none.
  explicit Resolver(blob::BlobStore* blob = nullptr) : blob_(blob) {}

  // Loads the tables into memory (after a start or a rolled-back transaction).
  absl::Status Load(store::Database& db);
  // Applies one record of job.specs, plugins or projects inside `tx`. Job specs are stored at
  // once and resolved together by Flush, so a batch of a deployment resolves its jobs in one
  // graph change (a job and its upstream in one batch cost one resolution, not two).
  absl::Status Apply(store::Transaction& tx, const store::Outbox& outbox, const bus::Message& m);
  // Resolves the job specs applied since the last Flush and enqueues what changed. Call it in
  // the same transaction, after the Apply calls.
  //
  // While the specs of a job's deployment or of its batch are still on their way (see
  // Arrivals), a job that reads tables no known job writes is held back: the job writing them is
  // often later in the stream, and resolving now would compile the job twice. Held jobs (kept
  // in the `held` table) go out when their upstream arrives, when their batch has arrived
  // whole, or after kMaxHold.
  absl::Status Flush(store::Transaction& tx, const store::Outbox& outbox);
  // Resolves the held jobs that may go: those whose batch has arrived whole (or went quiet,
  // see Arrivals) and those held for kMaxHold.
  absl::Status Release(store::Transaction& tx, const store::Outbox& outbox);
  // Whether Release would resolve anything now.
  bool ReleaseDue();
  bool holding() const { return !held_.empty(); }
  static constexpr absl::Duration kMaxHold = absl::Seconds(10);
  const JobGraph& graph() const { return graph_; }

  // The lineage API's answers (LineageService); NotFound for a job the resolver does not hold.
  absl::StatusOr<core::v1::GetLineageResponse> Lineage(const std::string& project,
                                                       const std::string& job) const;
  absl::StatusOr<core::v1::ImpactResponse> Impact(const std::string& project,
                                                  const std::string& job) const;
  // Which of the jobs a replace-all or delete would remove still have readers outside the
  // removed set (those may be deleted only when forced).
  core::v1::CheckDeletionResponse CheckDeletion(
      const core::v1::CheckDeletionRequest& request) const;
  // The stored specs matching `request`, by job key, with their destination and sources.
  core::v1::ListJobSpecsResponse ListJobSpecs(const core::v1::ListJobSpecsRequest& request) const;

 private:
  struct EmitItem {
    std::string key;
    std::string deployment_id;
    bool cascaded = false;
  };
  absl::Status Emit(store::Transaction& tx, const store::Outbox& outbox,
                    const std::vector<EmitItem>& items);
  // Emits `items`, except, with `may_hold`, those to hold back (see Flush), recording the held
  // ones; held jobs that may go (see Release) go too.
  absl::Status EmitOrHold(store::Transaction& tx, const store::Outbox& outbox,
                          std::vector<EmitItem> items, bool may_hold);
  absl::Status FlushSpecs(store::Transaction& tx, const store::Outbox& outbox);
  // Writes what changed in arrivals_ to the open_deployments table.
  absl::Status SaveArrivals(store::Transaction& tx);
  // A job's lineage from its stored spec (pure: reads the resolver's state only).
  LineageResult LineageFor(const std::string& key) const;
  // The lineages of `keys`, computed in parallel; records each job's task plugin and error.
  std::vector<JobLineage> Recompute(const std::vector<std::string>& keys);
  static constexpr size_t kParallelFrom = 8;  // fewer jobs are not worth a thread

  // Applied but not yet resolved.
  struct Pending {
    std::set<std::string> upserts;  // job keys
    std::vector<std::string> removals;
    std::map<std::string, std::string> deployment_of;  // job key -> deployment that changed it
    std::string first_deployment;                      // credited with cascaded jobs
    std::vector<bus::OutgoingMessage> tombstones;
    std::map<std::string, std::string> rows;  // job key -> spec record to store
  } pending_;

  struct Held {
    std::string deployment_id;
    bool cascaded = false;
    absl::Time since;
  };
  std::map<std::string, Held> held_;  // by job key; mirrors the `held` table
  Arrivals arrivals_{kMaxHold};

  blob::BlobStore* blob_;
  std::map<std::string, events::v1::JobSpecRecord> specs_;
  std::map<std::string, std::string> errors_;
  // job key -> the plugins it uses (its task's, then its hooks'): a plugin's change resolves
  // and compiles those jobs again, and only those.
  std::map<std::string, std::vector<std::string>> plugins_of_;
  std::map<std::string, spec::PluginSpec> plugins_;
  std::map<std::string, events::v1::ProjectRecord> projects_;
  JobGraph graph_;
};

class DependencyResolverService : public app::Component {
 public:
  DependencyResolverService();
  ~DependencyResolverService() override;
  std::string name() const override { return "dependency-resolver"; }
  std::vector<store::Migration> Migrations() const override;
  absl::Status Start(app::Context& context) override;
  void Stop() override;

 private:
  class LineageApi;
  std::mutex mu_;
  std::unique_ptr<Resolver> resolver_;
  std::unique_ptr<LineageApi> api_;
  std::unique_ptr<pipeline::ConsumerWorker> worker_;
};

// What `optimus-dependency-resolver --help` says about the service.
inline constexpr char kDependencyResolverUsage[] =
    "optimus-dependency-resolver: Infers each job's upstreams from its SQL and static "
    "dependencies; serves lineage.";
inline constexpr int kDependencyResolverHttpPort = 8082;
inline constexpr int kDependencyResolverGrpcPort = 9102;

}  // namespace optimus::dependency_resolver
