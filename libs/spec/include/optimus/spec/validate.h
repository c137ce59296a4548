// Validation of loaded job specs and presets; window and cron grammar come from the caller.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "optimus/spec/diagnostics.h"
#include "optimus/spec/model.h"

namespace optimus::spec {

// Checks this library leaves to libs/schedule. Each returns "" when the value is fine, else
// the reason (put into the diagnostic). An empty std::function skips that check.
struct ValidationHooks {
  std::function<std::string(std::string_view cron)> check_cron;
  std::function<std::string(const Window&)> check_window;
  // Parses a template (an asset, or a config value holding "{{"): "" when it parses and names
  // only known functions, else why not.
  std::function<std::string(std::string_view name, std::string_view text)> check_template;
};

struct JobValidationOptions {
  ValidationHooks hooks;
  // Names of the loaded task/hook plugins; nullptr skips the plugin check.
  const std::set<std::string>* known_plugins = nullptr;
  // Project presets by lower-case name; nullptr skips the preset check.
  const std::map<std::string, Preset>* presets = nullptr;
  // The loaded plugins by name; with them, a job's task config must hold every key its
  // plugin's destination template and env asset parsers name, and the job every asset its
  // plugin's file asset parsers read. nullptr skips these checks.
  const std::map<std::string, PluginSpec>* plugins = nullptr;
};

// Checks one job after inheritance: required fields, values and references.
void ValidateJob(const JobSpec& job, const JobValidationOptions& options, Diagnostics& diagnostics);

// Job names are unique per project (reference §3.3): every repeat is an error naming both files.
void CheckUniqueJobNames(const std::vector<JobSpec>& jobs, Diagnostics& diagnostics);

// Each preset needs a description and a window the hook accepts (version 3 grammar).
void ValidatePresets(const std::map<std::string, Preset>& presets, const ValidationHooks& hooks,
                     Diagnostics& diagnostics);

// Label rules (reference §3.4): at most 32; key and value at most 63 characters of lower-case
// [a-z0-9_-], starting and ending with a letter or digit. "" when fine.
std::string CheckLabel(const std::string& key, const std::string& value);

// True for Go durations like "5s", "2h45m", "-1.5h".
bool IsGoDuration(std::string_view text);

}  // namespace optimus::spec
