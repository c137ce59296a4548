// The file-system side of libs/spec: discovers jobs, this.yaml parents, assets, resources and
// plugins, and hands file contents to the pure loaders.
#include "optimus/spec/project_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <set>
#include <string_view>
#include <system_error>
#include <thread>

#include "optimus/spec/inherit.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/parallel_for.h"

namespace optimus::spec {
namespace {

namespace fs = std::filesystem;

// A path as diagnostics show it: relative to the display base when it is under it. Purely
// lexical, so it costs no system call (this runs for every file of a 10,000-job project).
std::string Shown(const fs::path& path, const ReadOptions& options) {
  if (options.display_base.empty()) return path.generic_string();
  fs::path rel =
      path.lexically_normal().lexically_relative(options.display_base.lexically_normal());
  if (rel.empty() || *rel.begin() == "..") return path.generic_string();
  return rel.generic_string();
}

bool EndsWith(std::string_view text, std::string_view suffix) {
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

// Every regular file under a job root, found in one walk (directory entries carry their type,
// so the walk costs one getdents per directory and no stat per file).
struct Tree {
  std::vector<std::string> files;  // relative to the root, generic, sorted as strings
  std::set<std::string> dirs;      // relative; "" is the root itself
};

Tree WalkTree(const fs::path& root, const std::string& shown_root, Diagnostics& diagnostics) {
  Tree tree;
  tree.dirs.insert("");
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    diagnostics.Error(Location{shown_root, 0, 0}, "",
                      "not a directory (check the path in optimus.yaml)");
    return tree;
  }
  const size_t cut = root.native().size() + 1;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string& full = it->path().native();
    if (full.size() <= cut) continue;
    std::string rel = full.substr(cut);
    std::error_code type_ec;
    if (it->is_directory(type_ec)) {
      tree.dirs.insert(std::move(rel));
    } else if (it->is_regular_file(type_ec)) {
      tree.files.push_back(std::move(rel));
    }
  }
  if (ec) {
    diagnostics.Error(Location{shown_root, 0, 0}, "", "cannot list the directory: " + ec.message());
  }
  std::sort(tree.files.begin(), tree.files.end());
  return tree;
}

std::string Parent(std::string_view rel) {
  const size_t slash = rel.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(rel.substr(0, slash));
}

std::string_view FileName(std::string_view rel) {
  const size_t slash = rel.rfind('/');
  return slash == std::string_view::npos ? rel : rel.substr(slash + 1);
}

// Component-wise order of relative paths ("a/b" before "a-b"), without building fs::paths.
bool PathLess(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] == b[i]) continue;
    if (a[i] == '/') return true;
    if (b[i] == '/') return false;
    return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]);
  }
  return a.size() < b.size();
}

std::string Join(const std::string& dir, std::string_view name) {
  return dir.empty() ? std::string(name) : dir + "/" + std::string(name);
}

// A job's spec: *job.yaml, or a StarThinker *recipe.json.
bool IsJobSpecFile(std::string_view name) {
  return EndsWith(name, "job.yaml") || EndsWith(name, "recipe.json");
}

// The spec files of one folder, the one that counts first: job.yaml before recipe.json.
void SortSpecFiles(std::vector<std::string>& files) {
  std::stable_sort(files.begin(), files.end(), [](const std::string& a, const std::string& b) {
    return EndsWith(a, "job.yaml") && !EndsWith(b, "job.yaml");
  });
}

std::optional<JobSpec> LoadSpecFile(const std::string& shown, const std::string& content,
                                    const std::string& folder_name, Diagnostics& diagnostics) {
  if (EndsWith(shown, "recipe.json")) {
    return LoadRecipeSpec(shown, content, folder_name, diagnostics);
  }
  return LoadJobSpec(shown, content, diagnostics);
}

// Runs fn(i) for i in [0, n) on up to hardware_concurrency threads, each taking at least
// `min_per_worker` items' worth of the work.
template <typename Fn>
void ParallelForAtLeast(size_t n, size_t min_per_worker, Fn fn) {
  spec::ParallelFor(n,
                    std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()),
                                     (n + min_per_worker - 1) / min_per_worker),
                    fn);
}

}  // namespace

std::optional<std::string> ReadFile(const fs::path& path, const std::string& shown,
                                    Diagnostics& diagnostics) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    diagnostics.Error(Location{shown, 0, 0}, "",
                      std::string("cannot open the file: ") + std::strerror(errno));
    return std::nullopt;
  }
  std::string content;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) content.reserve(static_cast<size_t>(st.st_size));
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      content.append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      const int error = errno;
      ::close(fd);
      diagnostics.Error(Location{shown, 0, 0}, "",
                        std::string("cannot read the file: ") + std::strerror(error));
      return std::nullopt;
    }
  }
  ::close(fd);
  return content;
}

