// Chooses the Database adapter from a URI.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "optimus/store/database.h"
#include "optimus/store/postgres_database.h"
#include "optimus/store/sqlite_database.h"

namespace optimus::store {

absl::StatusOr<std::unique_ptr<Database>> OpenDatabase(const std::string& uri,
                                                       const std::string& schema) {
  if (absl::StartsWith(uri, "sqlite:")) {
    const std::string path = uri.substr(7);
    if (path.empty()) return absl::InvalidArgumentError("database URI 'sqlite:' has no path");
    return OpenSqlite({.path = path});
  }
  if (absl::StartsWith(uri, "postgresql://") || absl::StartsWith(uri, "postgres://")) {
    return OpenPostgres({.dsn = uri, .schema = schema});
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "database URI '", uri, "' is neither sqlite:<path> nor postgresql://user@host:port/db"));
}

}  // namespace optimus::store
