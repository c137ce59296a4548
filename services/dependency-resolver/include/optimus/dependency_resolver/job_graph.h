// The job graph: who produces which table, who reads it, and so which jobs are each job's
// upstreams. Pure domain logic, incremental: a change touches only the jobs whose upstream set
// it changes (O(change), not O(project)).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

namespace optimus::dependency_resolver {

// What the resolver knows of one job, from its spec and plugin.
struct JobLineage {
  std::string project;
  std::string namespace_name;
  std::string name;
  std::string destination;                    // URN; "" when the plugin names none
  std::vector<std::string> sources;           // URNs read by the job's assets
  std::vector<std::string> static_upstreams;  // "name" (same project) or "project/name"
  std::vector<std::string> unnamed_sources;   // tables read that have no URN (e.g. "t")
  // Projects whose jobs may be this job's upstreams by the tables it reads, besides its own
  // ("*": every project); from its project's config upstream_projects. A job of another
  // project writing a table it reads is otherwise not its upstream: no project can put itself
  // into another's graph (sensors, cycles, deletion checks) by claiming the tables it reads.
  std::vector<std::string> upstream_projects;

  // Whether a job of `project` writing a table this job reads is its upstream.
  bool Accepts(const std::string& project) const;

  std::string key() const { return project + "/" + name; }
  bool operator==(const JobLineage&) const = default;
};

struct Upstream {
  std::string key;  // project/name
  std::string project;
  std::string namespace_name;
  std::string name;
  std::string via;  // the URN it produces, or "static"
  bool operator==(const Upstream&) const = default;
  bool operator<(const Upstream& o) const { return key < o.key || (key == o.key && via < o.via); }
};

struct Resolution {
  std::string key;
  std::vector<Upstream> upstreams;              // sorted by key
  std::vector<std::string> unknown_sources;     // read but produced by no job (external tables)
  std::vector<std::string> unknown_statics;     // static upstreams that name no job: an error
  std::vector<std::string> shared_destination;  // other jobs writing the same destination
  std::vector<std::string> cycle;               // a -> ... -> a through this job; empty: none
  bool operator==(const Resolution&) const = default;
};

// Airflow's priority_weight for a job (with weight_rule "absolute"), as Optimus computes it:
// 10000 less 10 for each upstream in the job's own project and namespace, never below 1. The
// fewer local upstreams, the sooner a job gets a slot when the pool is short.
inline constexpr int kMaxPriorityWeight = 10000;
inline constexpr int kPriorityWeightGap = 10;
int PriorityWeight(const JobLineage& job, const Resolution& resolution);

class JobGraph {
 public:
  // Applies a batch: every upsert (add or replace) and removal, then resolves once. Returns the
  // keys of every job still present whose Resolution changed (or that was upserted with a new
  // lineage), sorted. A deploy of N jobs costs O(N + edges touched), not N times the project.
  std::vector<std::string> Apply(const std::vector<JobLineage>& upserts,
                                 const std::vector<std::string>& removals = {});

  // Adds or replaces a job. Returns the keys of every job whose Resolution changed (the job
  // itself when new or changed, the readers of a destination it takes or gives up, the jobs
  // naming it statically), sorted.
  std::vector<std::string> Upsert(const JobLineage& job);
  // Removes a job; returns the keys of the jobs whose Resolution changed (never the removed one).
  std::vector<std::string> Remove(const std::string& key);

  bool Has(const std::string& key) const { return jobs_.count(key) > 0; }
  size_t size() const { return jobs_.size(); }
  const JobLineage* Find(const std::string& key) const;
  // The current resolution; an empty one (key only) for an unknown job.
  Resolution Resolve(const std::string& key) const;
  // Jobs that list `key` among their upstreams, sorted.
  std::vector<std::string> Downstreams(const std::string& key) const;
  // Every job downstream of `key`, transitively (the impact of changing it), sorted.
  std::vector<std::string> Impact(const std::string& key) const;

 private:
  Resolution Compute(const std::string& key) const;
  // Cycles among the jobs reachable upstream from `from`: for each job on one, a path
  // upstream -> ... -> job -> ... that returns to it.
  std::map<std::string, std::vector<std::string>> FindCycles(
      const std::set<std::string>& from) const;
  std::string StaticKey(const JobLineage& job, const std::string& ref) const;
  void Index(const JobLineage& job, bool add);

  std::map<std::string, JobLineage> jobs_;
  std::map<std::string, Resolution> resolved_;
  std::map<std::string, std::set<std::string>> producers_;       // URN -> jobs writing it
  std::map<std::string, std::set<std::string>> readers_;         // URN -> jobs reading it
  std::map<std::string, std::set<std::string>> static_readers_;  // key -> jobs naming it
  std::set<std::string> in_cycle_;                               // jobs whose cycle is set
};

}  // namespace optimus::dependency_resolver
