// Numbered schema migrations, applied at start in order and recorded with a checksum.
#pragma once

#include <string>
#include <vector>

#include "optimus/store/database.h"

namespace optimus::store {

struct Migration {
  int version;       // 1, 2, 3 …: strictly increasing within a component.
  std::string name;  // What it does, for the record.
  std::string sql;   // One or more statements separated by ';', with ExpandDialect tokens.
};

// Applies every migration of `component` not yet recorded, each in its own transaction with its
// record. Fails without touching anything when an applied migration's text has changed since
// (its checksum differs) or when versions are not strictly increasing.
absl::Status ApplyMigrations(Database& db, const std::string& component,
                             const std::vector<Migration>& migrations);

// The tables every service gets from libs/store: the outbox and the processed-message log.
const std::vector<Migration>& CoreMigrations();

}  // namespace optimus::store
