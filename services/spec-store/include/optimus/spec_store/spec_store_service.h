// optimus-spec-store: Stores projects, namespaces, presets and versioned job specs; publishes spec
// changes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "optimus/app/component.h"
#include "optimus/bus/message.h"
#include "optimus/events/v1/deployment.pb.h"
#include "optimus/store/database.h"
#include "optimus/store/outbox.h"

namespace optimus::pipeline {
class ConsumerWorker;
}  // namespace optimus::pipeline

namespace optimus::spec_store {

// Applies records of optimus.spec.submissions inside one transaction. Job submissions are
// gathered and stored together by Flush, in a few statements for the whole batch; a sealed
// deployment or a project flushes what came before it, so each sees its predecessors.
class SubmissionBatch {
 public:
  // With `change_events`, every stored or deleted job also gets its Optimus-compatible change
  // event on optimus.changes (pipeline/change_events.h), in the same transaction.
  explicit SubmissionBatch(const store::Outbox& outbox, bool change_events = true)
      : outbox_(outbox), changes_(change_events) {}
  absl::Status Apply(store::Transaction& tx, const bus::Message& message);
  absl::Status Flush(store::Transaction& tx);
  // After a rollback: forget what was gathered (the records come again).
  void Discard() { jobs_.clear(); }

 private:
  const store::Outbox& outbox_;
  bool changes_;
  std::vector<events::v1::JobSubmission> jobs_;
};

class SpecStoreService : public app::Component {
 public:
  SpecStoreService();
  ~SpecStoreService() override;
  std::string name() const override { return "spec-store"; }
  config::Schema ConfigSchema() const override;
  std::vector<store::Migration> Migrations() const override;
  absl::Status Start(app::Context& context) override;
  void Stop() override;

 private:
  std::unique_ptr<SubmissionBatch> batch_;
  std::unique_ptr<pipeline::ConsumerWorker> worker_;
};

// Applies one record of optimus.spec.submissions inside `tx` (a batch of one): stores the job (a
// new version only when its content hash changed), the project, or a sealed deployment's deletions,
// and enqueues the job.specs / projects records and the progress of each job in `outbox`.
absl::Status ApplySubmission(store::Transaction& tx, const store::Outbox& outbox,
                             const bus::Message& message);

// After a submission went to the dead-letter topic: the job it carried (when it can be read)
// is reported failed to its deployment, so the deployment still finishes.
absl::Status ReportDeadLetter(store::Database& db, const store::Outbox& outbox,
                              const bus::Message& message, const absl::Status& error);

// What `optimus-spec-store --help` says about the service.
inline constexpr char kSpecStoreUsage[] =
    "optimus-spec-store: Stores projects, namespaces, presets and versioned job specs; publishes "
    "spec changes.";
inline constexpr int kSpecStoreHttpPort = 8081;
inline constexpr int kSpecStoreGrpcPort = 9101;

}  // namespace optimus::spec_store
