// The file-system side of libs/spec: discovers jobs, this.yaml parents, assets, resources and
// plugins, and hands file contents to the pure loaders.
#include "optimus/spec/project_reader.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

#include "optimus/spec/inherit.h"
#include "optimus/spec/loaders.h"

namespace optimus::spec {
namespace {

namespace fs = std::filesystem;

std::string Shown(const fs::path& path, const ReadOptions& options) {
  if (options.display_base.empty()) return path.generic_string();
  std::error_code ec;
  fs::path rel = fs::relative(path, options.display_base, ec);
  if (ec || rel.empty()) return path.generic_string();
  return rel.generic_string();
}

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Directories under `root` (itself included) in sorted order, not entering a job's assets/.
std::vector<fs::path> Directories(const fs::path& root, Diagnostics& diagnostics,
                                  const ReadOptions& options) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    diagnostics.Error(Location{Shown(root, options), 0, 0}, "",
                      "not a directory (check the path in optimus.yaml)");
    return out;
  }
  out.push_back(root);
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec)) out.push_back(it->path());
  }
  if (ec) {
    diagnostics.Error(Location{Shown(root, options), 0, 0}, "",
                      "cannot list the directory: " + ec.message());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The regular files directly in `dir`, sorted.
std::vector<fs::path> Files(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file(ec)) out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::optional<std::string> ReadFile(const fs::path& path, const std::string& shown,
                                    Diagnostics& diagnostics) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diagnostics.Error(Location{shown, 0, 0}, "", "cannot open the file");
    return std::nullopt;
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) {
    diagnostics.Error(Location{shown, 0, 0}, "", "cannot read the file");
    return std::nullopt;
  }
  return content.str();
}

std::vector<JobSpec> ReadJobs(const fs::path& job_root, const std::string& namespace_name,
                              const ReadOptions& options, Diagnostics& diagnostics) {
  std::vector<JobSpec> jobs;
  const fs::path root = job_root.lexically_normal();
  std::map<fs::path, std::optional<JobSpec>> parents;  // this.yaml per dir, read once
  auto parent_of = [&](const fs::path& dir) -> const std::optional<JobSpec>& {
    auto it = parents.find(dir);
    if (it != parents.end()) return it->second;
    std::optional<JobSpec> spec;
    const fs::path file = dir / "this.yaml";
    std::error_code ec;
    if (fs::is_regular_file(file, ec)) {
      const std::string shown = Shown(file, options);
      if (auto content = ReadFile(file, shown, diagnostics)) {
        spec = LoadJobSpec(shown, *content, diagnostics);
      }
    }
    return parents.emplace(dir, std::move(spec)).first->second;
  };

  std::set<fs::path> job_dirs;  // A set: looked up for every ancestor of every directory.
  for (const fs::path& dir : Directories(root, diagnostics, options)) {
    // A job's assets may hold anything, including files named like specs.
    bool in_assets = false;
    for (fs::path p = dir; p != root && p.has_parent_path() && p != p.parent_path();
         p = p.parent_path()) {
      if (p.filename() == "assets" && job_dirs.count(p.parent_path()) > 0) {
        in_assets = true;
        break;
      }
    }
    if (in_assets) continue;

    std::vector<fs::path> specs;
    for (const fs::path& file : Files(dir)) {
      if (EndsWith(file.filename().string(), "job.yaml")) specs.push_back(file);
    }
    if (specs.empty()) continue;
    job_dirs.insert(dir);
    for (size_t i = 1; i < specs.size(); ++i) {
      diagnostics.Warning(
          Location{Shown(specs[i], options), 0, 0}, "",
          "ignored: " + Shown(specs[0], options) + " is already the job spec of this directory");
    }
    const std::string shown = Shown(specs[0], options);
    auto content = ReadFile(specs[0], shown, diagnostics);
    if (!content) continue;
    auto job = LoadJobSpec(shown, *content, diagnostics);
    if (!job) continue;
    job->namespace_name = namespace_name;

    // Nearest first: the job's own dir, then each ancestor up to the walk root.
    for (fs::path p = dir;; p = p.parent_path()) {
      if (const auto& parent = parent_of(p)) InheritFrom(*job, *parent);
      if (p == root || !p.has_parent_path() || p == p.parent_path()) break;
    }

    const fs::path assets = dir / "assets";
    std::error_code ec;
    if (fs::is_directory(assets, ec)) {
      fs::recursive_directory_iterator it(assets, ec);
      for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_regular_file(ec)) continue;
        const std::string key = fs::relative(it->path(), assets).generic_string();
        if (auto data = ReadFile(it->path(), Shown(it->path(), options), diagnostics)) {
          job->assets[key] = std::move(*data);
        }
      }
      if (ec) {
        diagnostics.Error(Location{Shown(assets, options), 0, 0}, "",
                          "cannot list the assets: " + ec.message());
      }
    }
    jobs.push_back(std::move(*job));
  }
  return jobs;
}

