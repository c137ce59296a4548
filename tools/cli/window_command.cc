// `optimus window`: computes a job window offline from flags, like Optimus' window endpoint.
#include "window_command.h"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nlohmann/json.hpp"
#include "optimus/schedule/time_util.h"
#include "optimus/schedule/window.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/project_reader.h"
#include "optimus/spec/schedule_hooks.h"

namespace optimus::cli {
namespace {

constexpr char kHelp[] =
    "Usage: optimus window --scheduled-at RFC3339 [--version 1|2|3] [--size S] [--shift-by S]\n"
    "                      [--offset S] [--truncate-to U] [--location ZONE] [--output text|json]\n"
    "       optimus window --job PATH --scheduled-at RFC3339 [--output text|json]\n"
    "\n"
    "Prints the data window (DSTART, DEND) a job run scheduled at --scheduled-at gets, for a\n"
    "window given by flags or for the window of the job at PATH (its folder or its job.yaml;\n"
    "this.yaml files and the project's presets apply when optimus.yaml is found above it).\n"
    "The scheduled time is the real trigger instant (Airflow execution_date + one cron tick).\n"
    "\n"
    "Flags:\n"
    "  --scheduled-at T   required; RFC3339, e.g. 2023-03-07T02:00:00Z\n"
    "  --job PATH         take the window (and its version) from this job\n"
    "  --version V        window version: 1, 2 or 3 (default 3)\n"
    "  --size S           v3: one unit of h, d, w, M, y (1d, 24h, 1M) or None;\n"
    "                     v1/v2: Go duration with optional months (24h, 1M, 1M24h)\n"
    "  --shift-by S       v3 only: move the window, e.g. -1d (default none)\n"
    "  --offset S         v1/v2 only: move the end, e.g. -24h, -1M (default 0)\n"
    "  --truncate-to U    v3: h, d, w, M, y or None (default: the unit of --size);\n"
    "                     v1/v2: h, d, w, M (default: no truncation)\n"
    "  --location ZONE    v3 only: IANA time zone, e.g. Asia/Jakarta (default UTC)\n"
    "  --output FORMAT    text (default) or json\n"
    "  -h, --help         show this help\n"
    "\n"
    "Text output is KEY=VALUE lines: DSTART, DEND and, for version 3 only, START_DATE, END_DATE,\n"
    "SCHEDULE_TIME, SCHEDULE_DATE and EXECUTION_TIME. Exit status 0 on success, 2 on bad input.\n"
    "\n"
    "Examples:\n"
    "  optimus window --scheduled-at 2023-03-07T02:00:00Z --size 1d --shift-by -1d\n"
    "  optimus window --version 2 --scheduled-at 2023-03-07T02:00:00Z --truncate-to d \\\n"
    "      --offset -24h --size 24h\n";

std::string JsonString(std::string_view s) { return nlohmann::json(std::string(s)).dump(); }

namespace fs = std::filesystem;

// The window of the job at `path` (a job folder or its job.yaml). When an optimus.yaml is found
// above it, this.yaml files up to the namespace's job folder and the project's presets apply.
std::optional<schedule::WindowSpec> WindowOfJob(const std::string& path, std::string& error) {
  std::error_code ec;
  fs::path dir = fs::absolute(path, ec).lexically_normal();
  if (fs::is_regular_file(dir, ec)) dir = dir.parent_path();
  if (!fs::is_directory(dir, ec)) {
    error = "--job " + path + ": no such job folder or file";
    return std::nullopt;
  }
  spec::Diagnostics diagnostics;
  fs::path job_root;
  std::map<std::string, spec::Preset> presets;
  for (fs::path p = dir;; p = p.parent_path()) {
    if (fs::is_regular_file(p / "optimus.yaml", ec)) {
      auto text = spec::ReadFile(p / "optimus.yaml", (p / "optimus.yaml").string(), diagnostics);
      auto config = text ? spec::LoadClientConfig((p / "optimus.yaml").string(), *text, diagnostics)
                         : std::nullopt;
      if (config) {
        for (const auto& ns : config->namespaces) {
          const fs::path root = (p / ns.job_path).lexically_normal();
          const auto rel = dir.lexically_relative(root);
          if (!ns.job_path.empty() && !rel.empty() && *rel.begin() != "..") job_root = root;
        }
        if (!config->preset_path.empty()) {
          const fs::path file = p / config->preset_path;
          if (auto presets_text = spec::ReadFile(file, file.string(), diagnostics)) {
            presets = spec::LoadPresets(file.string(), *presets_text, diagnostics);
          }
        }
      }
      break;
    }
    if (!p.has_parent_path() || p == p.parent_path()) break;
  }
  auto job = spec::ReadJobAt(dir, job_root, {}, diagnostics);
  if (!job || diagnostics.HasErrors()) {
    error = "cannot read the job at " + path + ":\n" + diagnostics.ToString();
    if (!error.empty() && error.back() == '\n') error.pop_back();
    return std::nullopt;
  }
  auto window = spec::JobWindow(*job, presets);
  if (!window.ok()) {
    error = job->name + ": " + std::string(window.status().message());
    return std::nullopt;
  }
  return *window;
}

int Fail(std::ostream& err, std::string_view message) {
  err << "optimus window: " << message << " (see 'optimus window --help')\n";
  return 2;
}

}  // namespace

int RunWindowCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  static const std::vector<std::string> kFlags = {"version",      "size",        "shift-by",
                                                  "offset",       "truncate-to", "location",
                                                  "scheduled-at", "output",      "job"};
  std::map<std::string, std::string> values;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      out << kHelp;
      return 0;
    }
    if (arg.rfind("--", 0) != 0) return Fail(err, "unexpected argument \"" + arg + "\"");
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    bool known = false;
    for (const std::string& f : kFlags) known = known || f == name;
    if (!known) return Fail(err, "unknown flag --" + name);
    if (!has_value) {
      if (i + 1 >= argc) return Fail(err, "flag --" + name + " needs a value");
      value = argv[++i];
    }
    if (values.count(name) != 0) return Fail(err, "flag --" + name + " given twice");
    values[name] = value;
  }

  auto get = [&](const std::string& name) {
    auto it = values.find(name);
    return it == values.end() ? std::string() : it->second;
  };

  if (values.count("scheduled-at") == 0) return Fail(err, "--scheduled-at is required");
  auto scheduled_at = schedule::ParseRfc3339(get("scheduled-at"));
  if (!scheduled_at.ok()) return Fail(err, std::string(scheduled_at.status().message()));

  const std::string output = values.count("output") ? get("output") : "text";
  if (output != "text" && output != "json") {
    return Fail(err, "--output \"" + output + "\" is not text or json");
  }

  schedule::WindowSpec spec;
  if (values.count("job") != 0) {
    for (const char* flag : {"version", "size", "shift-by", "offset", "truncate-to", "location"}) {
      if (values.count(flag) != 0) {
        return Fail(err, std::string("--job takes the window from the job; drop --") + flag);
      }
    }
    std::string error;
    auto from_job = WindowOfJob(get("job"), error);
    if (!from_job) return Fail(err, error);
    spec = *from_job;
  } else if (values.count("version") != 0) {
    const std::string v = get("version");
    if (v == "1" || v == "2" || v == "3") {
      spec.version = v[0] - '0';
    } else {
      return Fail(err, "--version \"" + v + "\" is not 1, 2 or 3");
    }
  }
  if (values.count("job") == 0) {
    spec.size = get("size");
    spec.shift_by = get("shift-by");
    spec.offset = get("offset");
    spec.truncate_to = get("truncate-to");
    spec.location = get("location");
    if (spec.version == 3 && values.count("offset") != 0) {
      return Fail(err, "--offset applies to versions 1 and 2; version 3 uses --shift-by");
    }
    if (spec.version != 3 && (values.count("shift-by") != 0 || values.count("location") != 0)) {
      return Fail(err,
                  "--shift-by and --location apply to version 3 only; versions 1 and 2 use "
                  "--offset and UTC");
    }
  }

  auto result = schedule::Compute(spec, *scheduled_at);
  if (!result.ok()) return Fail(err, std::string(result.status().message()));

  std::vector<std::pair<std::string, std::string>> fields = {{"DSTART", result->dstart},
                                                             {"DEND", result->dend}};
  if (result->start_date) fields.emplace_back("START_DATE", *result->start_date);
  if (result->end_date) fields.emplace_back("END_DATE", *result->end_date);
  if (result->schedule_time) fields.emplace_back("SCHEDULE_TIME", *result->schedule_time);
  if (result->schedule_date) fields.emplace_back("SCHEDULE_DATE", *result->schedule_date);
  if (result->execution_time) fields.emplace_back("EXECUTION_TIME", *result->execution_time);

  if (output == "json") {
    out << "{\"version\":" << result->version;
    for (const auto& [key, value] : fields)
      out << "," << JsonString(key) << ":" << JsonString(value);
    out << "}\n";
  } else {
    for (const auto& [key, value] : fields) out << key << "=" << value << "\n";
  }
  return 0;
}

}  // namespace optimus::cli
