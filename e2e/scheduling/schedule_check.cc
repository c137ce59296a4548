// The scheduling e2e's judge: reads a native project's files (gen-project's, with its
// manifest.json of upstream jobs) and the event log optimus.job.runs, and checks from the events
// alone what the native scheduler promised:
//   schedule_check expected PROJECT_DIR UNTIL
//     prints how many runs the project's jobs have scheduled at or before UNTIL (RFC 3339)
//   schedule_check verify BUS_URI PROJECT_DIR UNTIL
//     every job ran exactly once (one execution, succeeded) for each of its ticks up to UNTIL,
//     and no execution started before the runs of its upstreams covering its window (and, with
//     depends_on_past, its own previous run) had succeeded
//   schedule_check replay BUS_URI PROJECT_DIR JOB TICK
//     after `optimus replay create JOB TICK --with-downstream`: JOB's run at TICK ran again, so
//     did every run downstream that reads it (transitively), each after the runs it reads
// Prints "ok: …" / "FAIL: …" lines; exits 0 when everything held.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "optimus/bus/open_bus.h"
#include "optimus/dispatcher/schedule_rules.h"
#include "optimus/events/v1/runs.pb.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/schedule/time_util.h"
#include "optimus/spec/project_reader.h"

namespace {

using optimus::dispatcher::NativeJob;
using optimus::events::v1::JobRunEvent;

int failures = 0;
void Check(bool ok, const std::string& what) {
  std::printf("%s: %s\n", ok ? "ok" : "FAIL", what.c_str());
  if (!ok) ++failures;
}

std::string At(int64_t ms) {
  return optimus::schedule::FormatRfc3339(absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

int64_t Ms(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000 + t.nanos() / 1'000'000;
}

// The project's jobs as the scheduler sees them, by name.
std::map<std::string, NativeJob> LoadJobs(const std::string& dir, std::string* project) {
  optimus::spec::Diagnostics d;
  auto p = optimus::spec::ReadProject(dir, "optimus.yaml", d);
  if (!p || d.HasErrors()) {
    std::printf("FAIL: cannot read the project: %s\n", d.ToString().c_str());
    std::exit(1);
  }
  *project = p->config.project_name;
  std::ifstream in(dir + "/manifest.json");
  auto manifest = nlohmann::json::parse(in, nullptr, false);
  std::map<std::string, std::vector<std::string>> upstreams;
  for (const auto& j : manifest["jobs"]) {
    for (const auto& u : j["upstream_jobs"]) {
      upstreams[j["name"].get<std::string>()].push_back(
          optimus::pipeline::JobKey(*project, u.get<std::string>()));
    }
  }
  std::map<std::string, NativeJob> out;
  for (const auto& spec : p->jobs) {
    auto job = optimus::dispatcher::NativeJobOf(*project, spec.namespace_name, spec, p->presets,
                                                upstreams[spec.name]);
    if (!job.ok()) {
      std::printf("FAIL: %s: %s\n", spec.name.c_str(), std::string(job.status().message()).c_str());
      std::exit(1);
    }
    out.emplace(spec.name, *std::move(job));
  }
  return out;
}

std::vector<int64_t> TicksUntil(const NativeJob& job, int64_t until) {
  auto ticks = job.timeline.TicksIn(job.timeline.start, absl::FromUnixMillis(until), 100000);
  std::vector<int64_t> out;
  if (!ticks.ok()) return out;
  for (absl::Time t : *ticks) out.push_back(absl::ToUnixMillis(t));
  return out;
}

// What the log says of each run: its executions, when each started and when it succeeded.
struct Execution {
  int64_t started = -1;
  int64_t succeeded = -1;
  bool failed = false;
};
using RunKey = std::pair<std::string, int64_t>;  // job name, tick
struct Log {
  std::map<RunKey, std::map<std::string, Execution>> runs;
  std::map<RunKey, int64_t> replayed;  // run_replayed events: when
};

Log ReadLog(const std::string& uri, const std::string& project) {
  Log log;
  auto bus = optimus::bus::OpenBus(uri, "schedule-check");
  if (!bus.ok()) {
    std::printf("FAIL: %s\n", std::string(bus.status().message()).c_str());
    std::exit(1);
  }
  auto consumer = (*bus)->NewConsumer(
      "schedule-check-" +
      std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  if (!consumer.ok() || !(*consumer)->Subscribe({optimus::pipeline::kJobRunsTopic}).ok()) {
    std::printf("FAIL: cannot read optimus.job.runs\n");
    std::exit(1);
  }
  std::set<std::string> seen;
  auto quiet_since = std::chrono::steady_clock::now();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  int64_t records = 0;
  while (std::chrono::steady_clock::now() < give_up) {
    auto batch = (*consumer)->Poll(std::chrono::milliseconds(300), 5000);
    if (!batch.ok()) break;
    if (batch->empty()) {
      if (std::chrono::steady_clock::now() - quiet_since > std::chrono::seconds(3)) break;
      continue;
    }
    quiet_since = std::chrono::steady_clock::now();
    for (const auto& m : *batch) {
      JobRunEvent e;
      if (!e.ParseFromString(m.payload) || e.project() != project || e.kind() != "job") continue;
      if (!seen.insert(e.event_id()).second) continue;  // published again (at least once)
      ++records;
      const RunKey key{e.job(), Ms(e.scheduled_at())};
      const int64_t at = Ms(e.event_time());
      if (e.type() == "run_replayed") log.replayed[key] = at;
      if (e.execution_id().empty()) continue;
      Execution& x = log.runs[key][e.execution_id()];
      if (e.execution_state() == "running") x.started = at;
      if (e.execution_state() == "succeeded") x.succeeded = at;
      if (e.execution_state() == "failed" || e.execution_state() == "timed_out" ||
          e.execution_state() == "cancelled") {
        x.failed = true;
      }
    }
  }
  (*consumer)->Close();
  std::printf("read %lld events of project %s\n", static_cast<long long>(records), project.c_str());
  return log;
}

// The first success of the run `key` at or before `when` (-1: none).
int64_t SucceededBy(const Log& log, const RunKey& key, int64_t when) {
  auto it = log.runs.find(key);
  if (it == log.runs.end()) return -1;
  int64_t best = -1;
  for (const auto& [id, x] : it->second) {
    if (x.succeeded >= 0 && x.succeeded <= when && (best < 0 || x.succeeded < best))
      best = x.succeeded;
  }
  return best;
}

// The runs (job name, tick) that the run of `job` at `tick` waits for.
std::vector<RunKey> Needs(const std::map<std::string, NativeJob>& jobs, const NativeJob& job,
                          int64_t tick) {
  std::vector<RunKey> out;
  const absl::Time t = absl::FromUnixMillis(tick);
  if (job.depends_on_past) {
    if (auto prev = optimus::dispatcher::TickAtOrBefore(job.timeline, t - absl::Seconds(1))) {
      out.push_back({job.name, absl::ToUnixMillis(*prev)});
    }
  }
  for (const std::string& key : job.upstreams) {
    const std::string name = key.substr(key.find('/') + 1);
    auto up = jobs.find(name);
    if (up == jobs.end()) continue;
    auto ticks = optimus::dispatcher::UpstreamTicks(job, t, up->second.timeline);
    if (!ticks.ok()) continue;
    for (absl::Time u : *ticks) out.push_back({name, absl::ToUnixMillis(u)});
  }
  return out;
}

int Verify(const std::string& uri, const std::string& dir, int64_t until) {
  std::string project;
  const auto jobs = LoadJobs(dir, &project);
  const Log log = ReadLog(uri, project);
  int64_t expected = 0, once = 0, more = 0, missing = 0;
  for (const auto& [name, job] : jobs) {
    for (int64_t tick : TicksUntil(job, until)) {
      ++expected;
      auto it = log.runs.find({name, tick});
      int succeeded = 0, executions = 0;
      if (it != log.runs.end()) {
        for (const auto& [id, x] : it->second) {
          ++executions;
          succeeded += x.succeeded >= 0;
        }
      }
      if (executions == 1 && succeeded == 1) {
        ++once;
      } else if (executions == 0) {
        if (++missing <= 5) std::printf("  no run of %s at %s\n", name.c_str(), At(tick).c_str());
      } else if (++more <= 5) {
        std::printf("  %s at %s: %d executions, %d succeeded\n", name.c_str(), At(tick).c_str(),
                    executions, succeeded);
      }
    }
  }
  Check(expected > 0 && once == expected,
        std::to_string(once) + " of " + std::to_string(expected) + " runs up to " + At(until) +
            " ran exactly once and succeeded (" + std::to_string(missing) + " never ran, " +
            std::to_string(more) + " ran otherwise)");
  int64_t starts = 0, early = 0;
  for (const auto& [key, executions] : log.runs) {
    auto job = jobs.find(key.first);
    if (job == jobs.end()) continue;
    const auto needs = Needs(jobs, job->second, key.second);
    for (const auto& [id, x] : executions) {
      if (x.started < 0) continue;
      ++starts;
      for (const RunKey& n : needs) {
        if (SucceededBy(log, n, x.started) < 0) {
          if (++early <= 5) {
            std::printf("  %s at %s started at %s before %s at %s succeeded\n", key.first.c_str(),
                        At(key.second).c_str(), At(x.started).c_str(), n.first.c_str(),
                        At(n.second).c_str());
          }
          break;
        }
      }
    }
  }
  Check(starts > 0 && early == 0, std::to_string(starts) + " executions started, " +
                                      std::to_string(early) +
                                      " of them before the upstream runs of their window");
  return failures == 0 ? 0 : 1;
}

int Replay(const std::string& uri, const std::string& dir, const std::string& root, int64_t tick) {
  std::string project;
  const auto jobs = LoadJobs(dir, &project);
  const Log log = ReadLog(uri, project);
  auto r = jobs.find(root);
  if (r == jobs.end()) {
    std::printf("FAIL: no job %s\n", root.c_str());
    return 1;
  }
  // Expected: the root's run, then every run downstream whose needs hold a replayed run, in
  // rounds (the closure), among runs that exist (ticks up to the replay's start).
  int64_t replay_start = -1;
  if (auto it = log.replayed.find({root, tick}); it != log.replayed.end())
    replay_start = it->second;
  Check(replay_start >= 0, "the replay started " + root + " at " + At(tick) + " again");
  if (replay_start < 0) return 1;
  std::set<RunKey> expected{{root, tick}};
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& [name, job] : jobs) {
      for (int64_t t : TicksUntil(job, replay_start)) {
        if (expected.count({name, t}) != 0) continue;
        for (const RunKey& n : Needs(jobs, job, t)) {
          if (n.first != name && expected.count(n) != 0) {
            expected.insert({name, t});
            grew = true;
            break;
          }
        }
      }
    }
  }
  std::set<RunKey> replayed;
  for (const auto& [key, at] : log.replayed) {
    if (at >= replay_start) replayed.insert(key);
  }
  Check(replayed == expected, std::to_string(replayed.size()) + " runs replayed, " +
                                  std::to_string(expected.size()) +
                                  " expected (the run and every run downstream that reads it)");
  // Each replayed run ran again once, after the replayed runs it reads succeeded again.
  int64_t again = 0, early = 0;
  for (const RunKey& key : expected) {
    auto it = log.runs.find(key);
    int64_t started = -1, succeeded = -1;
    if (it != log.runs.end()) {
      for (const auto& [id, x] : it->second) {
        if (x.started >= replay_start) started = x.started, succeeded = x.succeeded;
      }
    }
    if (started < 0 || succeeded < 0) {
      std::printf("  %s at %s did not run again\n", key.first.c_str(), At(key.second).c_str());
      continue;
    }
    ++again;
    for (const RunKey& n : Needs(jobs, jobs.at(key.first), key.second)) {
      if (expected.count(n) == 0 || n == key) continue;
      bool ok = false;
      for (const auto& [id, x] : log.runs.at(n)) {
        ok |= x.started >= replay_start && x.succeeded >= 0 && x.succeeded <= started;
      }
      if (!ok && ++early <= 5) {
        std::printf("  %s at %s ran again before %s at %s\n", key.first.c_str(),
                    At(key.second).c_str(), n.first.c_str(), At(n.second).c_str());
      }
    }
  }
  Check(again == static_cast<int64_t>(expected.size()) && early == 0,
        std::to_string(again) + " replayed runs succeeded again, " + std::to_string(early) +
            " before what they read");
  return failures == 0 ? 0 : 1;
}

int64_t ParseTime(const std::string& text) {
  auto t = optimus::schedule::ParseRfc3339(text);
  if (!t.ok()) {
    std::printf("FAIL: \"%s\" is not an RFC 3339 time\n", text.c_str());
    std::exit(2);
  }
  return absl::ToUnixMillis(*t);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "expected" && argc == 4) {
    std::string project;
    const auto jobs = LoadJobs(argv[2], &project);
    int64_t n = 0;
    for (const auto& [name, job] : jobs) n += TicksUntil(job, ParseTime(argv[3])).size();
    std::printf("%lld\n", static_cast<long long>(n));
    return 0;
  }
  if (mode == "verify" && argc == 5) return Verify(argv[2], argv[3], ParseTime(argv[4]));
  if (mode == "replay" && argc == 6) return Replay(argv[2], argv[3], argv[4], ParseTime(argv[5]));
  std::fprintf(stderr,
               "usage: schedule_check expected PROJECT_DIR UNTIL\n"
               "       schedule_check verify BUS_URI PROJECT_DIR UNTIL\n"
               "       schedule_check replay BUS_URI PROJECT_DIR JOB TICK\n");
  return 2;
}
