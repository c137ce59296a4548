// Deployment rows: one per deployment, one per job with its stage and a change sequence.
#include "optimus/ingest/deployments.h"

#include "absl/strings/str_cat.h"

namespace optimus::ingest {

using events::v1::Stage;

bool IsTerminal(Stage stage) {
  return stage == Stage::STAGE_PUBLISHED || stage == Stage::STAGE_UNCHANGED ||
         stage == Stage::STAGE_DELETED || stage == Stage::STAGE_FAILED;
}

namespace {

// Order of the pipeline: a record may arrive late (another service's relay), so a job only
// moves forward.
int Rank(Stage stage) {
  switch (stage) {
    case Stage::STAGE_ACCEPTED:
      return 1;
    case Stage::STAGE_STORED:
      return 2;
    case Stage::STAGE_RESOLVED:
    case Stage::STAGE_WAITING:
      return 3;
    case Stage::STAGE_COMPILED:
      return 4;
    case Stage::STAGE_UNCHANGED:
    case Stage::STAGE_PUBLISHED:
    case Stage::STAGE_DELETED:
      return 5;
    case Stage::STAGE_FAILED:
      return 6;
    default:
      return 0;
  }
}

absl::StatusOr<int64_t> NextSeq(store::Transaction& tx) {
  auto row = tx.Execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM deployment_jobs");
  if (!row.ok()) return row.status();
  return row->rows[0].Int(0);
}

}  // namespace

absl::Status RecordDeployment(store::Transaction& tx, const std::string& id,
                              const std::string& project, const std::string& namespace_name,
                              const std::vector<core::v1::JobProgress>& jobs) {
  auto made = tx.Execute(
      "INSERT INTO deployments (id, project, namespace, total, sealed) VALUES ($1, $2, $3, $4, 0)",
      {id, project, namespace_name, static_cast<int64_t>(jobs.size())});
  if (!made.ok()) return made.status();
  auto seq = NextSeq(tx);
  if (!seq.ok()) return seq.status();
  for (const auto& j : jobs) {
    auto row = tx.Execute(
        "INSERT INTO deployment_jobs (deployment_id, project, namespace, job, stage, error, "
        "cascaded, seq) VALUES ($1, $2, $3, $4, $5, $6, 0, $7)",
        {id, project, namespace_name, j.job(), static_cast<int64_t>(j.stage()), j.error(),
         (*seq)++});
    if (!row.ok()) return row.status();
  }
  return absl::OkStatus();
}

absl::Status ApplyProgress(store::Transaction& tx, const events::v1::DeploymentProgress& p) {
  if (p.job_name().empty()) {
    // spec-store has taken in the whole deployment (its sealed record, or the project), or
    // refused it as a whole.
    const std::string error = p.stage() == Stage::STAGE_FAILED ? p.error() : "";
    return tx
        .Execute("UPDATE deployments SET sealed = 1, error = $2 WHERE id = $1",
                 {p.deployment_id(), error})
        .status();
  }
  auto known = tx.Execute("SELECT 1 FROM deployments WHERE id = $1", {p.deployment_id()});
  if (!known.ok()) return known.status();
  if (known->rows.empty()) return absl::OkStatus();  // another ingest's, or pruned
  auto row = tx.Execute(
      "SELECT stage FROM deployment_jobs WHERE deployment_id = $1 AND project = $2 AND job = $3",
      {p.deployment_id(), p.project(), p.job_name()});
  if (!row.ok()) return row.status();
  auto seq = NextSeq(tx);
  if (!seq.ok()) return seq.status();
  if (row->rows.empty()) {
    auto added = tx.Execute(
        "INSERT INTO deployment_jobs (deployment_id, project, namespace, job, stage, error, "
        "cascaded, seq, recompiled, warning) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7, $9)",
        {p.deployment_id(), p.project(), p.namespace_(), p.job_name(),
         static_cast<int64_t>(p.stage()), p.error(), static_cast<int64_t>(p.cascaded()), *seq,
         p.warning()});
    return added.status();
  }
  // A warning stays with the job whatever its stage (the next record of the same stage
  // that has none clears it: the cause went away).
  if (p.stage() == Stage::STAGE_RESOLVED || !p.warning().empty()) {
    auto warned = tx.Execute(
        "UPDATE deployment_jobs SET warning = $1, seq = $2 WHERE deployment_id = $3 AND "
        "project = $4 AND job = $5 AND warning <> $1",
        {p.warning(), *seq, p.deployment_id(), p.project(), p.job_name()});
    if (!warned.ok()) return warned.status();
    seq = *seq + 1;
  }
  const auto current = static_cast<Stage>(row->rows[0].Int(0));
  // A job of the deployment that an upstream change sends through the pipeline again: it has
  // more work even when its own spec was unchanged (or its DAG already published).
  const bool again = p.cascaded() &&
                     (current == Stage::STAGE_UNCHANGED || current == Stage::STAGE_PUBLISHED) &&
                     p.stage() != current;
  if (again) {
    return tx
        .Execute(
            "UPDATE deployment_jobs SET stage = $1, error = $2, seq = $3, recompiled = 1 WHERE "
            "deployment_id = $4 AND project = $5 AND job = $6",
            {static_cast<int64_t>(p.stage()), p.error(), *seq, p.deployment_id(), p.project(),
             p.job_name()})
        .status();
  }
  if (Rank(p.stage()) <= Rank(current)) return absl::OkStatus();
  auto moved = tx.Execute(
      "UPDATE deployment_jobs SET stage = $1, error = $2, seq = $3 WHERE deployment_id = $4 "
      "AND project = $5 AND job = $6",
      {static_cast<int64_t>(p.stage()), p.error(), *seq, p.deployment_id(), p.project(),
       p.job_name()});
  return moved.status();
}

absl::StatusOr<core::v1::DeploymentStatus> Status(store::Database& db, const std::string& id,
                                                  int64_t after_seq, int64_t* last_seq) {
  core::v1::DeploymentStatus status;
  absl::Status s = db.InReadTransaction([&](store::Transaction& tx) -> absl::Status {
    auto dep = tx.Execute("SELECT total, sealed, error FROM deployments WHERE id = $1", {id});
    if (!dep.ok()) return dep.status();
    if (dep->rows.empty()) return absl::NotFoundError(absl::StrCat("no deployment ", id));
    status.set_deployment_id(id);
    status.set_total(static_cast<int32_t>(dep->rows[0].Int(0)));
    status.set_error(dep->rows[0].Text(2));
    auto jobs = tx.Execute(
        "SELECT project, namespace, job, stage, error, cascaded, seq, recompiled, warning "
        "FROM deployment_jobs "
        "WHERE deployment_id = $1 ORDER BY seq",
        {id});
    if (!jobs.ok()) return jobs.status();
    bool done = dep->rows[0].Int(1) != 0;
    *last_seq = after_seq;
    for (const auto& r : jobs->rows) {
      const auto stage = static_cast<Stage>(r.Int(3));
      const bool cascaded = r.Int(5) != 0;
      done = done && (IsTerminal(stage) || stage == Stage::STAGE_WAITING);
      if (cascaded) status.set_cascaded(status.cascaded() + 1);
      switch (stage) {
        case Stage::STAGE_ACCEPTED:
          status.set_accepted(status.accepted() + 1);
          break;
        case Stage::STAGE_STORED:
          status.set_stored(status.stored() + 1);
          break;
        case Stage::STAGE_UNCHANGED:
          status.set_unchanged(status.unchanged() + 1);
          break;
        case Stage::STAGE_RESOLVED:
        case Stage::STAGE_COMPILED:
          status.set_resolved(status.resolved() + 1);
          break;
        case Stage::STAGE_PUBLISHED:
          status.set_published(status.published() + 1);
          break;
        case Stage::STAGE_DELETED:
          status.set_deleted(status.deleted() + 1);
          break;
        case Stage::STAGE_FAILED:
          status.set_failed(status.failed() + 1);
          break;
        case Stage::STAGE_WAITING:
          status.set_waiting(status.waiting() + 1);
          break;
        default:
          break;
      }
      if (r.Int(6) > after_seq) {
        auto* c = status.add_changes();
        c->set_project(r.Text(0));
        c->set_namespace_(r.Text(1));
        c->set_job(r.Text(2));
        c->set_stage(stage);
        c->set_error(r.Text(4));
        c->set_cascaded(cascaded);
        c->set_recompiled(r.Int(7) != 0);
        c->set_warning(r.Text(8));
        *last_seq = std::max(*last_seq, r.Int(6));
      }
    }
    status.set_done(done);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return status;
}

}  // namespace optimus::ingest
