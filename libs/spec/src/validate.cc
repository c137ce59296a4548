// Checks loaded (and inherited) job specs: required fields, values and references.
#include "optimus/spec/validate.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "checks.h"
#include "optimus/spec/names.h"

namespace optimus::spec {
namespace {

using internal::IsDate;
using internal::IsHttpUrl;
using internal::IsQuantity;
using internal::Quote;

class JobChecker {
 public:
  JobChecker(const JobSpec& job, Diagnostics& diagnostics) : job_(job), diagnostics_(diagnostics) {}

  void Error(const std::string& path, std::string message) {
    diagnostics_.Error(job_.LocationOf(path), path, std::move(message));
  }
  void Warning(const std::string& path, std::string message) {
    diagnostics_.Warning(job_.LocationOf(path), path, std::move(message));
  }
  void Required(const std::string& path, const std::string& value, const std::string& hint) {
    if (value.empty()) Error(path, "missing required field (" + hint + ")");
  }

 private:
  const JobSpec& job_;
  Diagnostics& diagnostics_;
};

bool OneOf(const std::string& value, std::initializer_list<const char*> allowed) {
  for (const char* a : allowed) {
    if (value == a) return true;
  }
  return false;
}

void CheckSeverity(JobChecker& c, const std::string& path, const std::string& severity) {
  if (!severity.empty() && !OneOf(internal::Upper(severity), {"INFO", "WARNING", "CRITICAL"})) {
    c.Error(path, "invalid severity " + Quote(severity) + " (want INFO, WARNING or CRITICAL)");
  }
}

void CheckAlert(JobChecker& c, const std::string& path, const Alert& alert) {
  for (size_t i = 0; i < alert.sla_miss.size(); ++i) {
    const std::string p = path + ".sla_miss[" + std::to_string(i) + "]";
    const SlaMissAlert& sla = alert.sla_miss[i];
    const bool automatic = sla.auto_threshold.value_or(false);
    if (sla.duration_threshold.empty() && !automatic) {
      c.Error(p + ".duration_threshold",
              "missing required field (a Go duration like 1h30m, "
              "or set auto_threshold: true)");
    } else if (!sla.duration_threshold.empty() && !IsGoDuration(sla.duration_threshold)) {
      c.Error(p + ".duration_threshold", "invalid duration " + Quote(sla.duration_threshold) +
                                             " (want a Go duration like 1h30m)");
    }
    CheckSeverity(c, p + ".severity", sla.severity);
  }
  for (size_t i = 0; i < alert.retry.size(); ++i) {
    const std::string p = path + ".retry[" + std::to_string(i) + "]";
    if (alert.retry[i].count_threshold <= 0) {
      c.Error(p + ".count_threshold", "must be a positive number of retries");
    }
    CheckSeverity(c, p + ".severity", alert.retry[i].severity);
  }
  CheckSeverity(c, path + ".success.severity", alert.success_severity);
  CheckSeverity(c, path + ".failure.severity", alert.failure_severity);
}

void CheckBehavior(JobChecker& c, const Behavior& behavior) {
  if (behavior.retry.count && *behavior.retry.count < 0) {
    c.Error("behavior.retry.count", "must not be negative");
  }
  if (!behavior.retry.delay.empty() && !IsGoDuration(behavior.retry.delay)) {
    c.Error("behavior.retry.delay", "invalid duration " + Quote(behavior.retry.delay) +
                                        " (want a Go duration like 5s or 2m)");
  }
  for (size_t i = 0; i < behavior.notify.size(); ++i) {
    const std::string p = "behavior.notify[" + std::to_string(i) + "]";
    const Notify& n = behavior.notify[i];
    if (n.on.empty()) {
      c.Error(p + ".on",
              "missing required field (sla_miss, failure, job_success or "
              "replay_lifecycle)");
    } else if (!OneOf(n.on, {"sla_miss", "failure", "job_success", "replay_lifecycle"})) {
      c.Error(p + ".on", "unknown event " + Quote(n.on) +
                             " (want sla_miss, failure, job_success or replay_lifecycle)");
    }
    if (n.channels.empty()) c.Warning(p + ".channels", "no channels: nobody will be notified");
    for (size_t j = 0; j < n.channels.size(); ++j) {
      const std::string& ch = n.channels[j];
      const bool ok = (ch.rfind("slack://#", 0) == 0 || ch.rfind("slack://@", 0) == 0 ||
                       ch.rfind("pagerduty://#", 0) == 0) &&
                      ch.find("//") + 3 < ch.size();
      if (!ok) {
        c.Error(p + ".channels[" + std::to_string(j) + "]",
                "invalid channel " + Quote(ch) +
                    " (want slack://#channel, slack://@group or pagerduty://#service)");
      }
    }
    CheckSeverity(c, p + ".severity", n.severity);
    if (n.on == "sla_miss") {
      auto it = n.config.find("duration");
      if (it == n.config.end() || it->second.empty()) {
        c.Error(p + ".config.duration",
                "missing required field for sla_miss (a Go duration like 2h45m)");
      } else if (!IsGoDuration(it->second)) {
        c.Error(p + ".config.duration",
                "invalid duration " + Quote(it->second) + " (want a Go duration like 2h45m)");
      }
    }
  }
  for (size_t i = 0; i < behavior.webhook.size(); ++i) {
    const std::string p = "behavior.webhook[" + std::to_string(i) + "]";
    const Webhook& w = behavior.webhook[i];
    if (w.on == "success") {
      c.Error(p + ".on", "unknown event \"success\" (did you mean job_success?)");
    } else if (!OneOf(w.on, {"job_success", "failure", "sla_miss"})) {
      c.Error(p + ".on",
              "unknown event " + Quote(w.on) + " (want job_success, failure or sla_miss)");
    }
    if (w.endpoints.empty()) c.Error(p + ".endpoints", "missing required field (at least one url)");
    for (size_t j = 0; j < w.endpoints.size(); ++j) {
      const std::string ep = p + ".endpoints[" + std::to_string(j) + "].url";
      if (!IsHttpUrl(w.endpoints[j].url)) {
        c.Error(ep, "invalid url " + Quote(w.endpoints[j].url) + " (want http:// or https://)");
      }
    }
  }
}

// A hook's reason may start with the window field it is about ("size: ..."); the diagnostic
// then points at that field.
void ReportWindowProblem(JobChecker& c, const std::string& base, std::string problem) {
  std::string path = base;
  for (const char* field : {"size", "offset", "shift_by", "truncate_to", "location", "preset"}) {
    const std::string prefix = std::string(field) + ": ";
    if (problem.rfind(prefix, 0) == 0) {
      path = base + "." + field;
      problem = problem.substr(prefix.size());
      break;
    }
  }
  c.Error(path, problem);
}

std::string PresetKey(const std::string& preset) {
  std::string name = preset;
  if (!name.empty() && name.front() == '@') name.erase(0, 1);
  return internal::Lower(name);
}

void CheckWindow(JobChecker& c, const JobSpec& job, const JobValidationOptions& options) {
  const Window& w = job.task.window;
  if (job.version >= 3 && !w.offset.empty()) {
    c.Warning("task.window.offset", "ignored for version 3 (use shift_by)");
  }
  if (job.version > 0 && job.version < 3) {
    if (!w.shift_by.empty()) c.Warning("task.window.shift_by", "ignored before version 3");
    if (!w.location.empty()) c.Warning("task.window.location", "ignored before version 3");
  }
  if (!w.preset.empty() && options.presets != nullptr &&
      options.presets->count(PresetKey(w.preset)) == 0) {
    std::string known;
    for (const auto& [name, preset] : *options.presets) known += (known.empty() ? "" : ", ") + name;
    c.Error("task.window.preset", "unknown preset " + Quote(w.preset) + " (the project has: " +
                                      (known.empty() ? "none" : known) + ")");
    return;
  }
  if (options.hooks.check_window && job.version > 0) {
    Window checked = w;
    checked.version = job.version;
    if (std::string problem = options.hooks.check_window(checked); !problem.empty()) {
      ReportWindowProblem(c, "task.window", problem);
    }
  }
}

std::string KnownList(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none loaded" : out;
}

void CheckDependencies(JobChecker& c, const JobSpec& job) {
  std::set<std::string> seen;
  for (size_t i = 0; i < job.dependencies.size(); ++i) {
    const std::string p = "dependencies[" + std::to_string(i) + "]";
    const Dependency& d = job.dependencies[i];
    if (d.job.empty() && !d.http) {
      c.Error(p, "a dependency needs `job` (name or project/name) or `http`");
      continue;
    }
    if (!d.job.empty() && d.http) {
      c.Error(p, "a dependency has either `job` or `http`, not both");
    }
    if (!d.job.empty()) {
      const size_t slashes = std::count(d.job.begin(), d.job.end(), '/');
      if (slashes > 1 || d.name.empty() || (slashes == 1 && d.project.empty())) {
        c.Error(p + ".job", "invalid upstream " + Quote(d.job) + " (want name or project/name)");
      } else if (d.project.empty() && d.name == job.name) {
        c.Error(p + ".job", "a job cannot depend on itself");
      }
      if (!seen.insert("job:" + d.project + "/" + d.name).second) {
        c.Warning(p + ".job", "duplicate dependency " + Quote(d.job));
      }
    }
    if (d.http) {
      if (d.http->name.empty()) c.Error(p + ".http.name", "missing required field");
      if (!IsHttpUrl(d.http->url)) {
        c.Error(p + ".http.url",
                "invalid url " + Quote(d.http->url) + " (want http:// or https://)");
      }
      if (!d.http->name.empty() && !seen.insert("http:" + d.http->name).second) {
        c.Error(p + ".http.name", "duplicate http dependency " + Quote(d.http->name));
      }
    }
  }
}

// What the task's plugin needs of the job to form its destination and find its sources.
void CheckPluginNeeds(JobChecker& c, const JobSpec& job, const PluginSpec& plugin) {
  auto has_config = [&](const std::string& key) {
    return job.task.config.count(key) > 0 || plugin.default_config.count(key) > 0;
  };
  const std::string& tmpl = plugin.destination_urn_template;
  std::set<std::string> reported;
  for (size_t open = tmpl.find('<'); open != std::string::npos; open = tmpl.find('<', open + 1)) {
    const size_t close = tmpl.find('>', open);
    if (close == std::string::npos) break;
    const std::string key = tmpl.substr(open + 1, close - open - 1);
    if (key.empty() || has_config(key) || !reported.insert(key).second) continue;
    c.Error("task.config", "missing " + key + ": task plugin " + Quote(plugin.name) +
                               " forms the job's destination " + tmpl + " from it");
  }
  // A parser's evaluators are alternatives: the first that finds its asset or config key gives
  // the query. A job that offers none of them has no sources to find.
  for (const auto& [parser, evaluators] : plugin.asset_parsers) {
    std::vector<std::string> wanted;
    bool found = false;
    for (const AssetParser& e : evaluators) {
      std::string file = e.filepath;
      if (file.starts_with("./")) file = file.substr(2);
      if (!e.env.empty()) {
        found |= has_config(e.env);
        wanted.push_back("config " + e.env);
      } else if (!file.empty()) {
        found |= job.assets.count(file) > 0;
        wanted.push_back("asset " + file);
      }
    }
    if (found || wanted.empty()) continue;
    std::string list;
    for (size_t i = 0; i < wanted.size(); ++i) {
      list += (i == 0 ? "" : i + 1 == wanted.size() ? " or " : ", ") + wanted[i];
    }
    c.Error(wanted.front().starts_with("asset") ? "assets" : "task.config",
            "missing " + list + ": task plugin " + Quote(plugin.name) + "'s " + parser +
                " parser reads the job's query from it");
  }
}

void CheckMetadata(JobChecker& c, const Metadata& m) {
  auto quantity = [&](const std::string& path, const std::string& value) {
    if (!value.empty() && !IsQuantity(value)) {
      c.Error(path, "invalid quantity " + Quote(value) + " (want e.g. 250m, 1, 512Mi, 1Gi)");
    }
  };
  quantity("metadata.resource.request.cpu", m.request.cpu);
  quantity("metadata.resource.request.memory", m.request.memory);
  quantity("metadata.resource.limit.cpu", m.limit.cpu);
  quantity("metadata.resource.limit.memory", m.limit.memory);
}

}  // namespace

void ValidateJob(const JobSpec& job, const JobValidationOptions& options,
                 Diagnostics& diagnostics) {
  JobChecker c(job, diagnostics);
  if (job.version == 0) {
    c.Error("version", "missing required field (1, 2 or 3)");
  } else if (job.version < 1 || job.version > 3) {
    c.Error("version", "unsupported version " + std::to_string(job.version) + " (want 1, 2 or 3)");
  }
  c.Required("name", job.name, "the job name, unique in the project");
  if (!job.name.empty()) {
    if (auto problem = NameProblem(NameKind::kJob, job.name)) c.Error("name", *problem);
  }
  for (const auto& [asset, content] : job.assets) {
    if (auto problem = AssetNameProblem(asset)) c.Error("assets", *problem);
  }
  // Templates are parsed now, so that a typo fails validation and the deploy rather than the
  // job's runs.
  if (options.hooks.check_template) {
    const auto check = [&](const std::string& field, const std::string& name,
                           const std::string& text) {
      if (text.find("{{") == std::string::npos) return;
      if (std::string problem = options.hooks.check_template(name, text); !problem.empty()) {
        c.Error(field, problem);
      }
    };
    for (const auto& [key, value] : job.task.config) check("task.config." + key, key, value);
    for (size_t i = 0; i < job.hooks.size(); ++i) {
      for (const auto& [key, value] : job.hooks[i].config) {
        check("hooks[" + std::to_string(i) + "].config." + key, key, value);
      }
    }
    for (size_t i = 0; i < job.recipe.size(); ++i) {
      for (const auto& [key, value] : job.recipe[i].config) {
        check("recipe[" + std::to_string(i) + "].config." + key, key, value);
      }
    }
    for (const auto& [asset, content] : job.assets) check("assets", asset, content);
  }
  c.Required("owner", job.owner, "the team or e-mail responsible for the job");

  c.Required("schedule.start_date", job.schedule.start_date, "YYYY-MM-DD");
  if (!job.schedule.start_date.empty() && !IsDate(job.schedule.start_date)) {
    c.Error("schedule.start_date",
            "invalid date " + Quote(job.schedule.start_date) + " (want YYYY-MM-DD)");
  }
  if (!job.schedule.end_date.empty()) {
    if (!IsDate(job.schedule.end_date)) {
      c.Error("schedule.end_date",
              "invalid date " + Quote(job.schedule.end_date) + " (want YYYY-MM-DD)");
    } else if (IsDate(job.schedule.start_date) && job.schedule.end_date < job.schedule.start_date) {
      c.Error("schedule.end_date", "is before start_date " + Quote(job.schedule.start_date));
    }
  }
  if (!job.schedule.interval.empty() && options.hooks.check_cron) {
    if (std::string problem = options.hooks.check_cron(job.schedule.interval); !problem.empty()) {
      c.Error("schedule.interval", problem);
    }
  }

  CheckBehavior(c, job.behavior);

  if (job.recipe.empty()) {
    c.Required("task.name", job.task.name, "the task plugin, e.g. bq2bq");
    if (!job.task.name.empty() && options.known_plugins != nullptr &&
        options.known_plugins->count(job.task.name) == 0) {
      c.Error("task.name", "unknown task plugin " + Quote(job.task.name) +
                               " (known: " + KnownList(*options.known_plugins) + ")");
    }
  }
  for (size_t i = 0; i < job.recipe.size(); ++i) {
    const std::string p = "recipe[" + std::to_string(i) + "].name";
    const std::string& name = job.recipe[i].name;
    c.Required(p, name, "the task plugin");
    if (!name.empty() && options.known_plugins != nullptr &&
        options.known_plugins->count(name) == 0) {
      c.Error(p, "unknown task plugin " + Quote(name) +
                     " (known: " + KnownList(*options.known_plugins) + ")");
    }
  }
  if (job.recipe.empty() && options.plugins != nullptr) {
    if (auto p = options.plugins->find(job.task.name); p != options.plugins->end()) {
      CheckPluginNeeds(c, job, p->second);
    }
  }
  CheckWindow(c, job, options);
  CheckAlert(c, "task.alert", job.task.alert);

  std::set<std::string> hook_names;
  for (size_t i = 0; i < job.hooks.size(); ++i) {
    const std::string p = "hooks[" + std::to_string(i) + "]";
    const Hook& h = job.hooks[i];
    c.Required(p + ".name", h.name, "the hook plugin");
    if (h.name.empty()) continue;
    if (!hook_names.insert(h.name).second) {
      c.Error(p + ".name", "hook " + Quote(h.name) + " is listed twice");
    }
    if (options.known_plugins != nullptr && options.known_plugins->count(h.name) == 0) {
      c.Error(p + ".name", "unknown hook plugin " + Quote(h.name) +
                               " (known: " + KnownList(*options.known_plugins) + ")");
    }
    CheckAlert(c, p + ".alert", h.alert);
  }

  CheckDependencies(c, job);

  if (job.labels.size() > 32) {
    c.Error("labels", "has " + std::to_string(job.labels.size()) + " labels (at most 32)");
  }
  for (const auto& [key, value] : job.labels) {
    if (std::string problem = CheckLabel(key, value); !problem.empty()) {
      c.Error("labels." + key, problem);
    }
  }
  CheckMetadata(c, job.metadata);
}

void CheckUniqueJobNames(const std::vector<JobSpec>& jobs, Diagnostics& diagnostics) {
  std::map<std::string, const JobSpec*> first;
  for (const JobSpec& job : jobs) {
    if (job.name.empty()) continue;
    auto [it, inserted] = first.emplace(job.name, &job);
    if (!inserted) {
      diagnostics.Error(job.LocationOf("name"), "name",
                        "job name " + Quote(job.name) + " is also used by " + it->second->file +
                            " (job names must be unique in a project)");
    }
  }
}

void ValidatePresets(const std::map<std::string, Preset>& presets, const ValidationHooks& hooks,
                     Diagnostics& diagnostics) {
  for (const auto& [name, preset] : presets) {
    const std::string path = "presets." + name;
    if (preset.description.empty()) {
      diagnostics.Error(preset.location, path + ".description", "missing required field");
    }
    if (preset.window.size.empty()) {
      diagnostics.Error(preset.location, path + ".window.size", "missing required field");
    }
    if (hooks.check_window) {
      Window w = preset.window;
      w.version = 3;
      if (std::string problem = hooks.check_window(w); !problem.empty()) {
        diagnostics.Error(preset.location, path + ".window", problem);
      }
    }
  }
}

}  // namespace optimus::spec
