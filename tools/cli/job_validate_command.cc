// `optimus job validate`: reads the project like `deploy` does (this.yaml merged), validates
// every selected job offline and prints one table of problems.
#include "job_validate_command.h"

#include <chrono>
#include <filesystem>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "diagnostics_output.h"
#include "optimus/spec/project_reader.h"
#include "optimus/spec/schedule_hooks.h"
#include "optimus/spec/validate.h"

namespace optimus::cli {
namespace {

namespace fs = std::filesystem;

constexpr char kHelp[] =
    "Usage: optimus job validate [flags]\n\n"
    "Validates job specs offline, as deploy would read them (this.yaml files merged), and lists\n"
    "every problem with file:line:column and the field. Exit code 0: no errors (warnings are\n"
    "shown), 1: problems found, 2: bad flags or an unreadable project.\n\n"
    "Flags:\n"
    "  -d, --dir DIR          project folder (default: .)\n"
    "  -c, --config FILE      client config inside it (default: optimus.yaml)\n"
    "  -n, --namespace NAME   only this namespace (repeatable)\n"
    "  -j, --jobs A,B         only these jobs (comma-separated)\n"
    "      --plugins DIR      folder of optimus-plugin-*.yaml files to check task and hook names\n"
    "                         against (repeatable; default: DIR/.plugins when it exists)\n"
    "  -o, --output FORMAT    table (default) or json\n";

struct Flags {
  fs::path dir = ".";
  std::string config = "optimus.yaml";
  std::set<std::string> namespaces;
  std::set<std::string> jobs;
  std::vector<fs::path> plugin_dirs;
  std::string output = "table";
};

}  // namespace

int RunJobValidateCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (arg == "-h" || arg == "--help") {
      out << kHelp;
      return 0;
    } else if ((arg == "-d" || arg == "--dir") && (v = value())) {
      flags.dir = v;
    } else if ((arg == "-c" || arg == "--config") && (v = value())) {
      flags.config = v;
    } else if ((arg == "-n" || arg == "--namespace") && (v = value())) {
      flags.namespaces.insert(v);
    } else if ((arg == "-j" || arg == "--jobs") && (v = value())) {
      for (absl::string_view name : absl::StrSplit(v, ',', absl::SkipEmpty())) {
        flags.jobs.insert(std::string(name));
      }
    } else if (arg == "--plugins" && (v = value())) {
      flags.plugin_dirs.emplace_back(v);
    } else if ((arg == "-o" || arg == "--output") && (v = value())) {
      flags.output = v;
      if (flags.output != "table" && flags.output != "json") {
        err << "optimus job validate: --output is table or json, got '" << flags.output << "'\n";
        return 2;
      }
    } else {
      err << "optimus job validate: unknown flag or missing value '" << arg << "' (see --help)\n";
      return 2;
    }
  }

  const auto started = std::chrono::steady_clock::now();
  spec::Diagnostics diagnostics;
  auto project = spec::ReadProject(flags.dir, flags.config, diagnostics);
  if (!project.has_value()) {
    err << "optimus job validate: cannot read the project in " << flags.dir.string() << "\n"
        << diagnostics.ToString();
    return 2;
  }
  if (flags.plugin_dirs.empty() && fs::is_directory(flags.dir / ".plugins")) {
    flags.plugin_dirs.push_back(flags.dir / ".plugins");
  }
  std::set<std::string> plugin_names;
  std::map<std::string, spec::PluginSpec> plugins;
  if (!flags.plugin_dirs.empty()) {
    for (auto& plugin : spec::ReadPlugins(flags.plugin_dirs, {flags.dir}, diagnostics)) {
      plugin_names.insert(plugin.name);
      plugins[plugin.name] = std::move(plugin);
    }
  } else if (flags.output == "table") {
    err << "note: no plugins given (--plugins DIR), so task and hook names are not checked\n";
  }
  for (const auto& name : flags.namespaces) {
    bool known = false;
    for (const auto& ns : project->config.namespaces) known |= ns.name == name;
    if (!known) {
      err << "optimus job validate: namespace '" << name << "' is not in " << flags.config << "\n";
      return 2;
    }
  }
  // Validate everything (duplicate names span namespaces), then show what was asked for.
  spec::ValidateProject(*project, flags.plugin_dirs.empty() ? nullptr : &plugin_names,
                        spec::ScheduleValidationHooks(), diagnostics,
                        flags.plugin_dirs.empty() ? nullptr : &plugins);
  std::set<std::string> selected_files;
  size_t selected = 0;
  std::set<std::string> found_names;
  for (const auto& job : project->jobs) {
    found_names.insert(job.name);
    if (!flags.namespaces.empty() && flags.namespaces.count(job.namespace_name) == 0) continue;
    if (!flags.jobs.empty() && flags.jobs.count(job.name) == 0) continue;
    selected_files.insert(job.file);
    ++selected;
  }
  for (const auto& name : flags.jobs) {
    if (found_names.count(name) == 0) {
      err << "optimus job validate: no job named '" << name << "'\n";
      return 2;
    }
  }
  const bool everything = flags.namespaces.empty() && flags.jobs.empty();
  std::vector<spec::Diagnostic> shown;
  for (const auto& d : diagnostics.items()) {
    // this.yaml and project files concern every job below them, so they are always shown.
    const bool job_file =
        absl::EndsWith(d.file, "job.yaml") || absl::EndsWith(d.file, "recipe.json");
    if (everything || !job_file || selected_files.count(d.file) > 0) shown.push_back(d);
  }
  const DiagnosticCounts counts = Count(shown);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (flags.output == "json") {
    PrintJson(out, shown, "jobs", selected);
  } else {
    PrintTable(out, shown);
    out << "validated " << selected << " jobs in " << project->config.namespaces.size()
        << " namespaces: " << counts.errors << " errors, " << counts.warnings << " warnings ("
        << seconds << " s)\n";
  }
  return counts.errors > 0 ? 1 : 0;
}

}  // namespace optimus::cli
