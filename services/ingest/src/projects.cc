// Projects as spec-store last published them: one row per project with its record.
#include "optimus/ingest/projects.h"

#include "optimus/events/v1/jobs.pb.h"
#include "optimus/pipeline/pipeline.h"

namespace optimus::ingest {
namespace {

core::v1::ProjectInfo ToInfo(const events::v1::ProjectRecord& record) {
  core::v1::ProjectInfo info;
  info.set_name(record.name());
  *info.mutable_config() = record.config();
  *info.mutable_variables() = record.variables();
  info.set_version(record.version());
  for (const auto& ns : record.namespaces()) {
    auto* n = info.add_namespaces();
    n->set_name(ns.name());
    *n->mutable_config() = ns.config();
    *n->mutable_variables() = ns.variables();
  }
  return info;
}

absl::StatusOr<core::v1::ProjectInfo> Parse(const std::string& bytes) {
  events::v1::ProjectRecord record;
  if (!record.ParseFromString(bytes)) {
    return absl::DataLossError("a stored project record does not parse");
  }
  return ToInfo(record);
}

}  // namespace

absl::Status ApplyProjectRecord(store::Transaction& tx, const bus::Message& message) {
  if (message.tombstone) {
    return tx.Execute("DELETE FROM projects WHERE name = $1", {message.key}).status();
  }
  auto record = pipeline::ParseRecord<events::v1::ProjectRecord>(message);
  if (!record.ok()) return record.status();
  if (record->name().empty()) return absl::InvalidArgumentError("a project record without a name");
  // Records of one project arrive in order (one key, one partition); a replay is the same.
  return pipeline::SaveRecord(tx, "projects", "name", record->name(), message.payload);
}

absl::StatusOr<std::vector<core::v1::ProjectInfo>> ListProjects(store::Database& db) {
  auto rows = db.Execute("SELECT record FROM projects ORDER BY name");
  if (!rows.ok()) return rows.status();
  std::vector<core::v1::ProjectInfo> out;
  for (const auto& r : rows->rows) {
    auto info = Parse(r.Text(0));
    if (!info.ok()) return info.status();
    out.push_back(*std::move(info));
  }
  return out;
}

absl::StatusOr<core::v1::ProjectInfo> GetProject(store::Database& db, const std::string& name) {
  auto rows = db.Execute("SELECT record FROM projects WHERE name = $1", {name});
  if (!rows.ok()) return rows.status();
  if (rows->rows.empty()) {
    return absl::NotFoundError("project " + name + " is not registered (optimus project register)");
  }
  return Parse(rows->rows[0].Text(0));
}

absl::Status MayRegisterProject(const rpc::Authenticator* authenticator, std::string_view route,
                                const std::string& project, bool exists,
                                std::string_view authorization) {
  for (rpc::Access access : {rpc::Access::kProject, rpc::Access::kAdmin}) {
    if (access == rpc::Access::kAdmin && exists) break;
    auto allowed = rpc::Authorize(
        authenticator, {.route = route, .project = project, .access = access}, authorization);
    if (!allowed.ok()) return allowed.status();
  }
  return absl::OkStatus();
}

}  // namespace optimus::ingest
