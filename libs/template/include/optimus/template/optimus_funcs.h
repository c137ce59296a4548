// The Optimus function map (Date, replace, trunc, date, date_modify, toDate, unixEpoch, list,
// join, dateFrom, dateFromStr) and the compilers Optimus runs templates through.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "optimus/template/template.h"
#include "optimus/template/value.h"

namespace optimus::tmpl {

// What Optimus' Go functions took from the process (time.Local, time.Now()); passed in so
// rendering is deterministic and testable.
struct FuncContext {
  absl::TimeZone zone = absl::UTCTimeZone();  // The server's "Local" zone.
  absl::Time now = absl::UnixEpoch();         // What `date` formats when given a non-time.
};

// The functions of internal/compiler/template_func.go, with Go's argument types checked.
FuncMap OptimusFuncMap(const FuncContext& ctx);

// True for asset files that are partials only (.gtpl .j2 .tmpl .tpl): they are parsed so
// others can include them but are returned verbatim, as Optimus <= v0.5 did.
bool IsPartialAsset(std::string_view filename);

// Renders one text (a config value) with the Optimus functions; the output is trimmed of
// leading and trailing whitespace, like Optimus' compiler.
absl::StatusOr<std::string> CompileString(std::string_view name, std::string_view text,
                                          const Value& data, const FuncContext& ctx);

// Renders a job's asset files in two passes: all files are parsed into one set first, so
// {{template "x.gtpl"}} and {{define}} resolve whatever the order, then each non-partial file
// is executed and trimmed. Partials come back unchanged. Errors name the file.
absl::StatusOr<std::map<std::string, std::string>> CompileAssets(
    const std::map<std::string, std::string>& files, const Value& data, const FuncContext& ctx);

// CompileString and CompileAssets for texts rendered again and again (a job's config and
// assets, for the input of every run): each distinct text is parsed once and kept, and later
// renders only execute it. The functions read the FuncContext of each call. Safe to use from
// many threads. Past `max_entries` texts, or `max_bytes` of text held, it starts afresh.
class TemplateCache {
 public:
  explicit TemplateCache(size_t max_entries = 50000, size_t max_bytes = 64 << 20);
  ~TemplateCache();
  TemplateCache(const TemplateCache&) = delete;
  TemplateCache& operator=(const TemplateCache&) = delete;

  absl::StatusOr<std::string> CompileString(std::string_view name, std::string_view text,
                                            const Value& data, const FuncContext& ctx) const;
  absl::StatusOr<std::map<std::string, std::string>> CompileAssets(
      const std::map<std::string, std::string>& files, const Value& data,
      const FuncContext& ctx) const;

  size_t size() const;

 private:
  struct Entry;
  std::shared_ptr<const Entry> Find(const std::string& key,
                                    const std::function<void(Entry&)>& parse) const;

  const size_t max_entries_;
  const size_t max_bytes_;
  mutable std::shared_mutex mu_;
  mutable size_t bytes_ = 0;  // of the keys, which hold the texts
  mutable std::unordered_map<std::string, std::shared_ptr<const Entry>> entries_;
};

}  // namespace optimus::tmpl
