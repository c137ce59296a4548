// What `job create` and `job addhook` share: the project and its plugins, and a plugin's
// questions turned into config and assets.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "optimus/spec/model.h"
#include "optimus/spec/project_reader.h"
#include "prompter.h"

namespace optimus::cli {

struct AuthoringProject {
  spec::Project project;
  std::vector<spec::PluginSpec> plugins;
};

// Reads the project in `dir` (config `config`) and the plugins of `plugin_dirs` (default:
// dir/.plugins). Prints problems to `err` and returns nullopt when either cannot be used.
std::optional<AuthoringProject> ReadAuthoringProject(const std::filesystem::path& dir,
                                                     const std::string& config,
                                                     std::vector<std::filesystem::path> plugin_dirs,
                                                     const std::string& command, std::ostream& err);

// A version 1 plugin of type hook is a hook; every other plugin can run as a task.
bool IsHookPlugin(const spec::PluginSpec& plugin);

// Asks the plugin's questions in order, and the sub-questions an answer opens, then adds the
// plugin's default config (answers win over defaults). Returns false when an answer is missing
// or refused (the prompter lists why).
bool AskPluginQuestions(const spec::PluginSpec& plugin, Prompter& ask, spec::StringMap& config);

// The plugin's default assets (version 1 `defaultassets`), by file name.
spec::StringMap PluginDefaultAssets(const spec::PluginSpec& plugin);

}  // namespace optimus::cli
