// Pure loaders: each takes a file's path (for messages) and its content, never touches disk.
//
// Every problem is appended to `diagnostics` (each with file:line:column and field path) and
// loading carries on, so one pass shows them all. nullopt only when the file cannot be read
// as a YAML map at all.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "optimus/spec/diagnostics.h"
#include "optimus/spec/model.h"

namespace optimus::spec {

// job.yaml or this.yaml (same schema). Checks types only: required fields and values are
// checked by ValidateJob after this.yaml inheritance (a child may get its owner from a parent).
std::optional<JobSpec> LoadJobSpec(const std::string& path, const std::string& content,
                                   Diagnostics& diagnostics);

// A StarThinker recipe.json (docs/recipes.md) as a job named `default_name` (its folder's
// name) unless setup.name gives one: setup's timezone, day and hour make its cron, its tasks
// the job's recipe steps. Diagnostics and the job's locations point into the JSON. nullopt
// when the file is not a JSON object.
std::optional<JobSpec> LoadRecipeSpec(const std::string& path, const std::string& content,
                                      const std::string& default_name, Diagnostics& diagnostics);

// optimus.yaml, fully checked (version, host, project name, required project config keys,
// namespace names unique, datastore types, log level).
std::optional<ClientConfig> LoadClientConfig(const std::string& path, const std::string& content,
                                             Diagnostics& diagnostics);

// The server config.yaml, fully checked against what the server needs at start. Environment
// overrides (OPTIMUS_<PATH>) are not applied here: this library does no I/O beyond the file.
std::optional<ServerConfig> LoadServerConfig(const std::string& path, const std::string& content,
                                             Diagnostics& diagnostics);

// The presets file; keys are lower-cased. Window values are checked by ValidatePresets.
std::map<std::string, Preset> LoadPresets(const std::string& path, const std::string& content,
                                          Diagnostics& diagnostics);

// resource.yaml; `datastore` (bigquery | maxcompute | "") selects the name/type rules.
std::optional<ResourceSpec> LoadResourceSpec(const std::string& path, const std::string& content,
                                             const std::string& datastore,
                                             Diagnostics& diagnostics);

// optimus-plugin-<name>.yaml, version 1 or 2, fully checked.
std::optional<PluginSpec> LoadPluginSpec(const std::string& path, const std::string& content,
                                         Diagnostics& diagnostics);

// A flat map of names to scalar values (an answers file of `optimus job create`).
std::optional<StringMap> LoadStringMap(const std::string& path, const std::string& content,
                                       Diagnostics& diagnostics);

}  // namespace optimus::spec
