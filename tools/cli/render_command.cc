// `optimus job render JOB`: the job's Airflow DAG, made here the way the server makes it. The
// project is read and resolved locally (every job's destination and sources through its task
// plugin, then the job graph), so the DAG has the upstream sensors a deploy would give it.
#include "render_command.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "deploy_command.h"
#include "flags.h"
#include "optimus/compiler/dag_renderer.h"
#include "optimus/dependency_resolver/job_graph.h"
#include "optimus/dependency_resolver/lineage_of.h"
#include "optimus/spec/project_reader.h"
#include "optimus/spec/schedule_hooks.h"
#include "optimus/spec/writer.h"
#include "optimus/telemetry/metrics.h"

namespace optimus::cli {
namespace {

namespace fs = std::filesystem;

constexpr char kHelp[] =
    "Usage: optimus job render JOB [flags]\n\n"
    "Writes the Airflow DAG the server would compile for JOB, without deploying anything: the\n"
    "project's jobs are read and resolved here (upstreams inferred from their SQL and named in\n"
    "their dependencies), with the task plugins of --plugins. Upstreams in other projects are\n"
    "known only when a dependency names them.\n\n"
    "Flags:\n"
    "  -d, --dir DIR          project folder (default: .)\n"
    "  -c, --config FILE      client config inside it (default: optimus.yaml)\n"
    "  -n, --namespace NAME   the job's namespace (default: any namespace with that job)\n"
    "      --plugins DIR      folder of optimus-plugin-*.yaml files (repeatable; default:\n"
    "                         DIR/.plugins)\n"
    "      --out-dir DIR      where <namespace>/<job>.py and __lib.py go (default: DIR/render)\n"
    "      --stdout           print the DAG instead of writing files\n"
    "      --runtime-host URL runtime-context's base URL written into the DAG (default:\n"
    "                         http://localhost:8080)\n\n"
    "Exit status: 0 rendered, 1 the job is unknown, broken or cannot be resolved, 2 bad flags.\n";

// The project as the server would hold it: what `optimus deploy` registers (presets file read
// from `dir`), with config keys upper-cased as spec-store keeps them.
events::v1::ProjectRecord ProjectRecordOf(const spec::Project& project, const fs::path& dir) {
  const core::v1::RegisterProjectRequest request = ProjectRequest(project.config, dir, true);
  events::v1::ProjectRecord r;
  r.set_name(request.name());
  for (const auto& [k, v] : request.config()) (*r.mutable_config())[absl::AsciiStrToUpper(k)] = v;
  *r.mutable_variables() = request.variables();
  for (const auto& ns : request.namespaces()) {
    auto* n = r.add_namespaces();
    n->set_name(ns.name());
    for (const auto& [k, v] : ns.config()) (*n->mutable_config())[absl::AsciiStrToUpper(k)] = v;
    *n->mutable_variables() = ns.variables();
  }
  r.set_presets_yaml(request.presets_yaml());
  return r;
}

events::v1::JobSpecRecord SpecRecordOf(const spec::JobSpec& job, const std::string& project) {
  events::v1::JobSpecRecord r;
  r.set_project(project);
  r.set_namespace_(job.namespace_name);
  r.set_name(job.name);
  r.set_version(1);
  r.set_spec_yaml(spec::WriteJobSpec(job));
  for (const auto& [name, content] : job.assets) {
    auto* a = r.add_assets();
    a->set_name(name);
    a->set_inline_(content);
  }
  return r;
}

}  // namespace

int RunJobRenderCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  const std::string command = "optimus job render";
  std::string dir = ".", config = "optimus.yaml", ns, out_dir,
              runtime_host = "http://localhost:8080";
  std::vector<std::string> plugin_dirs;
  bool to_stdout = false;
  Flags flags(command);
  flags.String("dir", 'd', &dir);
  flags.String("config", 'c', &config);
  flags.String("namespace", 'n', &ns);
  flags.List("plugins", 0, &plugin_dirs);
  flags.String("out-dir", 0, &out_dir);
  flags.Bool("stdout", 0, &to_stdout);
  flags.String("runtime-host", 0, &runtime_host);
  if (auto code = flags.ParseCommand(argc, argv, kHelp, out, err, 1)) return *code;
  if (flags.positional().size() != 1) {
    err << command << ": name the job: optimus job render JOB\n";
    return 2;
  }
  const std::string& wanted = flags.positional()[0];
  spec::Diagnostics diagnostics;
  auto project = spec::ReadProject(dir, config, diagnostics);
  if (!project) {
    err << command << ": cannot read the project in " << dir << ":\n" << diagnostics.ToString();
    return 2;
  }
  std::vector<fs::path> plugin_paths(plugin_dirs.begin(), plugin_dirs.end());
  if (plugin_paths.empty()) plugin_paths.push_back(fs::path(dir) / ".plugins");
  std::map<std::string, spec::PluginSpec> plugins;
  for (auto& p : spec::ReadPlugins(plugin_paths, {fs::path(dir)}, diagnostics)) {
    plugins.emplace(p.name, std::move(p));
  }
  const spec::JobSpec* job = nullptr;
  for (const auto& j : project->jobs) {
    if (j.name == wanted && (ns.empty() || j.namespace_name == ns)) job = &j;
  }
  if (job == nullptr) {
    err << command << ": no job " << wanted << (ns.empty() ? "" : " in namespace " + ns) << " in "
        << dir << "\n";
    return 1;
  }
  // The job's own problems stop it, as they would stop a deploy; other jobs' only cost lineage.
  std::set<std::string> known;
  for (const auto& [name, p] : plugins) known.insert(name);
  spec::Diagnostics job_diagnostics;
  spec::JobValidationOptions options;
  options.hooks = spec::ScheduleValidationHooks();
  options.known_plugins = plugins.empty() ? nullptr : &known;
  spec::ValidateJob(*job, options, job_diagnostics);
  if (job_diagnostics.HasErrors()) {
    err << command << ": " << job->file << " has problems:\n" << job_diagnostics.ToString();
    return 1;
  }
  if (plugins.count(job->task.name) == 0) {
    err << command << ": no plugin " << job->task.name << " in "
        << absl::StrJoin(plugin_paths, ", ",
                         [](std::string* o, const fs::path& p) { o->append(p.string()); })
        << " (give the plugin folder with --plugins)\n";
    return 1;
  }