namespace {

std::vector<JobSpec> ReadNamespaceJobs(const fs::path& job_root, const std::string& namespace_name,
                                       const ReadOptions& options, bool parallel,
                                       Diagnostics& diagnostics,
                                       const std::set<std::string>* only = nullptr) {
  const fs::path root = job_root.lexically_normal();
  std::string shown_root = Shown(root, options);
  if (shown_root == ".") shown_root.clear();
  auto shown = [&](const std::string& rel) { return Join(shown_root, rel); };
  auto full = [&](const std::string& rel) { return root / rel; };
  const Tree tree = WalkTree(root, shown_root.empty() ? "." : shown_root, diagnostics);

  // Job directories: those holding a file named *job.yaml, except inside a job's assets/
  // (assets may hold anything, including files named like specs). Ancestors sort first.
  std::map<std::string, std::vector<std::string>> specs_by_dir;
  for (const std::string& file : tree.files) {
    if (IsJobSpecFile(FileName(file))) specs_by_dir[Parent(file)].push_back(file);
  }
  for (auto& [dir, specs] : specs_by_dir) SortSpecFiles(specs);
  std::vector<std::pair<std::string, std::vector<std::string>>> job_dirs;
  std::set<std::string> job_dir_set;
  for (auto& [dir, specs] : specs_by_dir) {
    bool in_assets = false;
    for (std::string p = dir; !p.empty(); p = Parent(p)) {
      if (FileName(p) == "assets" && job_dir_set.count(Parent(p)) > 0) {
        in_assets = true;
        break;
      }
    }
    if (in_assets) continue;
    job_dir_set.insert(dir);
    job_dirs.emplace_back(dir, std::move(specs));
  }
  // Component-wise order, as the rest of the product lists jobs.
  std::sort(job_dirs.begin(), job_dirs.end(),
            [](const auto& a, const auto& b) { return PathLess(a.first, b.first); });

  // this.yaml of every directory on the way to a job, parsed once.
  std::map<std::string, std::optional<JobSpec>> parents;
  for (const auto& entry : job_dirs) {
    for (std::string p = entry.first;; p = Parent(p)) {
      if (!parents.emplace(p, std::nullopt).second) break;
      if (p.empty()) break;
    }
  }
  for (auto& [dir, spec] : parents) {
    const std::string rel = Join(dir, "this.yaml");
    if (!std::binary_search(tree.files.begin(), tree.files.end(), rel)) continue;
    if (auto content = ReadFile(full(rel), shown(rel), diagnostics)) {
      spec = LoadJobSpec(shown(rel), *content, diagnostics);
    }
  }

  // Each job is read, parsed and merged on its own; diagnostics keep the directory order.
  std::vector<std::optional<JobSpec>> results(job_dirs.size());
  std::vector<Diagnostics> job_diagnostics(job_dirs.size());
  ParallelForAtLeast(job_dirs.size(), parallel ? 64 : job_dirs.size() + 1, [&](size_t i) {
    const auto& [dir, specs] = job_dirs[i];
    Diagnostics& diags = job_diagnostics[i];
    for (size_t k = 1; k < specs.size(); ++k) {
      diags.Warning(Location{shown(specs[k]), 0, 0}, "",
                    "ignored: " + shown(specs[0]) + " is already the job spec of this directory");
    }
    auto content = ReadFile(full(specs[0]), shown(specs[0]), diags);
    if (!content) return;
    if (only != nullptr) {
      // Another job, as its plain name says: not parsed, its assets not read.
      const auto plain = PlainJobName(*content);
      if (plain && only->count(*plain) == 0) return;
    }
    auto job =
        LoadSpecFile(shown(specs[0]), *content,
                     std::string(FileName(dir.empty() ? root.filename().native() : dir)), diags);
    if (!job) return;
    job->namespace_name = namespace_name;
    if (only != nullptr && only->count(job->name) == 0) return;
    // Nearest first: the job's own dir, then each ancestor up to the walk root.
    for (std::string p = dir;; p = Parent(p)) {
      if (const auto& parent = parents.at(p)) InheritFrom(*job, *parent);
      if (p.empty()) break;
    }
    // Every file under assets/, sub-folders too, keyed by its path relative to assets/.
    const std::string prefix = Join(dir, "assets") + "/";
    for (auto it = std::lower_bound(tree.files.begin(), tree.files.end(), prefix);
         it != tree.files.end() && it->compare(0, prefix.size(), prefix) == 0; ++it) {
      if (auto data = ReadFile(full(*it), shown(*it), diags)) {
        job->assets[it->substr(prefix.size())] = std::move(*data);
      }
    }
    results[i] = std::move(job);
  });

  std::vector<JobSpec> jobs;
  jobs.reserve(results.size());
  for (size_t i = 0; i < results.size(); ++i) {
    diagnostics.Append(std::move(job_diagnostics[i]));
    if (results[i]) jobs.push_back(std::move(*results[i]));
  }
  return jobs;
}

}  // namespace

std::vector<JobSpec> ReadJobs(const fs::path& job_root, const std::string& namespace_name,
                              const ReadOptions& options, Diagnostics& diagnostics) {
  return ReadNamespaceJobs(job_root, namespace_name, options, true, diagnostics);
}

