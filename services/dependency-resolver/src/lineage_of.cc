// Destination and sources of one job.
#include "optimus/dependency_resolver/lineage_of.h"

#include <algorithm>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "optimus/lineage/sql_tables.h"
#include "optimus/lineage/urn.h"
#include "optimus/spec/stored_spec.h"
#include "optimus/template/optimus_funcs.h"

namespace optimus::dependency_resolver {

std::map<std::string, std::string> CompileConfig(const std::map<std::string, std::string>& config,
                                                 const events::v1::ProjectRecord* project,
                                                 const std::string& namespace_name) {
  bool templated = false;
  for (const auto& [k, v] : config) templated = templated || v.find("{{") != std::string::npos;
  if (!templated) return config;
  tmpl::Map globals;
  auto add = [&globals](const auto& map) {
    for (const auto& [k, v] : map) globals["GLOBAL__" + absl::AsciiStrToUpper(k)] = tmpl::Value(v);
  };
  if (project != nullptr) {
    add(project->config());
    add(project->variables());
    for (const auto& ns : project->namespaces()) {
      if (ns.name() != namespace_name) continue;
      add(ns.config());
      add(ns.variables());
    }
  }
  const tmpl::Value data(std::move(globals));
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : config) {
    if (v.find("{{") == std::string::npos) {
      out[k] = v;
      continue;
    }
    auto rendered = tmpl::CompileString(k, v, data, tmpl::FuncContext{});
    out[k] = rendered.ok() ? *rendered : v;
  }
  return out;
}

std::vector<std::string> UpstreamProjects(const events::v1::ProjectRecord* project) {
  std::vector<std::string> out;
  if (project == nullptr) return out;
  auto it = project->config().find("UPSTREAM_PROJECTS");
  if (it == project->config().end()) return out;
  for (absl::string_view part : absl::StrSplit(it->second, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (!part.empty()) out.emplace_back(part.data(), part.size());
  }
  std::sort(out.begin(), out.end());
  return out;
}

LineageResult LineageOf(const events::v1::JobSpecRecord& record,
                        const events::v1::ProjectRecord* project,
                        const std::map<std::string, spec::PluginSpec>& plugins,
                        const std::map<std::string, std::string>& blob_assets) {
  LineageResult result;
  JobLineage& l = result.lineage;
  l.project = record.project();
  l.namespace_name = record.namespace_();
  l.name = record.name();
  l.upstream_projects = UpstreamProjects(project);
  spec::Diagnostics diagnostics;
  auto job = spec::LoadStoredJobSpec(record.name() + "/job.yaml", record.spec_yaml(), diagnostics);
  if (!job) {
    result.error = "the stored spec does not load: " + diagnostics.ToString();
    return result;
  }
  result.task = job->task.name;
  for (const auto& hook : job->hooks) result.hooks.push_back(hook.name);
  for (const auto& d : job->dependencies) {
    if (!d.job.empty()) l.static_upstreams.push_back(d.job);
  }
  auto plugin = plugins.find(job->task.name);
  if (plugin == plugins.end()) {
    result.error = "unknown task plugin \"" + job->task.name + "\" (not installed on the server)";
    return result;
  }
  const auto config = CompileConfig(job->task.config, project, record.namespace_());
  if (!plugin->second.destination_urn_template.empty()) {
    auto urn = lineage::RenderUrnTemplate(plugin->second.destination_urn_template, config);
    if (!urn.ok()) {
      result.error = std::string(urn.status().message());
      return result;
    }
    l.destination = *urn;
  }
  std::map<std::string, std::string> assets = blob_assets;
  for (const auto& a : record.assets()) {
    if (a.content_case() == events::v1::Asset::kInline) assets[a.name()] = a.inline_();
  }
  const auto default_project = config.find("PROJECT");
  for (const auto& [kind, parsers] : plugin->second.asset_parsers) {
    for (const spec::AssetParser& parser : parsers) {
      std::string sql;
      if (!parser.env.empty()) {
        auto it = config.find(parser.env);
        if (it == config.end()) continue;
        sql = it->second;
      } else if (!parser.filepath.empty() && parser.selector.empty()) {
        std::string name = parser.filepath;
        if (name.rfind("./", 0) == 0) name = name.substr(2);
        auto it = assets.find(name);
        if (it == assets.end()) continue;
        sql = it->second;
      } else {
        continue;  // YAML assets with a JSONPath selector: not read yet
      }
      for (const auto& ref : lineage::ExtractSqlTables(sql).sources) {
        auto urn = lineage::TableUrn(
            kind, ref, default_project == config.end() ? "" : default_project->second);
        if (urn) {
          l.sources.push_back(*urn);
        } else {
          l.unnamed_sources.push_back(ref.ToString());
        }
      }
    }
  }
  // A job reading the table it writes (MERGE, incremental loads) does not list it as a source:
  // it is its destination, and no upstream of its own.
  std::erase(l.sources, l.destination);
  std::sort(l.sources.begin(), l.sources.end());
  l.sources.erase(std::unique(l.sources.begin(), l.sources.end()), l.sources.end());
  std::sort(l.unnamed_sources.begin(), l.unnamed_sources.end());
  l.unnamed_sources.erase(std::unique(l.unnamed_sources.begin(), l.unnamed_sources.end()),
                          l.unnamed_sources.end());
  return result;
}

events::v1::JobResolution BuildResolution(const events::v1::JobSpecRecord& spec,
                                          const JobLineage* lineage, const Resolution& resolution) {
  events::v1::JobResolution jr;
  jr.set_project(spec.project());
  jr.set_namespace_(spec.namespace_());
  jr.set_name(spec.name());
  jr.set_spec_version(spec.version());
  jr.set_spec_yaml(spec.spec_yaml());
  if (lineage != nullptr) {
    jr.set_destination(lineage->destination);
    for (const auto& s : lineage->sources) jr.add_sources(s);
    jr.set_priority_weight(PriorityWeight(*lineage, resolution));
  }
  for (const auto& other : resolution.shared_destination) jr.add_shared_destination(other);
  for (const Upstream& u : resolution.upstreams) {
    auto* up = jr.add_upstreams();
    up->set_project(u.project);
    up->set_namespace_(u.namespace_name);
    up->set_name(u.name);
    up->set_via(u.via);
  }
  for (const auto& s : resolution.unknown_sources) jr.add_unknown_sources(s);
  for (const auto& s : resolution.unknown_statics) jr.add_unknown_upstreams(s);
  for (const auto& c : resolution.cycle) jr.add_cycle(c);
  return jr;
}

}  // namespace optimus::dependency_resolver
