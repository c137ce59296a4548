// ingest's read model of registered projects and their namespaces, kept from the compacted
// optimus.projects topic (spec-store is the store of record), for `project` and `namespace`
// listings. Pure of transport.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "optimus/bus/message.h"
#include "optimus/core/v1/deploy.pb.h"
#include "optimus/store/database.h"

namespace optimus::ingest {

// Applies one optimus.projects record (a tombstone forgets the project). InvalidArgument
// (poison) when the payload is not a project record.
absl::Status ApplyProjectRecord(store::Transaction& tx, const bus::Message& message);

// Every project, sorted by name.
absl::StatusOr<std::vector<core::v1::ProjectInfo>> ListProjects(store::Database& db);

// One project; NotFound when the server holds none of that name.
absl::StatusOr<core::v1::ProjectInfo> GetProject(store::Database& db, const std::string& name);

}  // namespace optimus::ingest
