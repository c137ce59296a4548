// ingest's read model of registered projects and their namespaces, kept from the compacted
// optimus.projects topic (spec-store is the store of record), for `project` and `namespace`
// listings. Pure of transport.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "optimus/bus/message.h"
#include "optimus/core/v1/deploy.pb.h"
#include "optimus/rpc/auth.h"
#include "optimus/store/database.h"

namespace optimus::ingest {

// Applies one optimus.projects record (a tombstone forgets the project). InvalidArgument
// (poison) when the payload is not a project record.
absl::Status ApplyProjectRecord(store::Transaction& tx, const bus::Message& message);

// Every project, sorted by name.
absl::StatusOr<std::vector<core::v1::ProjectInfo>> ListProjects(store::Database& db);

// Whether the caller (its Authorization header value) may register `project`: a token of that
// project may register it again, as every deploy does; creating one needs an admin token. The
// project's own check comes first, so another project's token learns nothing of whether it
// exists.
absl::Status MayRegisterProject(const rpc::Authenticator* authenticator, std::string_view route,
                                const std::string& project, bool exists,
                                std::string_view authorization);

// One project; NotFound when the server holds none of that name.
absl::StatusOr<core::v1::ProjectInfo> GetProject(store::Database& db, const std::string& name);

}  // namespace optimus::ingest
