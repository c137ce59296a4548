// Reading the project and plugins for the authoring commands, and asking plugin questions.
#include "plugin_questions.h"

#include <functional>

namespace optimus::cli {

namespace fs = std::filesystem;

std::optional<AuthoringProject> ReadAuthoringProject(const fs::path& dir, const std::string& config,
                                                     std::vector<fs::path> plugin_dirs,
                                                     const std::string& command,
                                                     std::ostream& err) {
  spec::Diagnostics diagnostics;
  auto project = spec::ReadProject(dir, config, diagnostics);
  if (!project) {
    err << command << ": cannot read the project in " << dir.generic_string() << ":\n"
        << diagnostics.ToString();
    return std::nullopt;
  }
  if (plugin_dirs.empty()) plugin_dirs.push_back(dir / ".plugins");
  spec::Diagnostics plugin_diagnostics;
  auto plugins = spec::ReadPlugins(plugin_dirs, {dir}, plugin_diagnostics);
  if (plugin_diagnostics.HasErrors()) {
    err << command << ": the plugins have problems:\n" << plugin_diagnostics.ToString();
    return std::nullopt;
  }
  if (plugins.empty()) {
    err << command << ": no plugins found in";
    for (const auto& d : plugin_dirs) err << " " << d.generic_string();
    err << " (files named optimus-plugin-<name>.yaml; give folders with --plugins DIR)\n";
    return std::nullopt;
  }
  return AuthoringProject{std::move(*project), std::move(plugins)};
}

bool IsHookPlugin(const spec::PluginSpec& plugin) { return plugin.plugin_type == "hook"; }

namespace {

bool AskQuestions(const std::vector<spec::Question>& questions, Prompter& ask,
                  spec::StringMap& config) {
  bool ok = true;
  for (const spec::Question& q : questions) {
    Ask a{.key = q.name,
          .prompt = q.prompt.empty() ? q.name : q.prompt,
          .help = q.help,
          .default_value = q.default_value,
          .options = q.multiselect,
          .required = q.required || q.min_length > 0,
          .check = [&q](const std::string& answer) { return q.CheckAnswer(answer); }};
    auto answer = ask.Get(a);
    if (!answer) {
      ok = false;
      continue;
    }
    config[q.name] = *answer;
    for (const spec::SubQuestion& sub : q.sub_questions) {
      if (sub.if_value == *answer) ok = AskQuestions(sub.questions, ask, config) && ok;
    }
  }
  return ok;
}

}  // namespace

bool AskPluginQuestions(const spec::PluginSpec& plugin, Prompter& ask, spec::StringMap& config) {
  const bool ok = AskQuestions(plugin.questions, ask, config);
  for (const spec::NameValue& nv : plugin.default_config_list) config.emplace(nv.name, nv.value);
  for (const auto& [name, value] : plugin.default_config) config.emplace(name, value);
  return ok;
}

spec::StringMap PluginDefaultAssets(const spec::PluginSpec& plugin) {
  spec::StringMap assets;
  for (const spec::NameValue& nv : plugin.default_assets) assets[nv.name] = nv.value;
  return assets;
}

}  // namespace optimus::cli