std::optional<JobSpec> ReadJobAt(const fs::path& job_dir, const fs::path& job_root,
                                 const ReadOptions& options, Diagnostics& diagnostics) {
  const fs::path dir = job_dir.lexically_normal();
  std::vector<std::string> specs;
  for (const fs::path& file : Files(dir)) {
    if (IsJobSpecFile(file.filename().native())) specs.push_back(file.native());
  }
  if (specs.empty()) {
    diagnostics.Error(Location{Shown(dir, options), 0, 0}, "",
                      "no job.yaml (or recipe.json) in this folder");
    return std::nullopt;
  }
  SortSpecFiles(specs);
  const std::string shown = Shown(specs[0], options);
  auto content = ReadFile(specs[0], shown, diagnostics);
  if (!content) return std::nullopt;
  auto job = LoadSpecFile(shown, *content, dir.filename().native(), diagnostics);
  if (!job) return std::nullopt;
  const fs::path root = job_root.empty() ? dir : job_root.lexically_normal();
  for (fs::path p = dir;; p = p.parent_path()) {
    const fs::path parent = p / "this.yaml";
    std::error_code ec;
    if (fs::is_regular_file(parent, ec)) {
      const std::string parent_shown = Shown(parent, options);
      if (auto text = ReadFile(parent, parent_shown, diagnostics)) {
        if (auto spec = LoadJobSpec(parent_shown, *text, diagnostics)) InheritFrom(*job, *spec);
      }
    }
    if (p == root || !p.has_parent_path() || p == p.parent_path()) break;
  }
  const fs::path assets = dir / "assets";
  std::error_code ec;
  if (fs::is_directory(assets, ec)) {
    fs::recursive_directory_iterator it(assets, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      if (auto data = ReadFile(it->path(), Shown(it->path(), options), diagnostics)) {
        job->assets[it->path().lexically_relative(assets).generic_string()] = std::move(*data);
      }
    }
  }
  return job;
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

std::optional<std::string> PlainJobName(std::string_view yaml) {
  size_t at = 0;
  while (at < yaml.size()) {
    const size_t end = std::min(yaml.find('\n', at), yaml.size());
    std::string_view line = yaml.substr(at, end - at);
    at = end + 1;
    if (!line.starts_with("name:")) continue;
    line.remove_prefix(5);
    if (const size_t hash = line.find(" #"); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
      line.remove_suffix(1);
    }
    if (line.size() >= 2 && (line.front() == '"' || line.front() == '\'') &&
        line.back() == line.front()) {
      line = line.substr(1, line.size() - 2);
      if (line.find_first_of("\\'\"") != std::string_view::npos) return std::nullopt;
    } else if (line.empty() ||
               std::string_view("&*!|>{[\"'%@`").find(line.front()) != std::string_view::npos) {
      return std::nullopt;
    }
    return std::string(line);
  }
  return std::nullopt;
}

std::optional<Project> ReadProject(const fs::path& project_dir, const std::string& config_file,
                                   Diagnostics& diagnostics, const JobSelection* only) {
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
  // Namespaces are read side by side when there are several, the jobs of one otherwise;
  // diagnostics and jobs keep the order of optimus.yaml either way.
  const auto& namespaces = config->namespaces;
  std::vector<std::vector<JobSpec>> jobs(namespaces.size());
  std::vector<Diagnostics> job_diagnostics(namespaces.size());
  const bool by_namespace = namespaces.size() > 1;
  ParallelForAtLeast(namespaces.size(), by_namespace && only == nullptr ? 1 : 2, [&](size_t i) {
    if (namespaces[i].job_path.empty()) return;
    if (only != nullptr && namespaces[i].name != only->namespace_name) return;
    jobs[i] = ReadNamespaceJobs(project_dir / namespaces[i].job_path, namespaces[i].name, options,
                                !by_namespace || only != nullptr, job_diagnostics[i],
                                only != nullptr ? &only->names : nullptr);
  });
  for (size_t i = 0; i < namespaces.size(); ++i) {
    diagnostics.Append(std::move(job_diagnostics[i]));
    for (auto& job : jobs[i]) project.jobs.push_back(std::move(job));
  }
  for (const NamespaceConfig& ns : config->namespaces) {
    if (only != nullptr) break;  // resources are not deployed by job
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
                     const ValidationHooks& hooks, Diagnostics& diagnostics,
                     const std::map<std::string, PluginSpec>* plugins) {
  ValidatePresets(project.presets, hooks, diagnostics);
  JobValidationOptions options;
  options.hooks = hooks;
  options.known_plugins = known_plugins;
  options.plugins = plugins;
  options.presets = &project.presets;
  for (const JobSpec& job : project.jobs) ValidateJob(job, options, diagnostics);
  CheckUniqueJobNames(project.jobs, diagnostics);
}

}  // namespace optimus::spec
