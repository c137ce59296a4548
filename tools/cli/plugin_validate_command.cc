// `optimus plugin validate --path P`: loads every plugin file at P (a file, or a folder of
// optimus-plugin-*.yaml) with the loader the server uses and lists every problem.
#include "plugin_validate_command.h"

#include <filesystem>
#include <string>
#include <vector>

#include "diagnostics_output.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/project_reader.h"

namespace optimus::cli {
namespace {

namespace fs = std::filesystem;

constexpr char kHelp[] =
    "Usage: optimus plugin validate --path PATH [--output table|json]\n\n"
    "Checks YAML plugin specs (version 1 and 2) the way the server loads them: questions and\n"
    "their sub-questions, regexps, defaults, asset parsers, plugin versions and the rest.\n"
    "PATH is one plugin file or a folder of optimus-plugin-*.yaml files (repeatable).\n"
    "Exit code 0: valid, 1: problems found, 2: bad flags or no plugin file found.\n";

}  // namespace

int RunPluginValidateCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  std::vector<fs::path> paths;
  std::string output = "table";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      out << kHelp;
      return 0;
    } else if ((arg == "-p" || arg == "--path") && i + 1 < argc) {
      paths.emplace_back(argv[++i]);
    } else if ((arg == "-o" || arg == "--output") && i + 1 < argc) {
      output = argv[++i];
      if (output != "table" && output != "json") {
        err << "optimus plugin validate: --output is table or json, got '" << output << "'\n";
        return 2;
      }
    } else {
      err << "optimus plugin validate: unknown flag or missing value '" << arg
          << "' (see --help)\n";
      return 2;
    }
  }
  if (paths.empty()) {
    err << "optimus plugin validate: --path is required (see --help)\n";
    return 2;
  }
  spec::Diagnostics diagnostics;
  size_t plugins = 0;
  std::vector<fs::path> dirs;
  for (const fs::path& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      dirs.push_back(path);
    } else if (fs::is_regular_file(path, ec)) {
      const std::string shown = path.string();
      if (auto content = spec::ReadFile(path, shown, diagnostics)) {
        if (spec::LoadPluginSpec(shown, *content, diagnostics)) ++plugins;
      }
    } else {
      err << "optimus plugin validate: " << path.string() << " is neither a file nor a folder\n";
      return 2;
    }
  }
  if (!dirs.empty()) plugins += spec::ReadPlugins(dirs, {}, diagnostics).size();
  const DiagnosticCounts counts = Count(diagnostics.items());
  if (plugins == 0 && counts.errors == 0) {
    err << "optimus plugin validate: no optimus-plugin-*.yaml file found\n";
    return 2;
  }
  if (output == "json") {
    PrintJson(out, diagnostics.items(), "plugins", plugins);
  } else {
    PrintTable(out, diagnostics.items());
    out << "validated " << plugins << " plugins: " << counts.errors << " errors, "
        << counts.warnings << " warnings\n";
  }
  return counts.errors > 0 ? 1 : 0;
}

}  // namespace optimus::cli
