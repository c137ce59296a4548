// Resource names (URNs) that connect a job's sources to another job's destination.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "optimus/lineage/sql_tables.h"

namespace optimus::lineage {

// Fills `<KEY>` placeholders of a plugin's destination_urn_template from the compiled task
// config: "bigquery://<PROJECT>:<DATASET>.<TABLE>" -> "bigquery://p:d.t". A placeholder whose
// key is missing or empty is an error naming it.
absl::StatusOr<std::string> RenderUrnTemplate(std::string_view urn_template,
                                              const std::map<std::string, std::string>& config);

// The URN of a table read by a query, for the parser kind of asset_parsers ("bq" or
// "maxcompute"). BigQuery: project.dataset.table -> "bigquery://project:dataset.table";
// dataset.table takes `default_project` (the job's PROJECT config). MaxCompute:
// "maxcompute://project.schema.table" (two parts: project.table). SQLite (sqlite2sqlite):
// schema.table -> "sqlite://schema.table". PostgreSQL (pg2pg): [database.]schema.table ->
// "postgresql://schema.table". nullopt when the path has too few parts to name a table.
std::optional<std::string> TableUrn(std::string_view parser, const TableRef& table,
                                    std::string_view default_project);

}  // namespace optimus::lineage
