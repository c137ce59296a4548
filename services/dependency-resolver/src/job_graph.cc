// Incremental upstream resolution and cycle detection.
#include "optimus/dependency_resolver/job_graph.h"

#include <algorithm>
#include <functional>

namespace optimus::dependency_resolver {

const JobLineage* JobGraph::Find(const std::string& key) const {
  auto it = jobs_.find(key);
  return it == jobs_.end() ? nullptr : &it->second;
}

std::string JobGraph::StaticKey(const JobLineage& job, const std::string& ref) const {
  return ref.find('/') == std::string::npos ? job.project + "/" + ref : ref;
}

void JobGraph::Index(const JobLineage& job, bool add) {
  const std::string key = job.key();
  auto edit = [&](std::map<std::string, std::set<std::string>>& index, const std::string& at) {
    if (add) {
      index[at].insert(key);
      return;
    }
    auto it = index.find(at);
    if (it == index.end()) return;
    it->second.erase(key);
    if (it->second.empty()) index.erase(it);
  };
  if (!job.destination.empty()) edit(producers_, job.destination);
  for (const std::string& urn : job.sources) edit(readers_, urn);
  for (const std::string& ref : job.static_upstreams) edit(static_readers_, StaticKey(job, ref));
}

bool JobLineage::Accepts(const std::string& other) const {
  if (other == project) return true;
  for (const std::string& p : upstream_projects) {
    if (p == "*" || p == other) return true;
  }
  return false;
}

Resolution JobGraph::Compute(const std::string& key) const {
  Resolution r;
  r.key = key;
  auto it = jobs_.find(key);
  if (it == jobs_.end()) return r;
  const JobLineage& job = it->second;
  std::set<Upstream> upstreams;
  auto add = [&](const std::string& up_key, const std::string& via) {
    const JobLineage& up = jobs_.at(up_key);
    upstreams.insert(Upstream{up_key, up.project, up.namespace_name, up.name, via});
  };
  for (const std::string& urn : job.sources) {
    auto producers = producers_.find(urn);
    bool found = false;
    if (producers != producers_.end()) {
      for (const std::string& p : producers->second) {
        if (p == key) continue;  // a job reading its own table (MERGE, incremental loads)
        if (!job.Accepts(jobs_.at(p).project)) continue;  // to this job, an external table
        add(p, urn);
        found = true;
      }
    }
    if (!found && !(producers != producers_.end() && producers->second.count(key) > 0)) {
      r.unknown_sources.push_back(urn);
    }
  }
  for (const std::string& name : job.unnamed_sources) r.unknown_sources.push_back(name);
  for (const std::string& ref : job.static_upstreams) {
    const std::string up = StaticKey(job, ref);
    if (up != key && jobs_.count(up) > 0) {
      add(up, "static");
    } else if (up != key) {
      r.unknown_statics.push_back(ref);
    }
  }
  // One entry per upstream job: an inferred edge wins over a static one naming the same job.
  for (const Upstream& u : upstreams) {
    if (!r.upstreams.empty() && r.upstreams.back().key == u.key) {
      if (r.upstreams.back().via == "static") r.upstreams.back().via = u.via;
      continue;
    }
    r.upstreams.push_back(u);
  }
  if (!job.destination.empty()) {
    for (const std::string& other : producers_.at(job.destination)) {
      if (other != key && job.Accepts(jobs_.at(other).project)) {
        r.shared_destination.push_back(other);
      }
    }
  }
  std::sort(r.unknown_sources.begin(), r.unknown_sources.end());
  r.unknown_sources.erase(std::unique(r.unknown_sources.begin(), r.unknown_sources.end()),
                          r.unknown_sources.end());
  return r;
}

std::map<std::string, std::vector<std::string>> JobGraph::FindCycles(
    const std::set<std::string>& from) const {
  // Tarjan's strongly connected components over upstream edges, limited to what `from`
  // reaches; every component of two or more jobs is a cycle group.
  std::map<std::string, int> index, low;
  std::set<std::string> on_stack;
  std::vector<std::string> stack;
  std::vector<std::vector<std::string>> groups;
  int counter = 0;
  auto upstreams = [&](const std::string& key) -> const std::vector<Upstream>& {
    static const std::vector<Upstream> kNone;
    auto it = resolved_.find(key);
    return it == resolved_.end() ? kNone : it->second.upstreams;
  };
  std::function<void(const std::string&)> connect = [&](const std::string& v) {
    index[v] = low[v] = counter++;
    stack.push_back(v);
    on_stack.insert(v);
    for (const Upstream& u : upstreams(v)) {
      if (index.count(u.key) == 0) {
        connect(u.key);
        low[v] = std::min(low[v], low[u.key]);
      } else if (on_stack.count(u.key) > 0) {
        low[v] = std::min(low[v], index[u.key]);
      }
    }
    if (low[v] != index[v]) return;
    std::vector<std::string> group;
    for (;;) {
      std::string w = stack.back();
      stack.pop_back();
      on_stack.erase(w);
      group.push_back(w);
      if (w == v) break;
    }
    if (group.size() > 1) groups.push_back(std::move(group));
  };
  for (const std::string& key : from) {
    if (index.count(key) == 0 && resolved_.count(key) > 0) connect(key);
  }
  // For each member, the shortest way round its group (breadth-first over upstream edges).
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& group : groups) {
    const std::set<std::string> members(group.begin(), group.end());
    for (const std::string& start : group) {
      std::map<std::string, std::string> parent;
      std::vector<std::string> queue = {start};
      bool closed = false;
      for (size_t q = 0; q < queue.size() && !closed; ++q) {
        for (const Upstream& u : upstreams(queue[q])) {
          if (members.count(u.key) == 0) continue;
          if (u.key == start) {
            parent[start] = queue[q];
            closed = true;
            break;
          }
          if (parent.emplace(u.key, queue[q]).second) queue.push_back(u.key);
        }
      }
      // parent[x] = the job that reads x; walking it from start gives data-flow order.
      std::vector<std::string> path = {start};
      for (std::string at = parent[start]; at != start; at = parent[at]) path.push_back(at);
      path.push_back(start);
      out[start] = std::move(path);
    }
  }
  return out;
}

