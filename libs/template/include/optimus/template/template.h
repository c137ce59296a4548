// A Go text/template-compatible engine: parse templates into a set, execute them on a Value.
//
//   TemplateSet set(funcs);
//   if (auto s = set.Parse("query.sql", text); !s.ok()) ...   // "template: query.sql:3:14: ..."
//   absl::StatusOr<std::string> out = set.Execute("query.sql", data);
//
// Semantics follow Go's text/template with map[string]interface{} data: missing keys render
// "<no value>", range visits maps in key order, and/or short-circuit and return an operand.
// Positions in messages are line:column, both 1-based (Go gives parse errors only a line).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "optimus/template/value.h"

namespace optimus::tmpl {

// A function callable from templates. The executor checks the argument count against
// [min_args, max_args] (max_args < 0: variadic) with Go's message; the function checks types.
// An error it returns is reported as Go does: `error calling <name>: <message>`.
struct Function {
  std::function<absl::StatusOr<Value>(std::span<const Value> args)> call;
  int min_args = 0;
  int max_args = -1;
};
using FuncMap = std::map<std::string, Function, std::less<>>;

struct ExecuteOptions {
  size_t max_output_bytes = 64 << 20;  // Guards against runaway ranges.
  int max_call_depth = 1000;           // {{template}} nesting (Go allows 100000 on a big stack).
  int64_t max_steps = 100'000'000;     // Nodes executed; bounds loops like {{range 1e9}}.
};

// Named templates that can call each other, plus the functions they may use. Go's builtins
// (and or not len index slice print printf println eq ne lt le gt ge html js urlquery) are
// always present; entries in `funcs` with the same name replace them.
class TemplateSet {
 public:
  explicit TemplateSet(FuncMap funcs = {});
  ~TemplateSet();
  TemplateSet(TemplateSet&&) noexcept;
  TemplateSet& operator=(TemplateSet&&) noexcept;

  // Parses `text` as template `name` and adds every {{define}}/{{block}} it holds. A later
  // definition of a name replaces an earlier one unless the later body is empty (only
  // whitespace), as Go's AddParseTree does; two non-empty definitions in one text are an error.
  absl::Status Parse(std::string_view name, std::string_view text);

  bool Has(std::string_view name) const;
  std::vector<std::string> Names() const;

  absl::StatusOr<std::string> Execute(std::string_view name, const Value& data,
                                      const ExecuteOptions& options = {}) const;

  struct Impl;  // Opaque: the parsed trees and the function table.

 private:
  std::unique_ptr<Impl> impl_;
};

// One parsed template with its own set (the {{define}}s of its text).
class Template {
 public:
  const std::string& name() const { return name_; }
  const TemplateSet& set() const { return *set_; }
  absl::StatusOr<std::string> Execute(const Value& data, const ExecuteOptions& options = {}) const {
    return set_->Execute(name_, data, options);
  }

 private:
  friend absl::StatusOr<Template> Parse(std::string_view, std::string_view, FuncMap);
  std::string name_;
  std::shared_ptr<TemplateSet> set_;
};

absl::StatusOr<Template> Parse(std::string_view name, std::string_view text, FuncMap funcs = {});

inline absl::StatusOr<std::string> Execute(const TemplateSet& set, std::string_view name,
                                           const Value& data) {
  return set.Execute(name, data);
}

}  // namespace optimus::tmpl
