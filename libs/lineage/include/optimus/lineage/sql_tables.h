// Which tables a BigQuery-style SQL script reads: the source half of dependency inference.
//
// A hand-written lexer and a one-pass scanner, not a regular expression: comments, strings
// (all quote forms, raw and triple-quoted) and backtick identifiers are skipped or read whole,
// so a table name inside a string or a comment never counts, and `FROM` inside EXTRACT(...)
// never starts a table list.
//
// Counted: every table path after FROM, JOIN, USING (of MERGE) and each comma of a FROM list,
// at any subquery depth. Not counted: CTE names (WITH x AS ...), UNNEST(...) and other
// table-valued functions, correlated array paths (`FROM t, t.items`), targets of INSERT, MERGE,
// UPDATE, DELETE, CREATE, TRUNCATE and DROP, and tables preceded by a comment containing
// `@ignoreupstream` (reported separately).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace optimus::lineage {

// A table path as written, split on dots, backticks removed: 1 to 3 parts.
struct TableRef {
  std::vector<std::string> parts;

  std::string ToString() const;  // parts joined with '.'
  bool operator<(const TableRef& other) const { return parts < other.parts; }
  bool operator==(const TableRef& other) const { return parts == other.parts; }
};

struct SqlTables {
  std::vector<TableRef> sources;  // sorted, unique
  std::vector<TableRef> ignored;  // marked @ignoreupstream; sorted, unique
  std::vector<TableRef> targets;  // written by the script (INSERT, MERGE, CREATE, ...)
};

SqlTables ExtractSqlTables(std::string_view sql);

}  // namespace optimus::lineage
