// Table and JSON forms of spec diagnostics.
#include "diagnostics_output.h"

#include <unistd.h>

#include <iostream>

#include "nlohmann/json.hpp"

namespace optimus::cli {

DiagnosticCounts Count(const std::vector<spec::Diagnostic>& shown) {
  DiagnosticCounts counts;
  for (const auto& d : shown)
    (d.severity == spec::Severity::kError ? counts.errors : counts.warnings)++;
  return counts;
}

void PrintTable(std::ostream& out, const std::vector<spec::Diagnostic>& shown) {
  const bool colour = &out == &std::cout && isatty(1) != 0;
  for (const auto& d : shown) {
    const bool is_error = d.severity == spec::Severity::kError;
    if (colour) out << (is_error ? "\033[31m" : "\033[33m");
    out << (is_error ? "error  " : "warning") << (colour ? "\033[0m" : "") << "  " << d.file << ":"
        << d.line << ":" << d.column << "  " << (d.field_path.empty() ? "-" : d.field_path) << "  "
        << d.message << "\n";
  }
}

void PrintJson(std::ostream& out, const std::vector<spec::Diagnostic>& shown,
               const std::string& what, size_t checked) {
  nlohmann::json problems = nlohmann::json::array();
  for (const auto& d : shown) {
    problems.push_back({{"file", d.file},
                        {"line", d.line},
                        {"column", d.column},
                        {"field", d.field_path},
                        {"severity", d.severity == spec::Severity::kError ? "error" : "warning"},
                        {"message", d.message}});
  }
  const DiagnosticCounts counts = Count(shown);
  out << nlohmann::json{{what, checked},
                        {"errors", counts.errors},
                        {"warnings", counts.warnings},
                        {"problems", problems}}
             .dump(2)
      << "\n";
}

}  // namespace optimus::cli
