// Loads YAML plugin specs, version 1 (questions, defaults) and version 2 (plugin_versions).
#include <algorithm>
#include <regex>
#include <set>
#include <string>

#include "checks.h"
#include "optimus/spec/loaders.h"
#include "yaml_reader.h"

namespace optimus::spec {
namespace {

using internal::IndexPath;
using internal::JoinPath;
using internal::Quote;
using internal::YamlNode;
using internal::YamlReader;

// Go's regexp syntax is close to ECMAScript for what plugin authors write; "" when it compiles.
std::string RegexProblem(const std::string& pattern) {
  try {
    std::regex re(pattern);
  } catch (const std::regex_error& e) {
    return e.what();
  }
  return "";
}

void LoadQuestions(YamlReader& r, const YamlNode& list, const std::string& path,
                   std::vector<Question>& out, std::set<std::string>& names) {
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string p = IndexPath(path, i);
    const YamlNode& item = list[i];
    if (!r.ExpectMap(item, p)) continue;
    r.CheckKeys(item, p,
                {"name", "prompt", "help", "default", "multiselect", "regexp", "validationerror",
                 "minlength", "maxlength", "required", "subquestions"});
    Question q;
    r.String(item, "name", p, q.name);
    r.String(item, "prompt", p, q.prompt);
    r.String(item, "help", p, q.help);
    r.String(item, "default", p, q.default_value);
    r.Strings(item, "multiselect", p, q.multiselect);
    r.String(item, "regexp", p, q.regexp);
    r.String(item, "validationerror", p, q.validation_error);
    r.Int(item, "minlength", p, q.min_length);
    r.Int(item, "maxlength", p, q.max_length);
    r.Bool(item, "required", p, q.required);

    if (q.name.empty()) {
      r.Error(item, JoinPath(p, "name"), "missing required field (the config key it answers)");
    } else if (!names.insert(q.name).second) {
      r.Error(item, JoinPath(p, "name"), "question " + Quote(q.name) + " is asked twice");
    }
    bool regexp_ok = true;
    if (!q.regexp.empty()) {
      if (std::string problem = RegexProblem(q.regexp); !problem.empty()) {
        r.Error(item["regexp"], JoinPath(p, "regexp"),
                "invalid regular expression " + Quote(q.regexp) + ": " + problem);
        regexp_ok = false;
      }
    }
    if (q.min_length < 0)
      r.Error(item["minlength"], JoinPath(p, "minlength"), "must not be negative");
    if (q.max_length < 0)
      r.Error(item["maxlength"], JoinPath(p, "maxlength"), "must not be negative");
    if (q.max_length > 0 && q.min_length > q.max_length) {
      r.Error(item["minlength"], JoinPath(p, "minlength"),
              "minlength " + std::to_string(q.min_length) + " is larger than maxlength " +
                  std::to_string(q.max_length));
    }
    if (!q.default_value.empty() && regexp_ok) {
      if (std::string problem = q.CheckAnswer(q.default_value); !problem.empty()) {
        r.Error(item["default"], JoinPath(p, "default"),
                "default " + Quote(q.default_value) + " is not a valid answer: " + problem);
      }
    }
    if (auto subs = r.GetList(item, "subquestions", JoinPath(p, "subquestions"))) {
      for (size_t j = 0; j < subs->size(); ++j) {
        const std::string sp = IndexPath(JoinPath(p, "subquestions"), j);
        const YamlNode& sub = (*subs)[j];
        if (!r.ExpectMap(sub, sp)) continue;
        r.CheckKeys(sub, sp, {"ifvalue", "questions"});
        SubQuestion sq;
        r.String(sub, "ifvalue", sp, sq.if_value);
        if (sq.if_value.empty()) {
          r.Error(sub, JoinPath(sp, "ifvalue"),
                  "missing required field (the answer that asks these)");
        } else if (!q.multiselect.empty() && std::find(q.multiselect.begin(), q.multiselect.end(),
                                                       sq.if_value) == q.multiselect.end()) {
          r.Error(sub["ifvalue"], JoinPath(sp, "ifvalue"),
                  Quote(sq.if_value) + " is not one of the choices of " + Quote(q.name));
        }
        if (auto qs = r.GetList(sub, "questions", JoinPath(sp, "questions"))) {
          LoadQuestions(r, *qs, JoinPath(sp, "questions"), sq.questions, names);
        }
        if (sq.questions.empty()) {
          r.Warning(sub, JoinPath(sp, "questions"), "no questions for this answer");
        }
        q.sub_questions.push_back(std::move(sq));
      }
    }
    out.push_back(std::move(q));
  }
}

void LoadNameValues(YamlReader& r, const YamlNode& map, const char* key,
                    std::vector<NameValue>& out) {
  auto list = r.GetList(map, key, key);
  if (!list) return;
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string p = IndexPath(key, i);
    const YamlNode& item = (*list)[i];
    if (!r.ExpectMap(item, p)) continue;
    r.CheckKeys(item, p, {"name", "value"});
    NameValue nv;
    r.String(item, "name", p, nv.name);
    r.String(item, "value", p, nv.value);
    if (nv.name.empty()) r.Error(item, JoinPath(p, "name"), "missing required field");
    out.push_back(std::move(nv));
  }
}