std::vector<ResourceSpec> ReadResources(const fs::path& root, const std::string& namespace_name,
                                        const std::string& datastore, const ReadOptions& options,
                                        Diagnostics& diagnostics) {
  std::vector<ResourceSpec> out;
  for (const fs::path& dir : Directories(root.lexically_normal(), diagnostics, options)) {
    const fs::path file = dir / "resource.yaml";
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) continue;
    const std::string shown = Shown(file, options);
    auto content = ReadFile(file, shown, diagnostics);
    if (!content) continue;
    if (auto res = LoadResourceSpec(shown, *content, datastore, diagnostics)) {
      res->namespace_name = namespace_name;
      out.push_back(std::move(*res));
    }
  }
  return out;
}

std::vector<PluginSpec> ReadPlugins(const std::vector<fs::path>& dirs, const ReadOptions& options,
                                    Diagnostics& diagnostics) {
  std::vector<PluginSpec> out;
  std::map<std::string, std::string> seen_files;  // file name -> first path
  std::map<std::string, std::string> seen_names;  // plugin name -> file
  for (const fs::path& dir : dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    for (const fs::path& file : Files(dir)) {
      const std::string name = file.filename().string();
      if (name.rfind("optimus-plugin-", 0) != 0 || !EndsWith(name, ".yaml")) continue;
      // The same file name in a later directory is shadowed, as in Optimus discovery.
      if (!seen_files.emplace(name, Shown(file, options)).second) continue;
      const std::string shown = Shown(file, options);
      auto content = ReadFile(file, shown, diagnostics);
      if (!content) continue;
      auto spec = LoadPluginSpec(shown, *content, diagnostics);
      if (!spec || spec->name.empty()) continue;
      if (auto [it, inserted] = seen_names.emplace(spec->name, shown); !inserted) {
        diagnostics.Error(Location{shown, 0, 0}, "name",
                          "plugin \"" + spec->name + "\" is also defined in " + it->second);
        continue;
      }
      out.push_back(std::move(*spec));
    }
  }
  return out;
}

std::optional<Project> ReadProject(const fs::path& project_dir, const std::string& config_file,
                                   Diagnostics& diagnostics) {
  ReadOptions options{project_dir};
  const fs::path config_path = project_dir / config_file;
  auto content = ReadFile(config_path, config_file, diagnostics);
  if (!content) return std::nullopt;
  auto config = LoadClientConfig(config_file, *content, diagnostics);
  if (!config) return std::nullopt;
  Project project;
  project.config = *config;
  if (!config->preset_path.empty()) {
    const fs::path preset_file = project_dir / config->preset_path;
    const std::string shown = Shown(preset_file, options);
    if (auto presets = ReadFile(preset_file, shown, diagnostics)) {
      project.presets = LoadPresets(shown, *presets, diagnostics);
    }
  }
  for (const NamespaceConfig& ns : config->namespaces) {
    if (!ns.job_path.empty()) {
      auto jobs = ReadJobs(project_dir / ns.job_path, ns.name, options, diagnostics);
      for (auto& job : jobs) project.jobs.push_back(std::move(job));
    }
    for (const Datastore& store : ns.datastores) {
      if (store.path.empty()) continue;
      auto resources =
          ReadResources(project_dir / store.path, ns.name, store.type, options, diagnostics);
      for (auto& r : resources) project.resources.push_back(std::move(r));
    }
  }
  return project;
}

void ValidateProject(const Project& project, const std::set<std::string>* known_plugins,
                     const ValidationHooks& hooks, Diagnostics& diagnostics) {
  ValidatePresets(project.presets, hooks, diagnostics);
  JobValidationOptions options;
  options.hooks = hooks;
  options.known_plugins = known_plugins;
  options.presets = &project.presets;
  for (const JobSpec& job : project.jobs) ValidateJob(job, options, diagnostics);
  CheckUniqueJobNames(project.jobs, diagnostics);
}

}  // namespace optimus::spec
