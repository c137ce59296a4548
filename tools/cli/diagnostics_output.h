// Prints spec diagnostics the way every validating command does: a table or JSON.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "optimus/spec/diagnostics.h"

namespace optimus::cli {

struct DiagnosticCounts {
  int errors = 0;
  int warnings = 0;
};

DiagnosticCounts Count(const std::vector<spec::Diagnostic>& shown);

// One line per problem: severity, file:line:column, field, message (coloured on a terminal).
void PrintTable(std::ostream& out, const std::vector<spec::Diagnostic>& shown);

// {"<what>": count, "errors": n, "warnings": n, "problems": [{file, line, column, field,
// severity, message}]}
void PrintJson(std::ostream& out, const std::vector<spec::Diagnostic>& shown,
               const std::string& what, size_t checked);

}  // namespace optimus::cli
