// this.yaml inheritance: fills what a child job leaves unset from a parent spec (§3.7).
#include "optimus/spec/inherit.h"

#include <algorithm>
#include <string>

namespace optimus::spec {
namespace {

// Copies the parent's recorded locations under `from` to `to` in the child, so a diagnostic
// about an inherited value points into the this.yaml that set it.
void CopyLocations(JobSpec& child, const JobSpec& parent, const std::string& from,
                   const std::string& to) {
  for (auto it = parent.locations.lower_bound(from); it != parent.locations.end(); ++it) {
    const std::string& path = it->first;
    if (path.compare(0, from.size(), from) != 0) break;
    const bool whole = path.size() == from.size();
    const bool nested = !whole && (path[from.size()] == '.' || path[from.size()] == '[');
    if (!whole && !nested) continue;
    child.locations[to + path.substr(from.size())] = it->second;
  }
}

void String(JobSpec& child, const JobSpec& parent, std::string& mine, const std::string& theirs,
            const std::string& path) {
  if (mine.empty() && !theirs.empty()) {
    mine = theirs;
    CopyLocations(child, parent, path, path);
  }
}

template <typename T>
void Optional(JobSpec& child, const JobSpec& parent, std::optional<T>& mine,
              const std::optional<T>& theirs, const std::string& path) {
  if (!mine && theirs) {
    mine = theirs;
    CopyLocations(child, parent, path, path);
  }
}

void AddMissingKeys(JobSpec& child, const JobSpec& parent, StringMap& mine, const StringMap& theirs,
                    const std::string& mine_path, const std::string& theirs_path) {
  for (const auto& [key, value] : theirs) {
    if (mine.emplace(key, value).second) {
      CopyLocations(child, parent, theirs_path + "." + key, mine_path + "." + key);
    }
  }
}

std::string Indexed(const std::string& list, size_t i) {
  return list + "[" + std::to_string(i) + "]";
}

void MergeNotify(JobSpec& child, const JobSpec& parent) {
  auto& mine = child.behavior.notify;
  const auto& theirs = parent.behavior.notify;
  for (size_t i = 0; i < theirs.size(); ++i) {
    const Notify& p = theirs[i];
    const std::string p_path = Indexed("behavior.notify", i);
    auto it = std::find_if(mine.begin(), mine.end(), [&](const Notify& n) { return n.on == p.on; });
    if (it == mine.end()) {
      mine.push_back(p);
      CopyLocations(child, parent, p_path, Indexed("behavior.notify", mine.size() - 1));
      continue;
    }
    const std::string c_path = Indexed("behavior.notify", it - mine.begin());
    AddMissingKeys(child, parent, it->config, p.config, c_path + ".config", p_path + ".config");
    for (const std::string& channel : p.channels) {
      if (std::find(it->channels.begin(), it->channels.end(), channel) == it->channels.end()) {
        it->channels.push_back(channel);
      }
    }
  }
}

void MergeDependencies(JobSpec& child, const JobSpec& parent) {
  auto& mine = child.dependencies;
  for (size_t i = 0; i < parent.dependencies.size(); ++i) {
    const Dependency& p = parent.dependencies[i];
    const bool present = std::any_of(mine.begin(), mine.end(), [&](const Dependency& d) {
      if (p.http) return d.http && d.http->name == p.http->name;
      return !d.http && d.job == p.job && d.type == p.type;
    });
    if (present) continue;
    mine.push_back(p);
    CopyLocations(child, parent, Indexed("dependencies", i),
                  Indexed("dependencies", mine.size() - 1));
  }
}

void MergeHooks(JobSpec& child, const JobSpec& parent) {
  auto& mine = child.hooks;
  for (size_t i = 0; i < parent.hooks.size(); ++i) {
    const Hook& p = parent.hooks[i];
    const std::string p_path = Indexed("hooks", i);
    auto it =
        std::find_if(mine.begin(), mine.end(), [&](const Hook& h) { return h.name == p.name; });
    if (it == mine.end()) {
      mine.push_back(p);
      CopyLocations(child, parent, p_path, Indexed("hooks", mine.size() - 1));
      continue;
    }
    AddMissingKeys(child, parent, it->config, p.config,
                   Indexed("hooks", it - mine.begin()) + ".config", p_path + ".config");
  }
}

}  // namespace

void InheritFrom(JobSpec& child, const JobSpec& parent) {
  if (child.version == 0 && parent.version != 0) {
    child.version = parent.version;
    CopyLocations(child, parent, "version", "version");
  }
  String(child, parent, child.description, parent.description, "description");
  String(child, parent, child.owner, parent.owner, "owner");
  String(child, parent, child.schedule.interval, parent.schedule.interval, "schedule.interval");
  String(child, parent, child.schedule.start_date, parent.schedule.start_date,
         "schedule.start_date");
  String(child, parent, child.schedule.end_date, parent.schedule.end_date, "schedule.end_date");

  Behavior& b = child.behavior;
  const Behavior& pb = parent.behavior;
  Optional(child, parent, b.retry.count, pb.retry.count, "behavior.retry.count");
  String(child, parent, b.retry.delay, pb.retry.delay, "behavior.retry.delay");
  Optional(child, parent, b.retry.exponential_backoff, pb.retry.exponential_backoff,
           "behavior.retry.exponential_backoff");
  Optional(child, parent, b.depends_on_past, pb.depends_on_past, "behavior.depends_on_past");
  Optional(child, parent, b.catch_up, pb.catch_up, "behavior.catch_up");
  MergeNotify(child, parent);

  AddMissingKeys(child, parent, child.labels, parent.labels, "labels", "labels");
  MergeDependencies(child, parent);

  String(child, parent, child.task.name, parent.task.name, "task.name");
  // Optimus merges only these window fields; preset, shift_by and location stay the child's.
  Window& w = child.task.window;
  const Window& pw = parent.task.window;
  String(child, parent, w.truncate_to, pw.truncate_to, "task.window.truncate_to");
  String(child, parent, w.offset, pw.offset, "task.window.offset");
  String(child, parent, w.size, pw.size, "task.window.size");
  AddMissingKeys(child, parent, child.task.config, parent.task.config, "task.config",
                 "task.config");
  MergeHooks(child, parent);

  Metadata& m = child.metadata;
  const Metadata& pm = parent.metadata;
  String(child, parent, m.request.cpu, pm.request.cpu, "metadata.resource.request.cpu");
  String(child, parent, m.request.memory, pm.request.memory, "metadata.resource.request.memory");
  String(child, parent, m.limit.cpu, pm.limit.cpu, "metadata.resource.limit.cpu");
  String(child, parent, m.limit.memory, pm.limit.memory, "metadata.resource.limit.memory");
  String(child, parent, m.airflow_pool, pm.airflow_pool, "metadata.airflow.pool");
  String(child, parent, m.airflow_queue, pm.airflow_queue, "metadata.airflow.queue");

  child.task.window.version = child.version;
  child.parents.push_back(parent.file);
}

}  // namespace optimus::spec