std::vector<std::string> JobGraph::Apply(const std::vector<JobLineage>& upserts,
                                         const std::vector<std::string>& removals) {
  std::set<std::string> affected, touched;
  auto related_to_destination = [&](const std::string& urn) {
    if (urn.empty()) return;
    if (auto it = readers_.find(urn); it != readers_.end()) {
      affected.insert(it->second.begin(), it->second.end());
    }
    // Writers of one destination report each other.
    if (auto it = producers_.find(urn); it != producers_.end()) {
      affected.insert(it->second.begin(), it->second.end());
    }
  };
  for (const std::string& key : removals) {
    auto it = jobs_.find(key);
    if (it == jobs_.end()) continue;
    for (const std::string& d : Downstreams(key)) affected.insert(d);
    related_to_destination(it->second.destination);
    Index(it->second, false);
    jobs_.erase(it);
    resolved_.erase(key);
    in_cycle_.erase(key);
  }
  for (const JobLineage& job : upserts) {
    const std::string key = job.key();
    auto old = jobs_.find(key);
    const bool existed = old != jobs_.end();
    if (existed && old->second == job) continue;
    touched.insert(key);
    affected.insert(key);
    if (existed) {
      if (old->second.destination != job.destination)
        related_to_destination(old->second.destination);
      // Downstreams carry the upstream's namespace (their sensors ask for it).
      if (old->second.namespace_name != job.namespace_name) {
        for (const std::string& d : Downstreams(key)) affected.insert(d);
      }
      Index(old->second, false);
    } else if (auto it = static_readers_.find(key); it != static_readers_.end()) {
      affected.insert(it->second.begin(), it->second.end());
    }
    jobs_[key] = job;
    Index(job, true);
    related_to_destination(job.destination);
  }

  std::map<std::string, Resolution> before;
  for (const std::string& key : affected) {
    if (jobs_.count(key) == 0) continue;
    if (auto it = resolved_.find(key); it != resolved_.end()) before[key] = it->second;
    Resolution r = Compute(key);
    r.cycle = before.count(key) ? before[key].cycle : std::vector<std::string>{};
    resolved_[key] = std::move(r);
  }
  // A new cycle passes through a job whose upstreams changed; a broken one had a member among
  // them or lost one; either way the jobs to look from are these.
  std::set<std::string> look_from;
  for (const std::string& key : affected) {
    if (jobs_.count(key) > 0) look_from.insert(key);
  }
  look_from.insert(in_cycle_.begin(), in_cycle_.end());
  const auto cycles = FindCycles(look_from);
  for (const std::string& key : std::set<std::string>(in_cycle_)) {
    if (cycles.count(key) == 0 && resolved_.count(key) > 0) {
      if (before.count(key) == 0) before[key] = resolved_[key];
      resolved_[key].cycle.clear();
      in_cycle_.erase(key);
    }
  }
  for (const auto& [key, cycle] : cycles) {
    if (before.count(key) == 0) before[key] = resolved_[key];
    resolved_[key].cycle = cycle;
    in_cycle_.insert(key);
  }

  std::vector<std::string> changed;
  std::set<std::string> candidates = affected;
  for (const auto& [key, r] : before) candidates.insert(key);
  for (const std::string& key : candidates) {
    auto now = resolved_.find(key);
    if (now == resolved_.end()) continue;
    auto was = before.find(key);
    if (touched.count(key) > 0 || was == before.end() || !(was->second == now->second)) {
      changed.push_back(key);
    }
  }
  return changed;
}

std::vector<std::string> JobGraph::Upsert(const JobLineage& job) { return Apply({job}, {}); }

std::vector<std::string> JobGraph::Remove(const std::string& key) { return Apply({}, {key}); }

Resolution JobGraph::Resolve(const std::string& key) const {
  auto it = resolved_.find(key);
  if (it != resolved_.end()) return it->second;
  Resolution r;
  r.key = key;
  return r;
}

std::vector<std::string> JobGraph::Downstreams(const std::string& key) const {
  std::set<std::string> out;
  auto job = jobs_.find(key);
  if (job != jobs_.end() && !job->second.destination.empty()) {
    if (auto it = readers_.find(job->second.destination); it != readers_.end()) {
      for (const std::string& reader : it->second) {
        if (jobs_.at(reader).Accepts(job->second.project)) out.insert(reader);
      }
    }
  }
  if (auto it = static_readers_.find(key); it != static_readers_.end()) {
    out.insert(it->second.begin(), it->second.end());
  }
  out.erase(key);
  return {out.begin(), out.end()};
}

std::vector<std::string> JobGraph::Impact(const std::string& key) const {
  std::set<std::string> seen;
  std::vector<std::string> stack = {key};
  while (!stack.empty()) {
    const std::string at = stack.back();
    stack.pop_back();
    for (const std::string& d : Downstreams(at)) {
      if (d != key && seen.insert(d).second) stack.push_back(d);
    }
  }
  return {seen.begin(), seen.end()};
}

int PriorityWeight(const JobLineage& job, const Resolution& resolution) {
  int local = 0;
  for (const Upstream& u : resolution.upstreams) {
    if (u.project == job.project && u.namespace_name == job.namespace_name) ++local;
  }
  return std::max(1, kMaxPriorityWeight - kPriorityWeightGap * local);
}

}  // namespace optimus::dependency_resolver
