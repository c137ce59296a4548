// The native scheduler's CPU per pass with JOBS native jobs (budget: <= 100 ms per tick for
// 10,000 jobs), in process on a SQLite dispatcher schema with a clock the benchmark moves:
// JOBS daily jobs in 8 layers, each reading 1 to 3 jobs of lower layers; one day's tick comes
// due, and simulated executors finish every queued execution between passes (claim, start,
// finish in the store), so that each pass collects what finished, opens the gate of what waited
// and queues it, as in production. Prints the CPU of the pass that loads the jobs, of idle
// passes, of the pass at the tick (every run made), and of the passes that run the day through.
//   bench-schedule [--jobs 10000]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "optimus/dispatcher/dispatcher.h"
#include "optimus/dispatcher/job_plans.h"
#include "optimus/dispatcher/scheduler.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/store/migrations.h"

namespace {

using namespace optimus;  // NOLINT: a benchmark's main

int64_t CpuMicros() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

void Die(const absl::Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "bench-schedule: %s: %s\n", what, std::string(s.message()).c_str());
  std::exit(1);
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  int64_t jobs = 10000;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--jobs" && i + 1 < argc && absl::SimpleAtoi(argv[i + 1], &jobs) && jobs > 0) {
      ++i;
    } else {
      std::fprintf(stderr, "usage: bench-schedule [--jobs N]\n");
      return 2;
    }
  }
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / absl::StrCat("bench-schedule-", getpid());
  std::filesystem::create_directories(dir);
  auto db = store::OpenDatabase("sqlite:" + (dir / "dispatcher.db").string(), "dispatcher");
  Die(db.status(), "open");
  Die(store::ApplyMigrations(**db, "store", store::CoreMigrations()), "migrations");
  Die(store::ApplyMigrations(**db, "dispatcher", dispatcher::Dispatcher::Migrations()),
      "migrations");
  store::Outbox outbox("optimus/dispatcher");
  dispatcher::ExecutionStore executions(**db, outbox, 3600'000);
  int64_t now = absl::ToUnixMillis(
      absl::FromCivil(absl::CivilSecond(2026, 1, 10, 1, 0, 0), absl::UTCTimeZone()));
  dispatcher::Scheduler scheduler(**db, outbox, executions,
                                  {.catch_up_limit = 100, .max_active_runs = 16, .holder = "bench"},
                                  [&now] { return now; });

  // The project, its plugin and JOBS resolutions, as the consumer would store them.
  const auto apply = [&](const std::string& topic, const std::string& key,
                         const google::protobuf::Message& record) {
    bus::Message m;
    m.topic = topic;
    m.key = key;
    m.payload = record.SerializeAsString();
    Die((*db)->InTransaction([&](store::Transaction& tx) {
      if (topic == pipeline::kProjectsTopic) return dispatcher::Scheduler::ApplyProject(tx, m);
      return dispatcher::JobPlans::Apply(tx, m);
    }),
        "apply");
  };
  events::v1::PluginRecord plugin;
  plugin.set_name("noop");
  plugin.set_spec_yaml(
      "version: 2\nname: noop\ndescription: does nothing\nplugin_versions:\n  default:\n"
      "    image: busybox\n    tag: \"1\"\n    entrypoint:\n      shell: /bin/sh\n"
      "      script: \"true\"\n");
  apply(pipeline::kPluginsTopic, "noop", plugin);
  events::v1::ProjectRecord project;
  project.set_name("bench");
  (*project.mutable_config())["SCHEDULER"] = "native";
  apply(pipeline::kProjectsTopic, "bench", project);
  const int64_t layers = 8;
  uint64_t rng = 42;
  const auto next = [&rng] {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return rng >> 33;
  };
  for (int64_t i = 0; i < jobs; ++i) {
    const int64_t layer = i * layers / jobs;
    events::v1::JobResolution r;
    r.set_project("bench");
    r.set_namespace_("ns");
    r.set_name(absl::StrCat("j", i));
    r.set_spec_version(1);
    r.set_spec_yaml(absl::StrCat("version: 2\nname: j", i,
                                 "\nowner: o\nschedule:\n  start_date: \"2026-01-01\"\n  interval: "
                                 "\"0 0 * * *\"\ntask:\n  name: noop\n  window:\n    size: 24h\n"));
    if (layer > 0) {
      const int64_t lo = (layer - 1) * jobs / layers, hi = layer * jobs / layers;
      const int64_t n = 1 + static_cast<int64_t>(next() % 3);
      for (int64_t k = 0; k < n; ++k) {
        auto* u = r.add_upstreams();
        u->set_project("bench");
        u->set_name(absl::StrCat("j", lo + static_cast<int64_t>(next()) % (hi - lo)));
      }
    }
    apply(pipeline::kResolutionsTopic, absl::StrCat("bench/j", i), r);
  }
  std::printf("bench-schedule: %lld native daily jobs in %lld layers (SQLite, one process)\n",
              static_cast<long long>(jobs), static_cast<long long>(layers));

  const auto pass = [&] {
    const int64_t before = CpuMicros();
    auto stats = scheduler.Tick();
    Die(stats.status(), "tick");
    return std::make_pair(static_cast<double>(CpuMicros() - before) / 1000.0, *stats);
  };
  // The first pass of an instance loads every job and every recent run (a takeover).
  auto [load_ms, load] = pass();
  std::printf("  pass that loads the jobs (takeover):  %8.1f ms CPU, %d runs made\n", load_ms,
              load.created);
  // Runs of Jan 10 are done (caught up); passes with nothing to do.
  const auto run_all = [&] {
    int64_t n = 0;
    for (;;) {
      auto claimed = executions.Claim("bench", {""}, 5000, now);
      Die(claimed.status(), "claim");
      if (claimed->empty()) return n;
      for (const auto& e : *claimed) {
        Die(executions.Start(e.id(), "bench", e.epoch(), now), "start");
        Die(executions.Finish(e.id(), "bench", e.epoch(), dispatcher::State::kSucceeded, 0, "", now)
                .status(),
            "finish");
        ++n;
      }
    }
  };
  for (int i = 0; i < 20; ++i) {
    run_all();
    now += 200;
    pass();
  }
  std::vector<double> idle;
  for (int i = 0; i < 50; ++i) {
    now += 1000;
    idle.push_back(pass().first);
  }
  std::printf("  idle pass (nothing due):              %8.2f ms CPU (p50), %.2f ms (max)\n",
              Percentile(idle, 0.5), Percentile(idle, 1.0));
  // Jan 11 00:00: every job's run comes due at once.
  now = absl::ToUnixMillis(
      absl::FromCivil(absl::CivilSecond(2026, 1, 11, 0, 0, 1), absl::UTCTimeZone()));
  auto [tick_ms, tick] = pass();
  std::printf("  pass at the tick:                     %8.1f ms CPU, %d runs made, %d queued\n",
              tick_ms, tick.created, tick.queued);
  // The day runs through: executors finish everything queued between passes.
  std::vector<double> day;
  int64_t ran = 0, passes = 0, succeeded = 0;
  const auto wall = std::chrono::steady_clock::now();
  while (succeeded < jobs && passes < 10000) {
    ran += run_all();
    now += 100;
    auto [ms, stats] = pass();
    day.push_back(ms);
    succeeded += stats.succeeded;
    ++passes;
  }
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count();
  std::printf(
      "  passes that run the day through:      %8.1f ms CPU (p50), %.1f ms (p99), %.1f ms "
      "(max) over %lld passes; %lld of %lld runs succeeded\n",
      Percentile(day, 0.5), Percentile(day, 0.99), Percentile(day, 1.0),
      static_cast<long long>(passes), static_cast<long long>(succeeded),
      static_cast<long long>(jobs));
  std::printf(
      "  control plane alone for the day:      %8.1f s wall (scheduler and simulated "
      "executors, %lld executions)\n",
      wall_s, static_cast<long long>(ran));
  const double worst = std::max({tick_ms, Percentile(day, 1.0), Percentile(idle, 1.0)});
  std::printf(
      "budget: <= 100 ms of scheduler CPU per pass for %lld jobs: %s (worst %.1f ms; the "
      "loading pass is once per takeover)\n",
      static_cast<long long>(jobs), worst <= 100 ? "met" : "NOT met", worst);
  std::filesystem::remove_all(dir);
  return 0;
}
