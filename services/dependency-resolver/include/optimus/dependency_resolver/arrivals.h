// Which deployments still have job specs on their way to the resolver. spec-store says, once it
// has a whole deployment, how many spec records it sent for it (DeploymentStored); the resolver
// counts the records it sees of each deployment. Records travel on many partitions, so the
// count, not the order, says when a deployment is complete. Deployments sent together (one per
// namespace of `optimus deploy`) form a batch, complete when all of its deployments are.
//
// The open deployments are saved with the records that changed them (TakeChanges, in the
// consumer's transaction) and restored after a restart (Restore), so the counts always match
// the records consumed. A client may never send the rest of a batch: when neither a record nor
// a DeploymentStored has arrived for `forget_after`, nothing open is waited for any more.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "optimus/events/v1/deployment.pb.h"

namespace optimus::dependency_resolver {

class Arrivals {
 public:
  explicit Arrivals(absl::Duration forget_after) : forget_after_(forget_after) {}

  // A job spec record of `deployment_id` arrived (an empty id counts for nothing).
  void SpecArrived(const std::string& deployment_id, absl::Time now);
  // spec-store has the whole deployment and sent `stored.job_specs()` records for it.
  void Stored(const events::v1::DeploymentStored& stored, absl::Time now);
  // Moves complete batches out of the way, and forgets what is open when nothing has arrived
  // for `forget_after`. Call before Open.
  void Update(absl::Time now);
  // True while `deployment_id` has records still to come, or belongs to a batch with
  // deployments not yet stored (as of the last Update). A deployment never heard of is not open.
  bool Open(const std::string& deployment_id) const {
    return deployments_.count(deployment_id) > 0;
  }
  // Update, then whether any deployment is open.
  bool Expecting(absl::Time now);
  void Clear();

  // An open deployment as saved.
  struct Row {
    std::string deployment_id;
    int64_t arrived = 0;
    int64_t expected = -1;  // -1: not stored yet
    std::string batch;      // "" until stored
    int32_t batch_size = 1;
  };
  // What changed since the last call: the open deployments to save, the ids to drop.
  struct Changes {
    std::vector<Row> save;
    std::vector<std::string> drop;
  };
  Changes TakeChanges();
  // Replaces the state with saved rows (after a start or a rolled-back transaction); the quiet
  // time counts from `now`.
  void Restore(const std::vector<Row>& rows, absl::Time now);

  size_t open_deployments() const { return deployments_.size(); }

 private:
  struct Deployment {
    int64_t arrived = 0;
    int64_t expected = -1;  // -1: not stored yet
    std::string batch;
  };
  struct Batch {
    int32_t size = 1;
    std::set<std::string> stored;  // deployment ids
  };
  bool Complete(const Batch& batch) const;
  void Drop(const std::string& id);

  absl::Duration forget_after_;
  absl::Time last_arrival_ = absl::InfinitePast();
  std::map<std::string, Deployment> deployments_;
  std::map<std::string, Batch> batches_;
  // Deployments of completed batches: their late or repeated records change nothing.
  std::map<std::string, absl::Time> done_;
  std::set<std::string> changed_, dropped_;
};

}  // namespace optimus::dependency_resolver
