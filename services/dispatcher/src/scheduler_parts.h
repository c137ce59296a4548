// What the native scheduler keeps in memory of each job and each replay going on, shared by
// its passes (scheduler.cc), what it loads (scheduler_load.cc), its gate (scheduler_gate.cc) and
// the replays they run (scheduler_replays.cc); and the helpers they share.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "optimus/dispatcher/scheduler.h"

namespace optimus::dispatcher {

// The states of a run not yet ended, as SQL (index sched_runs_open).
inline constexpr char kOpenStates[] = "('waiting', 'running', 'retry_wait')";

// A UTC instant in milliseconds as RFC 3339.
std::string Rfc3339(int64_t ms);
// A run's columns in sched_runs, as RunFromRow reads them from column `first` on.
extern const char kRunColumns[];
ScheduledRun RunFromRow(const store::Row& row, size_t first);
// What makes two jobs' upstream ticks equal: the window, and the upstream's schedule.
std::string WindowKey(const schedule::WindowSpec& w);
std::string TimelineKey(const JobTimeline& t);

struct Scheduler::Job {
  std::string key;
  std::string window_key;    // WindowKey of its window
  std::string timeline_key;  // TimelineKey of its schedule
  int64_t spec_version = 0;
  NativeJob spec;
  NewExecution plan;
  std::string plan_error;  // why its runs cannot be queued ("" : they can)
  std::map<int64_t, ScheduledRun> runs;
  std::optional<int64_t> last_tick;
  std::optional<int64_t> next_due;  // the tick after last_tick (cached)
  int32_t active = 0;               // runs queued or running
  bool runs_loaded = false;         // its runs were read from the store
};

struct Scheduler::Replay {
  std::string id;
  std::string project;
  bool parallel = false;
  bool ignore_upstream = false;
  std::map<std::string, std::string> job_config;
  struct Entry {
    std::string job_key;
    int64_t tick = 0;
    enum { kPending, kStarted, kDone } phase = kPending;
    RunStatus result = RunStatus::kWaiting;
  };
  std::vector<Entry> entries;  // in replay order
};

}  // namespace optimus::dispatcher
