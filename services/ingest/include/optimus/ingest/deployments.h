// Deployment bookkeeping, pure of transport: which jobs a deployment covers, the stage each
// reached, and the status a watcher sees.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "optimus/core/v1/deploy.pb.h"
#include "optimus/events/v1/deployment.pb.h"
#include "optimus/store/database.h"

namespace optimus::ingest {

// Terminal stages: the job needs nothing more from this deployment.
bool IsTerminal(events::v1::Stage stage);

// Records a new deployment and the stage of each of its jobs (accepted, or failed with the
// reason ingest refused it) inside `tx`.
absl::Status RecordDeployment(store::Transaction& tx, const std::string& id,
                              const std::string& project, const std::string& namespace_name,
                              const std::vector<core::v1::JobProgress>& jobs);

// Applies one progress record: a job moves forward, never back; a terminal stage stays (a
// failure wins over anything but itself). Jobs not yet known join the deployment (deletions
// found by spec-store, jobs cascaded by the resolver). Unknown deployments are ignored.
absl::Status ApplyProgress(store::Transaction& tx, const events::v1::DeploymentProgress& p);
// The same for a batch of records, in order, with a few statements whatever its size.
absl::Status ApplyProgress(store::Transaction& tx,
                           const std::vector<events::v1::DeploymentProgress>& records);

// The deployment's counts, the jobs whose stage changed after `after_seq` (sets `last_seq`), and
// whether it is done: spec-store took it all in (the progress record without a job) and every
// job is terminal. NotFound for an unknown id.
// The project deployment `id` belongs to; NotFound for an id this ingest does not know.
absl::StatusOr<std::string> DeploymentProject(store::Database& db, const std::string& id);

absl::StatusOr<core::v1::DeploymentStatus> Status(store::Database& db, const std::string& id,
                                                  int64_t after_seq, int64_t* last_seq);

}  // namespace optimus::ingest
