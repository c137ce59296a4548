// Catalog tasks (Octavius' job metadata): definitions admins register and anyone with a
// project's token may run with arguments.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "optimus/core/v1/dispatch.pb.h"
#include "optimus/dispatcher/execution_store.h"
#include "optimus/store/database.h"
#include "optimus/store/migrations.h"

namespace optimus::dispatcher {

class Catalog {
 public:
  explicit Catalog(store::Database& db) : db_(db) {}

  static store::Migration Migration(int version);

  // InvalidArgument naming what is wrong with the definition; AlreadyExists unless `replace`.
  absl::StatusOr<core::v1::CatalogTask> Create(core::v1::CatalogTask task, bool replace,
                                               int64_t now_ms);
  absl::StatusOr<core::v1::CatalogTask> Get(const std::string& name);
  static absl::StatusOr<core::v1::CatalogTask> GetIn(store::Transaction& tx,
                                                     const std::string& name);
  absl::StatusOr<std::vector<core::v1::CatalogTask>> List();

  // The execution of `task` with `args` for `project`: InvalidArgument for a missing required
  // or an unknown argument (naming them, with the ones the task takes).
  static absl::StatusOr<NewExecution> ExecutionOf(const core::v1::CatalogTask& task,
                                                  const std::string& project,
                                                  const std::map<std::string, std::string>& args);

  // Checks a definition (names, a script or image, unique argument names).
  static absl::Status Check(const core::v1::CatalogTask& task);

 private:
  store::Database& db_;
};

}  // namespace optimus::dispatcher
