// Runs one step of an execution as a local process: `shell -c script` in its own session (so
// the whole process group can be stopped), with a clean environment, its output streamed as it
// comes, and a deadline and a cancellation that stop the group (SIGTERM, then SIGKILL).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace optimus::executor {

struct ProcessSpec {
  std::string shell = "/bin/sh";
  std::string script;
  std::map<std::string, std::string> env;  // the whole environment (nothing is inherited)
  std::string work_dir;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::chrono::milliseconds kill_grace{5000};  // SIGTERM to SIGKILL
};

struct ProcessResult {
  enum class End { kExited, kSignaled, kTimedOut, kCancelled, kNotStarted };
  End end = End::kNotStarted;
  int exit_code = -1;  // kExited: the code; kSignaled: 128 + signal
  std::string error;   // kNotStarted: why (no such shell, no work directory, ...)
};

// Stdout and stderr together, in the order written, in pieces as they arrive.
using OutputSink = std::function<void(std::string_view)>;

// How another thread asks a running step to stop.
enum class Stop : int {
  kNo = 0,
  kGracefully = 1,  // SIGTERM, then SIGKILL after kill_grace (a cancellation)
  kNow = 2,         // SIGKILL at once (a lease this executor no longer holds)
};

// Runs `spec` to its end. `stop` set (by another thread) stops the group: the result is then
// kCancelled. The step also dies with the thread that runs it (PR_SET_PDEATHSIG), so a killed
// executor leaves no run going on that another executor is about to start again.
ProcessResult RunProcess(const ProcessSpec& spec, const OutputSink& output,
                         const std::atomic<Stop>& stop);

}  // namespace optimus::executor
