// URN templates and table URNs.
#include "optimus/lineage/urn.h"

#include "absl/strings/str_cat.h"

namespace optimus::lineage {

absl::StatusOr<std::string> RenderUrnTemplate(std::string_view urn_template,
                                              const std::map<std::string, std::string>& config) {
  std::string out;
  size_t i = 0;
  while (i < urn_template.size()) {
    const size_t open = urn_template.find('<', i);
    if (open == std::string_view::npos) {
      out.append(urn_template.substr(i));
      break;
    }
    const size_t close = urn_template.find('>', open + 1);
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("destination_urn_template \"",
                                                     std::string(urn_template), "\": '<' at ",
                                                     open + 1, " is never closed"));
    }
    out.append(urn_template.substr(i, open - i));
    const std::string key(urn_template.substr(open + 1, close - open - 1));
    auto it = config.find(key);
    if (it == config.end() || it->second.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "destination_urn_template \"", std::string(urn_template), "\" needs task config ", key,
          it == config.end() ? ", which the job does not set" : ", which is empty"));
    }
    out.append(it->second);
    i = close + 1;
  }
  return out;
}

std::optional<std::string> TableUrn(std::string_view parser, const TableRef& table,
                                    std::string_view default_project) {
  const auto& p = table.parts;
  if (parser == "maxcompute") {
    if (p.size() == 3) return absl::StrCat("maxcompute://", p[0], ".", p[1], ".", p[2]);
    if (p.size() == 2) return absl::StrCat("maxcompute://", p[0], ".", p[1]);
    return std::nullopt;
  }
  if (parser == "sqlite") {
    // schema.table: the table of the database attached as `schema`.
    if (p.size() == 2) return absl::StrCat("sqlite://", p[0], ".", p[1]);
    return std::nullopt;
  }
  if (parser == "postgres") {
    // PostgreSQL reads only its own database: database.schema.table names schema.table.
    if (p.size() == 2) return absl::StrCat("postgresql://", p[0], ".", p[1]);
    if (p.size() == 3) return absl::StrCat("postgresql://", p[1], ".", p[2]);
    return std::nullopt;
  }
  if (p.size() == 3) return absl::StrCat("bigquery://", p[0], ":", p[1], ".", p[2]);
  if (p.size() == 2 && !default_project.empty()) {
    return absl::StrCat("bigquery://", std::string(default_project), ":", p[0], ".", p[1]);
  }
  return std::nullopt;
}

}  // namespace optimus::lineage