void LoadEntrypoint(YamlReader& r, const YamlNode& map, const std::string& prefix,
                    Entrypoint& out) {
  const std::string p = JoinPath(prefix, "entrypoint");
  if (auto e = r.GetMap(map, "entrypoint", p)) {
    r.CheckKeys(*e, p, {"shell", "script"});
    r.String(*e, "shell", p, out.shell);
    r.String(*e, "script", p, out.script);
  }
}

void LoadAssetParsers(YamlReader& r, const YamlNode& root, PluginSpec& spec) {
  auto parsers = r.GetMap(root, "asset_parsers", "asset_parsers");
  if (!parsers) return;
  for (const auto& kv : (*parsers).entries()) {
    std::string kind;
    if (!r.ToString(kv.first, "asset_parsers", kind)) continue;
    const std::string p = "asset_parsers." + kind;
    if (kind != "bq" && kind != "maxcompute" && kind != "sqlite" && kind != "postgres") {
      r.Error(kv.first, p,
              "unknown parser " + Quote(kind) + " (want bq, maxcompute, sqlite or postgres)");
    }
    if (!r.ExpectList(kv.second, p)) continue;
    auto& list = spec.asset_parsers[kind];
    for (size_t i = 0; i < kv.second.size(); ++i) {
      const std::string ip = IndexPath(p, i);
      const YamlNode& item = kv.second[i];
      if (!r.ExpectMap(item, ip)) continue;
      r.CheckKeys(item, ip, {"filepath", "selector", "env"});
      AssetParser a;
      r.String(item, "filepath", ip, a.filepath);
      r.String(item, "selector", ip, a.selector);
      r.String(item, "env", ip, a.env);
      if (a.filepath.empty() == a.env.empty()) {
        r.Error(item, ip, "a parser reads either `filepath` or `env`, exactly one of them");
      } else if (!a.selector.empty() && a.filepath.empty()) {
        r.Error(item, JoinPath(ip, "selector"), "a selector needs a filepath");
      }
      list.push_back(std::move(a));
    }
  }
}

}  // namespace

std::string Question::CheckAnswer(const std::string& answer) const {
  if (answer.empty()) return required ? "a value is required" : "";
  if (!multiselect.empty() &&
      std::find(multiselect.begin(), multiselect.end(), answer) == multiselect.end()) {
    std::string choices;
    for (const auto& m : multiselect) choices += (choices.empty() ? "" : ", ") + m;
    return "want one of " + choices;
  }
  const int length = static_cast<int>(answer.size());
  if (min_length > 0 && length < min_length) {
    return "at least " + std::to_string(min_length) + " characters";
  }
  if (max_length > 0 && length > max_length) {
    return "at most " + std::to_string(max_length) + " characters";
  }
  if (!regexp.empty()) {
    try {
      if (!std::regex_search(answer, std::regex(regexp))) {
        return validation_error.empty() ? "does not match " + Quote(regexp) : validation_error;
      }
    } catch (const std::regex_error& e) {
      return "invalid regular expression " + Quote(regexp) + ": " + e.what();
    }
  }
  return "";
}

