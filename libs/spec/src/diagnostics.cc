// Formatting and counting of spec diagnostics.
#include "optimus/spec/diagnostics.h"

#include <iterator>

namespace optimus::spec {

std::string Diagnostic::ToString() const {
  std::string out = file;
  if (line > 0) {
    out += ":" + std::to_string(line) + ":" + std::to_string(column);
  }
  out += ": ";
  if (!field_path.empty()) out += field_path + ": ";
  if (severity == Severity::kWarning) out += "warning: ";
  out += message;
  return out;
}

void Diagnostics::Error(const Location& at, std::string_view field_path, std::string message) {
  items_.push_back(Diagnostic{at.file, at.line, at.column, std::string(field_path),
                              std::move(message), Severity::kError});
}

void Diagnostics::Warning(const Location& at, std::string_view field_path, std::string message) {
  items_.push_back(Diagnostic{at.file, at.line, at.column, std::string(field_path),
                              std::move(message), Severity::kWarning});
}

void Diagnostics::Append(Diagnostics&& other) {
  items_.insert(items_.end(), std::make_move_iterator(other.items_.begin()),
                std::make_move_iterator(other.items_.end()));
  other.items_.clear();
}

bool Diagnostics::HasErrors() const { return ErrorCount() > 0; }

int Diagnostics::ErrorCount() const {
  int n = 0;
  for (const auto& d : items_) n += d.severity == Severity::kError ? 1 : 0;
  return n;
}

int Diagnostics::WarningCount() const { return static_cast<int>(items_.size()) - ErrorCount(); }

std::string Diagnostics::ToString() const {
  std::string out;
  for (const auto& d : items_) out += d.ToString() + "\n";
  return out;
}

}  // namespace optimus::spec
