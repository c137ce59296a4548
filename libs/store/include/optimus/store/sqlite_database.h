// The embedded adapter of Database: one SQLite file in WAL mode.
#pragma once

#include <memory>
#include <string>

#include "optimus/store/database.h"

namespace optimus::store {

struct SqliteOptions {
  std::string path;              // File path, or ":memory:".
  bool synchronous_full = true;  // fsync every commit: nothing is lost even on power failure.
  int busy_timeout_ms = 10000;   // How long a writer waits for another process's lock.
  int readers = 2;               // Read-only connections of a file, for InReadTransaction.
};

absl::StatusOr<std::unique_ptr<Database>> OpenSqlite(const SqliteOptions& options);

}  // namespace optimus::store
