// `optimus verify specs -j job.yaml -r resource.yaml`: the Optimus offline schema check, done
// with the full validation (types, required fields, labels, cron, windows) on each file alone.
// No this.yaml merging: use `optimus job validate` to check jobs as deploy reads them.
#include "verify_specs_command.h"

#include <string>
#include <vector>

#include "diagnostics_output.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/project_reader.h"
#include "optimus/spec/schedule_hooks.h"
#include "optimus/spec/validate.h"

namespace optimus::cli {
namespace {

constexpr char kHelp[] =
    "Usage: optimus verify specs [-j JOB_YAML]... [-r RESOURCE_YAML]... [--datastore bigquery]\n"
    "                            [--output table|json]\n\n"
    "Checks each file on its own, without this.yaml inheritance (fields a parent would supply\n"
    "are reported missing; use 'optimus job validate' to check jobs as deploy reads them).\n"
    "Exit code 0: valid, 1: problems found (an unreadable file is one), 2: bad flags.\n";

}  // namespace

int RunVerifySpecsCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  std::vector<std::string> jobs, resources;
  std::string output = "table";
  std::string datastore = "bigquery";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      out << kHelp;
      return 0;
    } else if ((arg == "-j" || arg == "--job") && i + 1 < argc) {
      jobs.emplace_back(argv[++i]);
    } else if ((arg == "-r" || arg == "--resource") && i + 1 < argc) {
      resources.emplace_back(argv[++i]);
    } else if (arg == "--datastore" && i + 1 < argc) {
      datastore = argv[++i];
    } else if ((arg == "-o" || arg == "--output") && i + 1 < argc) {
      output = argv[++i];
      if (output != "table" && output != "json") {
        err << "optimus verify specs: --output is table or json, got '" << output << "'\n";
        return 2;
      }
    } else {
      err << "optimus verify specs: unknown flag or missing value '" << arg << "' (see --help)\n";
      return 2;
    }
  }
  if (jobs.empty() && resources.empty()) {
    err << "optimus verify specs: give at least one -j JOB_YAML or -r RESOURCE_YAML\n";
    return 2;
  }
  spec::Diagnostics diagnostics;
  spec::JobValidationOptions options;
  options.hooks = spec::ScheduleValidationHooks();
  for (const std::string& path : jobs) {
    auto content = spec::ReadFile(path, path, diagnostics);
    if (!content) continue;
    if (auto job = spec::LoadJobSpec(path, *content, diagnostics)) {
      spec::ValidateJob(*job, options, diagnostics);
    }
  }
  for (const std::string& path : resources) {
    if (auto content = spec::ReadFile(path, path, diagnostics)) {
      spec::LoadResourceSpec(path, *content, datastore, diagnostics);
    }
  }
  const DiagnosticCounts counts = Count(diagnostics.items());
  if (output == "json") {
    PrintJson(out, diagnostics.items(), "files", jobs.size() + resources.size());
  } else {
    PrintTable(out, diagnostics.items());
    out << "verified " << jobs.size() << " job and " << resources.size()
        << " resource files: " << counts.errors << " errors, " << counts.warnings << " warnings\n";
  }
  return counts.errors > 0 ? 1 : 0;
}

}  // namespace optimus::cli
