// The only I/O of libs/spec: walks a project folder and feeds the files to the pure loaders.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "optimus/spec/diagnostics.h"
#include "optimus/spec/model.h"
#include "optimus/spec/validate.h"

namespace optimus::spec {

// Paths in diagnostics and in JobSpec::file are relative to `display_base` when it is set.
struct ReadOptions {
  std::filesystem::path display_base;
};

// Every directory under `job_root` (recursive) holding a file whose name ends with
// "job.yaml", or with "recipe.json" (a StarThinker recipe, LoadRecipeSpec), is a job; a
// job.yaml wins over a recipe in the same folder. Its this.yaml files (its own dir and each
// ancestor up to job_root) are merged nearest first, and every file under <jobdir>/assets/
// (recursive) becomes an asset keyed by its path relative to assets/. Sorted by directory.
std::vector<JobSpec> ReadJobs(const std::filesystem::path& job_root,
                              const std::string& namespace_name, const ReadOptions& options,
                              Diagnostics& diagnostics);

// One job: the *job.yaml (or *recipe.json) in `job_dir`, merged with the this.yaml files of
// `job_dir` and each ancestor up to and including `job_root` (which must contain job_dir; empty:
// job_dir only), and its assets. nullopt when there is no job spec there or it cannot be read.
std::optional<JobSpec> ReadJobAt(const std::filesystem::path& job_dir,
                                 const std::filesystem::path& job_root, const ReadOptions& options,
                                 Diagnostics& diagnostics);

// Every resource.yaml under `root` (recursive).
std::vector<ResourceSpec> ReadResources(const std::filesystem::path& root,
                                        const std::string& namespace_name,
                                        const std::string& datastore, const ReadOptions& options,
                                        Diagnostics& diagnostics);

// Files named optimus-plugin-*.yaml directly in each dir, in order; the first plugin of a
// name wins and a later one with the same name is an error.
std::vector<PluginSpec> ReadPlugins(const std::vector<std::filesystem::path>& dirs,
                                    const ReadOptions& options, Diagnostics& diagnostics);

struct Project {
  ClientConfig config;
  std::map<std::string, Preset> presets;
  std::vector<JobSpec> jobs;  // all namespaces
  std::vector<ResourceSpec> resources;
};

// Only some jobs of one namespace (`optimus job deploy -n NS -J A,B`): the other namespaces,
// the resources and the other jobs' assets are not read, and a job.yaml whose top-level name
// is plain text names another job without being parsed.
struct JobSelection {
  std::string namespace_name;
  std::set<std::string> names;
};

// Reads <project_dir>/<config_file>, its presets, and the jobs and resources of every
// namespace (paths in the config are relative to project_dir), or only the `only` jobs.
// Diagnostics name files relative to project_dir.
std::optional<Project> ReadProject(const std::filesystem::path& project_dir,
                                   const std::string& config_file, Diagnostics& diagnostics,
                                   const JobSelection* only = nullptr);

// The top-level `name:` of a job.yaml when it is plain text on its own line (no anchor, alias,
// flow or block scalar), found without parsing; nullopt otherwise.
std::optional<std::string> PlainJobName(std::string_view yaml);

// ValidateJob for every job, ValidatePresets, and CheckUniqueJobNames across namespaces.
// `plugins` (by name), when given, also checks what each task plugin needs of its jobs.
void ValidateProject(const Project& project, const std::set<std::string>* known_plugins,
                     const ValidationHooks& hooks, Diagnostics& diagnostics,
                     const std::map<std::string, PluginSpec>* plugins = nullptr);

// The whole content of a file, or nullopt with a diagnostic.
std::optional<std::string> ReadFile(const std::filesystem::path& path, const std::string& shown,
                                    Diagnostics& diagnostics);

}  // namespace optimus::spec
