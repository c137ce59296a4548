// Catalog task definitions and the executions they make (see catalog.h).
#include "optimus/dispatcher/catalog.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

namespace optimus::dispatcher {

store::Migration Catalog::Migration(int version) {
  return {version, "catalog tasks",
          "CREATE TABLE catalog_tasks (name TEXT PRIMARY KEY, record ${BLOB} NOT NULL, version "
          "BIGINT NOT NULL)"};
}

absl::Status Catalog::Check(const core::v1::CatalogTask& task) {
  if (absl::Status s = CheckName("task name", task.name()); !s.ok()) return s;
  if (task.script().empty() && task.image().empty()) {
    return absl::InvalidArgumentError("task " + task.name() +
                                      " needs a script (local runner) or an image (Kubernetes)");
  }
  if (task.timeout_seconds() < 0) {
    return absl::InvalidArgumentError("task " + task.name() + ": timeout_seconds is negative");
  }
  if (!task.pool().empty()) {
    if (absl::Status s = CheckName("pool", task.pool()); !s.ok()) return s;
  }
  std::set<std::string> seen;
  for (const auto& arg : task.arguments()) {
    if (absl::Status s = CheckName("argument", arg.name()); !s.ok()) {
      return absl::InvalidArgumentError("task " + task.name() + ": " + std::string(s.message()));
    }
    if (!seen.insert(absl::AsciiStrToUpper(arg.name())).second) {
      return absl::InvalidArgumentError("task " + task.name() + ": argument " + arg.name() +
                                        " is declared twice");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<core::v1::CatalogTask> Catalog::Create(core::v1::CatalogTask task, bool replace,
                                                      int64_t now_ms) {
  if (absl::Status s = Check(task); !s.ok()) return s;
  absl::Status s = db_.InTransaction([&](store::Transaction& tx) -> absl::Status {
    auto old = tx.Execute("SELECT version FROM catalog_tasks WHERE name = $1", {task.name()});
    if (!old.ok()) return old.status();
    if (!old->rows.empty() && !replace) {
      return absl::AlreadyExistsError("task " + task.name() +
                                      " exists already (replace it with --replace)");
    }
    task.set_version(old->rows.empty() ? 1 : old->rows[0].Int(0) + 1);
    *task.mutable_created_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(now_ms);
    return tx
        .Execute(
            "INSERT INTO catalog_tasks (name, record, version) VALUES ($1, $2, $3) ON CONFLICT "
            "(name) DO UPDATE SET record = excluded.record, version = excluded.version",
            {task.name(), store::Blob{task.SerializeAsString()}, task.version()})
        .status();
  });
  if (!s.ok()) return s;
  return task;
}

absl::StatusOr<core::v1::CatalogTask> Catalog::Get(const std::string& name) {
  absl::StatusOr<core::v1::CatalogTask> out;
  absl::Status s = db_.InReadTransaction([&](store::Transaction& tx) -> absl::Status {
    out = GetIn(tx, name);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<core::v1::CatalogTask> Catalog::GetIn(store::Transaction& tx,
                                                     const std::string& name) {
  auto rows = tx.Execute("SELECT record FROM catalog_tasks WHERE name = $1", {name});
  if (!rows.ok()) return rows.status();
  if (rows->rows.empty()) {
    return absl::NotFoundError("no catalog task " + name + " (`optimus task list` shows them)");
  }
  core::v1::CatalogTask task;
  task.ParseFromString(rows->rows[0].Text(0));
  return task;
}

absl::StatusOr<std::vector<core::v1::CatalogTask>> Catalog::List() {
  auto rows = db_.Execute("SELECT record FROM catalog_tasks ORDER BY name");
  if (!rows.ok()) return rows.status();
  std::vector<core::v1::CatalogTask> out;
  for (const auto& row : rows->rows) out.emplace_back().ParseFromString(row.Text(0));
  return out;
}

absl::StatusOr<NewExecution> Catalog::ExecutionOf(const core::v1::CatalogTask& task,
                                                  const std::string& project,
                                                  const std::map<std::string, std::string>& args) {
  std::vector<ArgumentSpec> specs;
  for (const auto& a : task.arguments()) {
    specs.push_back(
        {.name = a.name(), .required = a.required(), .default_value = a.default_value()});
  }
  auto env = CheckArguments(task.name(), specs, args);
  if (!env.ok()) return env.status();
  NewExecution out;
  out.kind = "task";
  out.project = project;
  out.name = task.name();
  out.pool = task.pool();
  out.args = args;
  out.timeout_ms = task.timeout_seconds() * 1000;
  core::v1::ExecutionStep* step = out.plan.add_steps();
  step->set_kind(core::v1::ExecutionStep::KIND_TASK);
  step->set_name(task.name());
  step->set_image(task.image());
  step->set_shell(task.shell());
  step->set_script(task.script());
  step->mutable_env()->insert(env->begin(), env->end());
  (*step->mutable_env())["PROJECT"] = project;
  (*step->mutable_env())["TASK_NAME"] = task.name();
  out.plan.set_timeout_seconds(task.timeout_seconds());
  return out;
}

}  // namespace optimus::dispatcher
