// `optimus job create` and `optimus job addhook`.
//
// Both read the project and its plugins, ask their questions (or take the answers from flags
// and an answers file), build the new text, load and validate it with the same code as
// `job validate`, and only then write: a refused answer never leaves a half-written job.
#include "job_create_command.h"

#include <ctime>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "files.h"
#include "flags.h"
#include "job_text.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/schedule_hooks.h"
#include "optimus/spec/validate.h"
#include "optimus/spec/yaml_text.h"
#include "plugin_questions.h"
#include "prompter.h"

namespace optimus::cli {
namespace {

namespace fs = std::filesystem;
using spec::YamlScalar;

constexpr char kCreateHelp[] =
    "Usage: optimus job create [flags]\n\n"
    "Writes a new job: <namespace job path>/<dir>/job.yaml and the task plugin's default assets.\n"
    "On a terminal it asks the job's questions, then the task plugin's own (with their\n"
    "sub-questions, checks and defaults). With --no-input (or without a terminal) every answer\n"
    "comes from the flags, --answer and --answers; whatever is missing is listed at once.\n\n"
    "Flags:\n"
    "  -d, --dir DIR             project folder (default: .)\n"
    "  -c, --config FILE         client config inside it (default: optimus.yaml)\n"
    "  -n, --namespace NAME      namespace of the job (default: the only one)\n"
    "      --name NAME           job name, unique in the project\n"
    "      --job-dir PATH        folder under the namespace's job path (default: the name)\n"
    "      --owner OWNER         team or e-mail responsible for the job\n"
    "      --task PLUGIN         task plugin\n"
    "      --start-date DATE     YYYY-MM-DD (default: yesterday)\n"
    "      --interval CRON       schedule (default: 0 2 * * *)\n"
    "      --spec-version V      job spec version 1, 2 or 3 (default: 3)\n"
    "      --window-preset NAME  a preset of the project instead of a custom window\n"
    "      --window-size S       default 1d (version 3) or 24h (versions 1 and 2)\n"
    "      --window-shift-by S   version 3: move the window, e.g. -1d\n"
    "      --window-offset S     versions 1 and 2: move the window end, e.g. -24h\n"
    "      --window-truncate-to U  h, d, w, M or y\n"
    "      --window-location Z   version 3: IANA time zone\n"
    "      --answer KEY=VALUE    an answer to a plugin question (repeatable)\n"
    "      --answers FILE        a YAML map of answers; keys are plugin question names and the\n"
    "                            job's own: namespace, name, job_dir, owner, task, start_date,\n"
    "                            interval, window_preset, window_size, window_shift_by,\n"
    "                            window_offset, window_truncate_to, window_location\n"
    "      --plugins DIR         folder of optimus-plugin-*.yaml (repeatable; default "
    "DIR/.plugins)\n"
    "      --no-input            never ask\n\n"
    "Exit status: 0 written, 1 refused (missing or bad answers, job exists), 2 bad flags.\n\n"
    "Example (CI):\n"
    "  optimus job create --no-input -n sales --name sales.orders_daily --owner data@example.com "
    "\\\n"
    "      --task bq2bq --answer PROJECT=acme --answer DATASET=sales --answer TABLE=orders_daily\n";

constexpr char kAddHookHelp[] =
    "Usage: optimus job addhook [JOB] [flags]\n\n"
    "Adds a hook to a job's job.yaml, asking the hook plugin's questions (or taking answers\n"
    "from --answer and --answers). Comments and layout of job.yaml are kept: the hook is added\n"
    "at the end of its hooks list.\n\n"
    "Flags:\n"
    "  -d, --dir DIR          project folder (default: .)\n"
    "  -c, --config FILE      client config inside it (default: optimus.yaml)\n"
    "      --job NAME         the job (or give it as the argument)\n"
    "      --hook PLUGIN      the hook plugin\n"
    "      --answer KEY=VALUE an answer to a hook question (repeatable)\n"
    "      --answers FILE     a YAML map of answers (also: job, hook)\n"
    "      --plugins DIR      folder of optimus-plugin-*.yaml (repeatable; default DIR/.plugins)\n"
    "      --no-input         never ask\n\n"
    "Exit status: 0 written, 1 refused (unknown job or hook, hook already there, bad answers),\n"
    "2 bad flags.\n";

std::string Yesterday() {
  return absl::FormatTime("%Y-%m-%d", absl::Now() - absl::Hours(24), absl::UTCTimeZone());
}

std::string CheckJobName(const std::string& name) {
  if (name.size() > 125) return "at most 125 characters";
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return "use letters, digits, '.', '-' and '_' only";
    }
  }
  return "";
}