  const events::v1::ProjectRecord record = ProjectRecordOf(*project, dir);
  const std::string& project_name = project->config.project_name;
  dependency_resolver::JobGraph graph;
  std::vector<dependency_resolver::JobLineage> lineages;
  events::v1::JobSpecRecord target;
  for (const auto& j : project->jobs) {
    events::v1::JobSpecRecord r = SpecRecordOf(j, project_name);
    auto lineage = dependency_resolver::LineageOf(r, &record, plugins);
    if (&j == job) {
      if (!lineage.error.empty()) {
        err << command << ": cannot resolve " << wanted << ": " << lineage.error << "\n";
        return 1;
      }
      target = r;
    }
    if (lineage.error.empty()) lineages.push_back(std::move(lineage.lineage));
  }
  graph.Apply(lineages);
  const std::string key = dependency_resolver::JobLineage{project_name, "", wanted}.key();
  const dependency_resolver::Resolution resolution = graph.Resolve(key);
  if (!resolution.cycle.empty()) {
    err << command << ": cyclic dependency: " << absl::StrJoin(resolution.cycle, " -> ") << "\n";
    return 1;
  }
  events::v1::JobResolution jr =
      dependency_resolver::BuildResolution(target, graph.Find(key), resolution);
  auto major = compiler::AirflowMajor(&record);
  if (!major.ok()) {
    err << command << ": " << major.status().message() << "\n";
    return 1;
  }
  const compiler::RenderOptions render_options{
      .version = telemetry::BuildVersion(),
      .runtime_host = runtime_host,
      .run_input_host = project->config.host,
      .init_image = "optimus/optimus:" + telemetry::BuildVersion()};
  auto dag = compiler::RenderDag(jr, &record, plugins, render_options);
  if (!dag.ok()) {
    err << command << ": cannot render " << wanted << ": " << dag.status().message() << "\n";
    return 1;
  }
  if (to_stdout) {
    out << *dag;
    return 0;
  }
  const fs::path root = out_dir.empty() ? fs::path(dir) / "render" : fs::path(out_dir);
  const fs::path file = root / compiler::DagPath(job->namespace_name, wanted).substr(5);
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  std::ofstream dag_file(file, std::ios::binary | std::ios::trunc);
  dag_file << *dag;
  std::ofstream lib_file(root / "__lib.py", std::ios::binary | std::ios::trunc);
  lib_file << compiler::LibPy(*major);
  if (!dag_file.good() || !lib_file.good() || ec) {
    err << command << ": cannot write under " << root.string() << "\n";
    return 2;
  }
  std::vector<std::string> upstreams;
  for (const auto& u : jr.upstreams()) {
    upstreams.push_back((u.project() == project_name ? "" : u.project() + "/") + u.name());
  }
  out << "wrote " << file.string() << " (Airflow " << *major
      << "; upstreams: " << (upstreams.empty() ? "none" : absl::StrJoin(upstreams, ", ")) << ")\n";
  for (const auto& s : jr.unknown_sources()) {
    out << "  reads " << s << ", which no job of the project writes (no sensor)\n";
  }
  for (const auto& s : jr.unknown_upstreams()) {
    out << "  depends on " << s << ", which is not in this project (no sensor rendered here)\n";
  }
  return 0;
}

}  // namespace optimus::cli
