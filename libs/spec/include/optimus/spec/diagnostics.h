// Collects every problem found while loading and validating spec files, each with its place.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace optimus::spec {

// A place in a spec file; line and column are 1-based, 0 means "the file as a whole".
struct Location {
  std::string file;
  int line = 0;
  int column = 0;
};

enum class Severity { kError, kWarning };

struct Diagnostic {
  std::string file;
  int line = 0;
  int column = 0;
  std::string field_path;  // Like "task.window.size" or "hooks[1].name"; "" for the whole file.
  std::string message;
  Severity severity = Severity::kError;

  // "jobs/ns1/job-a/job.yaml:12:7: task.window.size: invalid size ..." (warnings say so).
  std::string ToString() const;
};

// Loaders and validators append here and carry on, so a user sees all problems in one pass.
class Diagnostics {
 public:
  void Add(Diagnostic diagnostic) { items_.push_back(std::move(diagnostic)); }
  void Error(const Location& at, std::string_view field_path, std::string message);
  void Warning(const Location& at, std::string_view field_path, std::string message);
  // Moves every item of `other` to the end of this list, keeping their order.
  void Append(Diagnostics&& other);

  const std::vector<Diagnostic>& items() const { return items_; }
  bool HasErrors() const;
  int ErrorCount() const;
  int WarningCount() const;
  bool empty() const { return items_.empty(); }
  // One diagnostic per line, in the order they were found.
  std::string ToString() const;

 private:
  std::vector<Diagnostic> items_;
};

}  // namespace optimus::spec