std::string CheckRelativeDir(const std::string& dir) {
  const fs::path p(dir);
  if (p.is_absolute()) return "give a path relative to the namespace's job folder";
  for (const auto& part : p) {
    if (part == "..") return "must stay inside the namespace's job folder";
  }
  return "";
}

int Refuse(std::ostream& err, const std::string& command, const Prompter& ask) {
  err << command << ": nothing written:\n";
  for (const std::string& p : ask.problems()) err << "  " << p << "\n";
  return 1;
}

// The answers given by flags, an answers file and --answer, in that order of precedence
// (flags win). False when one of them cannot be read.
bool GatherAnswers(const std::map<std::string, std::string>& from_flags,
                   const std::string& answers_file, const std::vector<std::string>& answer_flags,
                   std::map<std::string, std::string>& answers, const std::string& command,
                   std::ostream& err) {
  std::vector<std::string> problems;
  if (!answers_file.empty()) answers = ReadAnswersFile(answers_file, problems);
  AddAnswerFlags(answer_flags, answers, problems);
  for (const auto& [key, value] : from_flags) {
    if (!value.empty()) answers[key] = value;
  }
  if (problems.empty()) return true;
  err << command << ": cannot use the answers:\n";
  for (const std::string& p : problems) err << "  " << p << "\n";
  return false;
}

void WarnUnused(const Prompter& ask, const std::string& command, std::ostream& err) {
  for (const std::string& key : ask.Unused()) {
    err << command << ": warning: answer \"" << key << "\" matches no question (ignored)\n";
  }
}

// Loads and validates job.yaml text as `job validate` would; prints the problems.
bool CheckJobText(const std::string& shown, const std::string& text,
                  const AuthoringProject& authoring, std::ostream& err,
                  const std::string& command) {
  spec::Diagnostics diagnostics;
  auto job = spec::LoadJobSpec(shown, text, diagnostics);
  if (job) {
    std::set<std::string> plugin_names;
    for (const auto& p : authoring.plugins) plugin_names.insert(p.name);
    spec::JobValidationOptions options;
    options.hooks = spec::ScheduleValidationHooks();
    options.known_plugins = &plugin_names;
    options.presets = &authoring.project.presets;
    spec::ValidateJob(*job, options, diagnostics);
  }
  if (job && !diagnostics.HasErrors()) return true;
  err << command << ": the new spec would not validate, nothing written:\n"
      << diagnostics.ToString();
  return false;
}

}  // namespace

