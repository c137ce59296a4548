// The production adapter of Database: PostgreSQL through libpqxx, one schema per service.
#pragma once

#include <memory>
#include <string>

#include "optimus/store/database.h"

namespace optimus::store {

struct PostgresOptions {
  std::string dsn;     // libpq connection string, e.g. "host=127.0.0.1 port=5432 user=optimus".
  std::string schema;  // Created if missing; every connection's search_path.
  int pool_size = 4;
  int connect_timeout_s = 5;
};

// The DSN with its password replaced by ***, for messages and logs.
std::string RedactedDsn(const std::string& dsn);

// Fails with one line naming the server address when PostgreSQL cannot be reached.
absl::StatusOr<std::unique_ptr<Database>> OpenPostgres(const PostgresOptions& options);

}  // namespace optimus::store
