// From a stored job spec and its task plugin to the job's lineage: destination URN from the
// plugin's template over the compiled config, sources from its asset parsers over the assets.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "optimus/dependency_resolver/job_graph.h"
#include "optimus/events/v1/jobs.pb.h"
#include "optimus/spec/model.h"

namespace optimus::dependency_resolver {

struct LineageResult {
  JobLineage lineage;
  std::string task;                // the job's task plugin ("" when the spec does not load)
  std::vector<std::string> hooks;  // its hook plugins
  std::string error;  // why the job cannot be resolved ("" = it can): bad spec, unknown plugin
};

// The projects a project's jobs accept as upstreams by the tables they read (its config
// upstream_projects: names, comma-separated, or "*"), sorted; none for a null project.
std::vector<std::string> UpstreamProjects(const events::v1::ProjectRecord* project);

// `project` may be null (not registered yet): config templates then see no GLOBAL__ values.
// `plugins` by name. Assets kept in the blob store (by reference) are read by the caller and
// given in `blob_assets` by name.
LineageResult LineageOf(const events::v1::JobSpecRecord& record,
                        const events::v1::ProjectRecord* project,
                        const std::map<std::string, spec::PluginSpec>& plugins,
                        const std::map<std::string, std::string>& blob_assets = {});

// The resolution the compiler gets for a job (without deployment id or error): its spec, what
// it writes and reads, its upstreams, what is unknown, its priority weight. `lineage` is null
// when the job has none (its spec did not load).
events::v1::JobResolution BuildResolution(const events::v1::JobSpecRecord& spec,
                                          const JobLineage* lineage, const Resolution& resolution);

// The task config with {{ }} templates rendered against GLOBAL__<KEY> values of the project
// and namespace (config and variables, upper-cased keys; the namespace wins).
std::map<std::string, std::string> CompileConfig(const std::map<std::string, std::string>& config,
                                                 const events::v1::ProjectRecord* project,
                                                 const std::string& namespace_name);

}  // namespace optimus::dependency_resolver
