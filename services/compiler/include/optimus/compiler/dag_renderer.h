// One Airflow DAG file per job, rendered from the templates under services/compiler/templates
// (compiled into the binary) with our Go-template engine. Pure: spec and lineage in, Python out.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "optimus/events/v1/jobs.pb.h"
#include "optimus/spec/model.h"
#include "optimus/template/value.h"

namespace optimus::compiler {

struct RenderOptions {
  std::string version;         // the Optimus version written into the DAG
  std::string runtime_host;    // runtime-context's base URL the DAG calls back
  std::string run_input_host;  // the gRPC host:port the init container asks for run input
  std::string init_image;      // the image of the init container (runs `optimus job run-input`)
};

// The Airflow template family for a project's SCHEDULER_VERSION: 2 for "2.x" (and unset), 3 for
// "3.x". InvalidArgument for anything else.
absl::StatusOr<int> AirflowMajor(const events::v1::ProjectRecord* project);

// The data the DAG template reads (services/compiler/templates/README.md describes it).
absl::StatusOr<tmpl::Value> DagContext(const events::v1::JobResolution& resolution,
                                       const events::v1::ProjectRecord* project,
                                       const std::map<std::string, spec::PluginSpec>& plugins,
                                       const RenderOptions& options);

// The DAG file of a job.
absl::StatusOr<std::string> RenderDag(const events::v1::JobResolution& resolution,
                                      const events::v1::ProjectRecord* project,
                                      const std::map<std::string, spec::PluginSpec>& plugins,
                                      const RenderOptions& options);

// The DAG template of an Airflow major version (2 or 3) executed on a context of the shape
// DagContext builds (what the golden files under templates/testdata are rendered from).
absl::StatusOr<std::string> RenderDagTemplate(int airflow_major, const tmpl::Value& context);

// dags/__lib.py for an Airflow major version.
const std::string& LibPy(int airflow_major);

// Where a job's DAG goes in the object store: dags/<namespace>/<job>.py.
std::string DagPath(const std::string& namespace_name, const std::string& job);

// `value` as a Python literal (the templates' `py` function): strings double-quoted with
// escapes, true/false as True/False, null as None, lists and maps (keys sorted).
std::string PythonLiteral(const tmpl::Value& value);

}  // namespace optimus::compiler