PluginVersion PluginSpec::Resolve(const std::string& version) const {
  PluginVersion out;
  if (spec_version < 2) {
    out.image = image;
    // v1 images usually carry their tag already; pluginversion is then just informative.
    const size_t slash = image.rfind('/');
    const bool tagged =
        image.find(':', slash == std::string::npos ? 0 : slash) != std::string::npos;
    if (!tagged) out.tag = plugin_version;
    out.entrypoint = entrypoint;
  } else {
    if (auto it = plugin_versions.find("default"); it != plugin_versions.end()) out = it->second;
    if (auto it = plugin_versions.find(version); !version.empty() && it != plugin_versions.end()) {
      const PluginVersion& v = it->second;
      if (!v.image.empty()) out.image = v.image;
      if (!v.tag.empty()) out.tag = v.tag;
      if (!v.entrypoint.shell.empty()) out.entrypoint.shell = v.entrypoint.shell;
      if (!v.entrypoint.script.empty()) out.entrypoint.script = v.entrypoint.script;
    }
  }
  if (out.entrypoint.shell.empty()) out.entrypoint.shell = "/bin/sh";
  return out;
}

std::string PluginSpec::ImageFor(const std::string& version) const {
  const PluginVersion v = Resolve(version);
  return v.tag.empty() ? v.image : v.image + ":" + v.tag;
}

// What both versions share: plugintype (task | hook) and, for a hook, hooktype (pre | post |
// fail); the questions and default assets of `job create`. Version 1 requires plugintype;
// version 2 (where Optimus has no such field) takes "task" when it is absent.
void LoadAuthoring(YamlReader& r, const YamlNode& root, PluginSpec& spec, bool type_required) {
  r.String(root, "plugintype", "", spec.plugin_type);
  r.String(root, "hooktype", "", spec.hook_type);
  std::set<std::string> names;
  if (auto qs = r.GetList(root, "questions", "questions")) {
    LoadQuestions(r, *qs, "questions", spec.questions, names);
  }
  LoadNameValues(r, root, "defaultassets", spec.default_assets);
  if (spec.plugin_type.empty() && !type_required) spec.plugin_type = "task";
  if (spec.plugin_type != "task" && spec.plugin_type != "hook") {
    r.Error(root["plugintype"].IsDefined() ? root["plugintype"] : root, "plugintype",
            spec.plugin_type.empty()
                ? "missing required field (task or hook)"
                : "unknown plugin type " + Quote(spec.plugin_type) + " (want task or hook)");
  }
  if (spec.plugin_type == "hook") {
    if (spec.hook_type.empty()) {
      r.Error(root, "hooktype", "missing required field for a hook (pre, post or fail)");
    } else if (spec.hook_type != "pre" && spec.hook_type != "post" && spec.hook_type != "fail") {
      r.Error(root["hooktype"], "hooktype",
              "unknown hook type " + Quote(spec.hook_type) + " (want pre, post or fail)");
    }
  } else if (!spec.hook_type.empty()) {
    r.Error(root["hooktype"], "hooktype", "only a hook has a hook type (plugintype: hook)");
  }
}

