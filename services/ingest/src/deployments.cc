// Deployment rows: one per deployment, one per job with its stage and a change sequence.
#include "optimus/ingest/deployments.h"

#include <algorithm>
#include <map>
#include <tuple>

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
  // In a few statements: a round trip per job made the Deploy call wait on a remote database.
  std::vector<std::vector<store::Value>> rows;
  rows.reserve(jobs.size());
  for (const auto& j : jobs) {
    rows.push_back({id, project, namespace_name, j.job(), static_cast<int64_t>(j.stage()),
                    j.error(), int64_t{0}, (*seq)++});
  }
  return store::ExecuteValues(
      tx,
      "INSERT INTO deployment_jobs (deployment_id, project, namespace, job, stage, error, "
      "cascaded, seq)",
      rows);
}

absl::Status ApplyProgress(store::Transaction& tx, const events::v1::DeploymentProgress& p) {
  return ApplyProgress(tx, std::vector<events::v1::DeploymentProgress>{p});
}

absl::Status ApplyProgress(store::Transaction& tx,
                           const std::vector<events::v1::DeploymentProgress>& records) {
  // A batch is applied in memory over the rows it touches, then written in a few statements:
  // a large deploy sends several records per job, and a round trip each would make ingest the
  // slowest stage on a remote database.
  struct JobRow {
    std::string deployment_id, project, namespace_name, job;
    Stage stage = Stage::STAGE_UNSPECIFIED;
    std::string error, warning;
    bool cascaded = false, recompiled = false;
    int64_t seq = 0;  // 0: unchanged by this batch
  };
  std::map<std::string, bool> deployments;  // id -> known
  for (const auto& p : records) deployments.emplace(p.deployment_id(), false);
  std::map<std::tuple<std::string, std::string, std::string>, JobRow> rows;
  for (auto& [id, known] : deployments) {
    auto found = tx.Execute("SELECT 1 FROM deployments WHERE id = $1", {id});
    if (!found.ok()) return found.status();
    known = !found->rows.empty();  // unknown: another ingest's, or pruned
    if (!known) continue;
    auto jobs = tx.Execute(
        "SELECT project, namespace, job, stage, error, warning, cascaded, recompiled FROM "
        "deployment_jobs WHERE deployment_id = $1",
        {id});
    if (!jobs.ok()) return jobs.status();
    for (const auto& r : jobs->rows) {
      rows[{id, r.Text(0), r.Text(2)}] =
          JobRow{id,        r.Text(0), r.Text(1),     r.Text(2),     static_cast<Stage>(r.Int(3)),
                 r.Text(4), r.Text(5), r.Int(6) != 0, r.Int(7) != 0, 0};
    }
  }
  auto seq = NextSeq(tx);
  if (!seq.ok()) return seq.status();
  int64_t next = *seq;
  for (const auto& p : records) {
    if (!deployments[p.deployment_id()]) continue;
    if (p.job_name().empty()) {
      // spec-store has taken in the whole deployment (its sealed record, or the project), or
      // refused it as a whole.
      const std::string error = p.stage() == Stage::STAGE_FAILED ? p.error() : "";
      auto sealed = tx.Execute("UPDATE deployments SET sealed = 1, error = $2 WHERE id = $1",
                               {p.deployment_id(), error});
      if (!sealed.ok()) return sealed.status();
      continue;
    }
    auto [it, fresh] = rows.try_emplace({p.deployment_id(), p.project(), p.job_name()});
    JobRow& row = it->second;
    if (fresh) {  // deletions found by spec-store, jobs cascaded by the resolver
      row = JobRow{p.deployment_id(), p.project(), p.namespace_(), p.job_name(), p.stage(),
                   p.error(),         p.warning(), p.cascaded(),   p.cascaded(), next++};
      continue;
    }
    // A warning stays with the job whatever its stage (the next record of the same stage that
    // has none clears it: the cause went away).
    if ((p.stage() == Stage::STAGE_RESOLVED || !p.warning().empty()) &&
        row.warning != p.warning()) {
      row.warning = p.warning();
      row.seq = next++;
    }
    // A job of the deployment that an upstream change sends through the pipeline again: it has
    // more work even when its own spec was unchanged (or its DAG already published).
    const bool again =
        p.cascaded() &&
        (row.stage == Stage::STAGE_UNCHANGED || row.stage == Stage::STAGE_PUBLISHED) &&
        p.stage() != row.stage;
    if (again) {
      row.recompiled = true;
    } else if (Rank(p.stage()) <= Rank(row.stage)) {
      continue;
    }
    row.stage = p.stage();
    row.error = p.error();
    row.seq = next++;
  }
  // The changed rows in the order they changed, in chunked upserts.
  std::vector<const JobRow*> changed;
  for (const auto& [key, row] : rows) {
    if (row.seq != 0) changed.push_back(&row);
  }
  std::sort(changed.begin(), changed.end(),
            [](const JobRow* a, const JobRow* b) { return a->seq < b->seq; });
  std::vector<std::vector<store::Value>> values;
  values.reserve(changed.size());
  for (const JobRow* r : changed) {
    values.push_back({r->deployment_id, r->project, r->namespace_name, r->job,
                      static_cast<int64_t>(r->stage), r->error, static_cast<int64_t>(r->cascaded),
                      r->seq, static_cast<int64_t>(r->recompiled), r->warning});
  }
  return store::ExecuteValues(
      tx,
      "INSERT INTO deployment_jobs (deployment_id, project, namespace, job, stage, error, "
      "cascaded, seq, recompiled, warning)",
      values,
      "ON CONFLICT (deployment_id, project, job) DO UPDATE SET stage = excluded.stage, error = "
      "excluded.error, seq = excluded.seq, recompiled = excluded.recompiled, warning = "
      "excluded.warning");
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
    // The counts in one grouped pass inside SQLite, then only the rows changed since the
    // watcher's last read: watchers of a large deploy re-read often, and materialising every
    // row of every deployment each time cost the server a twentieth of a deploy's CPU.
    auto counts = tx.Execute(
        "SELECT stage, cascaded, COUNT(*) FROM deployment_jobs WHERE deployment_id = $1 "
        "GROUP BY stage, cascaded",
        {id});
    if (!counts.ok()) return counts.status();
    bool done = dep->rows[0].Int(1) != 0;
    for (const auto& r : counts->rows) {
      const auto stage = static_cast<Stage>(r.Int(0));
      const auto n = static_cast<int32_t>(r.Int(2));
      done = done && (IsTerminal(stage) || stage == Stage::STAGE_WAITING);
      if (r.Int(1) != 0) status.set_cascaded(status.cascaded() + n);
      switch (stage) {
        case Stage::STAGE_ACCEPTED:
          status.set_accepted(status.accepted() + n);
          break;
        case Stage::STAGE_STORED:
          status.set_stored(status.stored() + n);
          break;
        case Stage::STAGE_UNCHANGED:
          status.set_unchanged(status.unchanged() + n);
          break;
        case Stage::STAGE_RESOLVED:
        case Stage::STAGE_COMPILED:
          status.set_resolved(status.resolved() + n);
          break;
        case Stage::STAGE_PUBLISHED:
          status.set_published(status.published() + n);
          break;
        case Stage::STAGE_DELETED:
          status.set_deleted(status.deleted() + n);
          break;
        case Stage::STAGE_FAILED:
          status.set_failed(status.failed() + n);
          break;
        case Stage::STAGE_WAITING:
          status.set_waiting(status.waiting() + n);
          break;
        default:
          break;
      }
    }
    auto jobs = tx.Execute(
        "SELECT project, namespace, job, stage, error, cascaded, seq, recompiled, warning "
        "FROM deployment_jobs WHERE deployment_id = $1 AND seq > $2 ORDER BY seq",
        {id, after_seq});
    if (!jobs.ok()) return jobs.status();
    *last_seq = after_seq;
    for (const auto& r : jobs->rows) {
      auto* c = status.add_changes();
      c->set_project(r.Text(0));
      c->set_namespace_(r.Text(1));
      c->set_job(r.Text(2));
      c->set_stage(static_cast<Stage>(r.Int(3)));
      c->set_error(r.Text(4));
      c->set_cascaded(r.Int(5) != 0);
      c->set_recompiled(r.Int(7) != 0);
      c->set_warning(r.Text(8));
      *last_seq = std::max(*last_seq, r.Int(6));
    }
    status.set_done(done);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return status;
}

absl::StatusOr<std::string> DeploymentProject(store::Database& db, const std::string& id) {
  auto row = db.Execute("SELECT project FROM deployments WHERE id = $1", {id});
  if (!row.ok()) return row.status();
  if (row->rows.empty()) return absl::NotFoundError("no deployment " + id + " on this server");
  return row->rows[0].Text(0);
}

}  // namespace optimus::ingest