int RunJobCreateCommand(int argc, char** argv, std::istream& in, std::ostream& out,
                        std::ostream& err, bool interactive) {
  const std::string command = "optimus job create";
  std::string dir = ".", config = "optimus.yaml", answers_file;
  std::map<std::string, std::string> given;
  std::vector<std::string> answer_flags, plugin_dirs;
  bool no_input = false;
  Flags flags(command);
  flags.String("dir", 'd', &dir);
  flags.String("config", 'c', &config);
  flags.String("namespace", 'n', &given["namespace"]);
  flags.String("name", 0, &given["name"]);
  flags.String("job-dir", 0, &given["job_dir"]);
  flags.String("owner", 0, &given["owner"]);
  flags.String("task", 0, &given["task"]);
  flags.String("start-date", 0, &given["start_date"]);
  flags.String("interval", 0, &given["interval"]);
  flags.String("spec-version", 0, &given["spec_version"]);
  flags.String("window-preset", 0, &given["window_preset"]);
  flags.String("window-size", 0, &given["window_size"]);
  flags.String("window-shift-by", 0, &given["window_shift_by"]);
  flags.String("window-offset", 0, &given["window_offset"]);
  flags.String("window-truncate-to", 0, &given["window_truncate_to"]);
  flags.String("window-location", 0, &given["window_location"]);
  flags.List("answer", 0, &answer_flags);
  flags.String("answers", 0, &answers_file);
  flags.List("plugins", 0, &plugin_dirs);
  flags.Bool("no-input", 0, &no_input);
  if (auto code = flags.ParseCommand(argc, argv, kCreateHelp, out, err)) return *code;
  std::map<std::string, std::string> answers;
  if (!GatherAnswers(given, answers_file, answer_flags, answers, command, err)) return 1;
  auto authoring = ReadAuthoringProject(
      dir, config, std::vector<fs::path>(plugin_dirs.begin(), plugin_dirs.end()), command, err);
  if (!authoring) return 1;
  const spec::Project& project = authoring->project;
  if (project.config.namespaces.empty()) {
    err << command << ": " << config << " has no namespaces (add one, or run optimus init)\n";
    return 1;
  }

  Prompter ask(in, out, interactive && !no_input, answers);
  std::vector<std::string> namespaces;
  for (const auto& ns : project.config.namespaces) namespaces.push_back(ns.name);
  const auto ns_name = ask.Get({.key = "namespace",
                                .prompt = "Namespace",
                                .default_value = namespaces.size() == 1 ? namespaces[0] : "",
                                .options = namespaces});
  std::set<std::string> existing;
  for (const auto& job : project.jobs) existing.insert(job.name);
  const auto name = ask.Get({.key = "name",
                             .prompt = "Job name",
                             .help = "unique in the project, e.g. <namespace>.<table>",
                             .check = [&](const std::string& n) {
                               if (existing.count(n) > 0) return "a job named " + n + " exists";
                               return CheckJobName(n);
                             }});
  if (!ns_name || !name) return Refuse(err, command, ask);
  const spec::NamespaceConfig* ns = nullptr;
  for (const auto& n : project.config.namespaces) {
    if (n.name == *ns_name) ns = &n;
  }
  if (ns->job_path.empty()) {
    ask.Problem("namespace " + *ns_name + " has no job.path in " + config);
    return Refuse(err, command, ask);
  }
  const fs::path job_root = fs::path(dir) / ns->job_path;
  const auto job_dir =
      ask.Get({.key = "job_dir",
               .prompt = "Folder of the job under " + ns->job_path,
               .default_value = *name,
               .check = [&](const std::string& d) -> std::string {
                 if (auto why = CheckRelativeDir(d); !why.empty()) return why;
                 std::error_code ec;
                 if (fs::exists(job_root / d / "job.yaml", ec)) {
                   return (fs::path(ns->job_path) / d / "job.yaml").generic_string() + " exists";
                 }
                 return "";
               }});
  const auto owner = ask.Get({.key = "owner", .prompt = "Owner (team or e-mail)"});
  std::vector<std::string> tasks;
  for (const auto& p : authoring->plugins) {
    if (!IsHookPlugin(p)) tasks.push_back(p.name);
  }
  const auto task = ask.Get({.key = "task",
                             .prompt = "Task plugin",
                             .default_value = tasks.size() == 1 ? tasks[0] : "",
                             .options = tasks});
  const auto hooks = spec::ScheduleValidationHooks();
  const auto start_date =
      ask.Get({.key = "start_date",
               .prompt = "Start date (YYYY-MM-DD)",
               .default_value = Yesterday(),
               .check = [](const std::string& d) -> std::string {
                 absl::Time t;
                 std::string why;
                 if (d.size() != 10 || !absl::ParseTime("%Y-%m-%d", d, &t, &why)) {
                   return "want YYYY-MM-DD";
                 }
                 return "";
               }});
  const auto interval = ask.Get({.key = "interval",
                                 .prompt = "Schedule (cron)",
                                 .default_value = "0 2 * * *",
                                 .check = hooks.check_cron});
  const auto spec_version = ask.Get({.key = "spec_version",
                                     .prompt = "Job spec version",
                                     .default_value = "3",
                                     .options = {"1", "2", "3"}});
  if (!job_dir || !owner || !task || !start_date || !interval || !spec_version) {
    return Refuse(err, command, ask);
  }

  // The window: a preset of the project, or a custom one checked as a whole.
  spec::Window window;
  window.version = std::stoi(*spec_version);
  std::string preset;
  if (!project.presets.empty()) {
    auto got = ask.Get({.key = "window_preset",
                        .prompt = "Window preset (empty: a custom window)",
                        .required = false,
                        .check = [&](const std::string& p) -> std::string {
                          return project.presets.count(p) > 0 ? "" : "no preset named " + p;
                        }});
    if (!got) return Refuse(err, command, ask);
    preset = *got;
  } else if (answers.count("window_preset") > 0) {
    ask.Problem("window_preset: the project has no presets");
    return Refuse(err, command, ask);
  }
  if (!preset.empty()) {
    window.preset = preset;
  } else {
    const bool v3 = window.version == 3;
    auto size = ask.Get(
        {.key = "window_size", .prompt = "Window size", .default_value = v3 ? "1d" : "24h"});
    auto move = ask.Get({.key = v3 ? "window_shift_by" : "window_offset",
                         .prompt = v3 ? "Window shift (e.g. -1d; empty: none)"
                                      : "Window offset (e.g. -24h; empty: none)",
                         .required = false});
    auto truncate = ask.Get({.key = "window_truncate_to",
                             .prompt = "Truncate the window to (h, d, w, M, y; empty: default)",
                             .required = false});
    std::optional<std::string> location = std::string();
    if (v3) {
      location = ask.Get(
          {.key = "window_location", .prompt = "Window time zone (empty: UTC)", .required = false});
    }
    if (!size || !move || !truncate || !location) return Refuse(err, command, ask);
    window.size = *size;
    (v3 ? window.shift_by : window.offset) = *move;
    window.truncate_to = *truncate;
    window.location = *location;
    if (const std::string why = hooks.check_window(window); !why.empty()) {
      ask.Problem("window: " + why);
      return Refuse(err, command, ask);
    }
  }

  const spec::PluginSpec* plugin = nullptr;
  for (const auto& p : authoring->plugins) {
    if (p.name == *task) plugin = &p;
  }
  spec::StringMap task_config;
  if (!AskPluginQuestions(*plugin, ask, task_config)) return Refuse(err, command, ask);
  WarnUnused(ask, command, err);

  std::string text =
      "version: " + *spec_version + "\nname: " + YamlScalar(*name) +
      "\nowner: " + YamlScalar(*owner) + "\nschedule:\n  start_date: " + YamlScalar(*start_date) +
      "\n  interval: " + YamlScalar(*interval) +
      "\nbehavior:\n  depends_on_past: false\ntask:\n  name: " + YamlScalar(*task) + "\n";
  if (!task_config.empty()) {
    text += "  config:\n";
    for (const auto& [key, value] : task_config) {
      text += "    " + YamlScalar(key) + ": " + YamlScalar(value) + "\n";
    }
  }
  text += "  window:\n";
  auto field = [&text](const char* key, const std::string& value) {
    if (!value.empty()) text += std::string("    ") + key + ": " + YamlScalar(value) + "\n";
  };
  field("preset", window.preset);
  field("size", window.size);
  field("shift_by", window.shift_by);
  field("offset", window.offset);
  field("truncate_to", window.truncate_to);
  field("location", window.location);
  text += "labels:\n  orchestrator: optimus\nhooks: []\ndependencies: []\n";

  const fs::path target_dir = job_root / *job_dir;
  const std::string shown = (fs::path(ns->job_path) / *job_dir / "job.yaml").generic_string();
  if (!CheckJobText(shown, text, *authoring, err, command)) return 1;

  std::error_code ec;
  fs::create_directories(target_dir / "assets", ec);
  if (ec) {
    err << command << ": cannot create " << target_dir.generic_string() << ": " << ec.message()
        << "\n";
    return 1;
  }
  std::string error;
  std::vector<std::string> written;
  for (const auto& [file, content] : PluginDefaultAssets(*plugin)) {
    const fs::path path = target_dir / "assets" / file;
    if (fs::exists(path, ec)) {
      err << command << ": warning: kept the existing " << path.generic_string() << "\n";
      continue;
    }
    if (!WriteFileAtomically(path, content, error)) {
      err << command << ": " << error << "\n";
      return 1;
    }
    written.push_back("assets/" + file);
  }
  // job.yaml last: a job folder without it is not a job, so a failure above leaves no job.
  if (!WriteFileAtomically(target_dir / "job.yaml", text, error)) {
    err << command << ": " << error << "\n";
    return 1;
  }
  out << "created job " << *name << ": " << (target_dir / "job.yaml").generic_string();
  for (const std::string& w : written) out << ", " << w;
  out << "\n";
  return 0;
}