std::optional<PluginSpec> LoadPluginSpec(const std::string& path, const std::string& content,
                                         Diagnostics& diagnostics) {
  YamlReader r(path, diagnostics);
  auto root_or = r.ParseMap(content);
  if (!root_or) return std::nullopt;
  const YamlNode& root = *root_or;
  PluginSpec spec;
  spec.file = path;
  {
    int version = 1;
    r.Int(root, "version", "", version);
    if (version != 1 && version != 2) {
      r.Error(root["version"], "version",
              "unsupported plugin spec version " + std::to_string(version) + " (want 1 or 2)");
      return std::nullopt;
    }
    spec.spec_version = version;
    r.String(root, "name", "", spec.name);
    r.String(root, "description", "", spec.description);
    r.String(root, "destination_urn_template", "", spec.destination_urn_template);
    LoadAssetParsers(r, root, spec);
    if (spec.name.empty()) r.Error(root, "name", "missing required field (the plugin name)");

    if (version == 1) {
      r.CheckKeys(
          root, "",
          {"version", "name", "description", "plugintype", "pluginmods", "pluginversion", "image",
           "secretpath", "entrypoint", "hooktype", "dependson", "apiversion", "asset_parsers",
           "destination_urn_template", "questions", "defaultconfig", "defaultassets"});
      r.Strings(root, "pluginmods", "", spec.plugin_mods);
      r.String(root, "pluginversion", "", spec.plugin_version);
      r.String(root, "image", "", spec.image);
      r.String(root, "secretpath", "", spec.secret_path);
      LoadEntrypoint(r, root, "", spec.entrypoint);
      r.Strings(root, "dependson", "", spec.depends_on);
      r.Strings(root, "apiversion", "", spec.api_version);
      LoadNameValues(r, root, "defaultconfig", spec.default_config_list);
      for (const auto& nv : spec.default_config_list) spec.default_config[nv.name] = nv.value;
      LoadAuthoring(r, root, spec, /*type_required=*/true);
      for (size_t i = 0; i < spec.plugin_mods.size(); ++i) {
        const std::string& mod = spec.plugin_mods[i];
        if (mod != "cli" && mod != "dependencyresolver") {
          r.Error(root["pluginmods"][i], IndexPath("pluginmods", i),
                  "unknown plugin mod " + Quote(mod) + " (want cli or dependencyresolver)");
        }
      }
      if (spec.image.empty()) r.Error(root, "image", "missing required field (the docker image)");
    } else {
      // Optimus's version 2 fields, and ours that Optimus ignores (it reads version 2 files
      // leniently): what `job create` asks and writes, and whether the plugin is a hook.
      r.CheckKeys(root, "",
                  {"version", "name", "description", "destination_urn_template", "asset_parsers",
                   "plugin_versions", "default_config", "plugintype", "hooktype", "questions",
                   "defaultassets"});
      r.Map(root, "default_config", "", spec.default_config);
      LoadAuthoring(r, root, spec, /*type_required=*/false);
      auto versions = r.GetMap(root, "plugin_versions", "plugin_versions");
      if (!versions) {
        r.Error(root, "plugin_versions", "missing required field (with a \"default\" entry)");
      } else {
        for (const auto& kv : (*versions).entries()) {
          std::string name;
          if (!r.ToString(kv.first, "plugin_versions", name)) continue;
          const std::string p = "plugin_versions." + name;
          if (!r.ExpectMap(kv.second, p)) continue;
          r.CheckKeys(kv.second, p, {"image", "tag", "entrypoint"});
          PluginVersion v;
          r.String(kv.second, "image", p, v.image);
          r.String(kv.second, "tag", p, v.tag);
          LoadEntrypoint(r, kv.second, p, v.entrypoint);
          spec.plugin_versions[name] = std::move(v);
        }
        auto def = spec.plugin_versions.find("default");
        if (def == spec.plugin_versions.end()) {
          r.Error(*versions, "plugin_versions.default", "missing required field");
        } else {
          const YamlNode& node = (*versions)["default"];
          if (def->second.image.empty()) {
            r.Error(node, "plugin_versions.default.image", "missing required field");
          }
          if (def->second.tag.empty()) {
            r.Error(node, "plugin_versions.default.tag", "missing required field");
          }
          if (def->second.entrypoint.script.empty()) {
            r.Error(node, "plugin_versions.default.entrypoint.script", "missing required field");
          }
        }
      }
    }
  }
  return spec;
}

}  // namespace optimus::spec