int RunJobAddHookCommand(int argc, char** argv, std::istream& in, std::ostream& out,
                         std::ostream& err, bool interactive) {
  const std::string command = "optimus job addhook";
  std::string dir = ".", config = "optimus.yaml", answers_file;
  std::map<std::string, std::string> given;
  std::vector<std::string> answer_flags, plugin_dirs;
  bool no_input = false;
  Flags flags(command);
  flags.String("dir", 'd', &dir);
  flags.String("config", 'c', &config);
  flags.String("job", 0, &given["job"]);
  flags.String("hook", 0, &given["hook"]);
  flags.List("answer", 0, &answer_flags);
  flags.String("answers", 0, &answers_file);
  flags.List("plugins", 0, &plugin_dirs);
  flags.Bool("no-input", 0, &no_input);
  if (auto code = flags.ParseCommand(argc, argv, kAddHookHelp, out, err, 1)) return *code;
  if (flags.positional().size() == 1 && !given["job"].empty()) {
    err << command << ": give one job, as the argument or with --job (see '" << command
        << " --help')\n";
    return 2;
  }
  if (flags.positional().size() == 1) given["job"] = flags.positional()[0];
  std::map<std::string, std::string> answers;
  if (!GatherAnswers(given, answers_file, answer_flags, answers, command, err)) return 1;
  auto authoring = ReadAuthoringProject(
      dir, config, std::vector<fs::path>(plugin_dirs.begin(), plugin_dirs.end()), command, err);
  if (!authoring) return 1;

  Prompter ask(in, out, interactive && !no_input, answers);
  std::map<std::string, const spec::JobSpec*> jobs;
  for (const auto& job : authoring->project.jobs) jobs[job.name] = &job;
  const auto job_name =
      ask.Get({.key = "job", .prompt = "Job", .check = [&](const std::string& n) -> std::string {
                 return jobs.count(n) > 0 ? "" : "no job named " + n;
               }});
  if (!job_name) return Refuse(err, command, ask);
  const spec::JobSpec& job = *jobs.at(*job_name);
  std::vector<std::string> hook_names;
  for (const auto& p : authoring->plugins) {
    if (IsHookPlugin(p)) hook_names.push_back(p.name);
  }
  if (hook_names.empty()) {
    ask.Problem("hook: no hook plugins are installed (a version 1 plugin with plugintype: hook)");
    return Refuse(err, command, ask);
  }
  const auto hook_name = ask.Get({.key = "hook",
                                  .prompt = "Hook plugin",
                                  .options = hook_names,
                                  .check = [&](const std::string& h) -> std::string {
                                    for (const auto& existing : job.hooks) {
                                      if (existing.name == h) return job.name + " has hook " + h;
                                    }
                                    return "";
                                  }});
  if (!hook_name) return Refuse(err, command, ask);
  const spec::PluginSpec* plugin = nullptr;
  for (const auto& p : authoring->plugins) {
    if (p.name == *hook_name) plugin = &p;
  }
  spec::Hook hook;
  hook.name = *hook_name;
  if (!AskPluginQuestions(*plugin, ask, hook.config)) return Refuse(err, command, ask);
  WarnUnused(ask, command, err);

  const fs::path file = fs::path(dir) / job.file;
  spec::Diagnostics diagnostics;
  auto text = spec::ReadFile(file, job.file, diagnostics);
  if (!text) {
    err << command << ": " << diagnostics.ToString();
    return 1;
  }
  std::string error;
  auto updated = AppendHookText(*text, hook, error);
  if (!updated) {
    err << command << ": " << job.file << ": " << error << "\n";
    return 1;
  }
  if (!CheckJobText(job.file, *updated, *authoring, err, command)) return 1;
  if (!WriteFileAtomically(file, *updated, error)) {
    err << command << ": " << error << "\n";
    return 1;
  }
  out << "added hook " << hook.name << " to " << job.name << " (" << job.file << ")\n";
  return 0;
}

}  // namespace optimus::cli
