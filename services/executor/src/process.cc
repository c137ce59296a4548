// fork/exec of a step with its own process group, read through one pipe with poll() so that
// the deadline and cancellation are checked while it runs (see process.h).
#include "optimus/executor/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

namespace optimus::executor {
namespace {

using Clock = std::chrono::steady_clock;

// Everything the child needs, built before fork(): after it only async-signal-safe calls.
struct Exec {
  std::vector<std::string> strings;
  std::vector<char*> argv;
  std::vector<char*> envp;
};

Exec Prepare(const ProcessSpec& spec) {
  Exec e;
  e.strings.reserve(3 + spec.env.size());
  e.strings.push_back(spec.shell.empty() ? "/bin/sh" : spec.shell);
  e.strings.push_back("-c");
  e.strings.push_back(spec.script);
  for (const auto& [k, v] : spec.env) e.strings.push_back(k + "=" + v);
  for (size_t i = 0; i < 3; ++i) e.argv.push_back(e.strings[i].data());
  e.argv.push_back(nullptr);
  for (size_t i = 3; i < e.strings.size(); ++i) e.envp.push_back(e.strings[i].data());
  e.envp.push_back(nullptr);
  return e;
}

void StopGroup(pid_t pid, int sig) { ::kill(-pid, sig); }

}  // namespace

ProcessResult RunProcess(const ProcessSpec& spec, const OutputSink& output,
                         const std::atomic<Stop>& stop) {
  ProcessResult result;
  Exec exec = Prepare(spec);
  struct stat shell_stat;
  if (::stat(exec.argv[0], &shell_stat) != 0 || !(shell_stat.st_mode & S_IXUSR)) {
    result.error = std::string("cannot start the step: its shell ") + exec.argv[0] +
                   " does not exist or is not executable";
    return result;
  }
  if (!spec.work_dir.empty() && ::access(spec.work_dir.c_str(), X_OK) != 0) {
    result.error = "cannot start the step: its work directory " + spec.work_dir +
                   " is not there (" + std::strerror(errno) + ")";
    return result;
  }
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    result.error = std::string("cannot make a pipe: ") + std::strerror(errno);
    return result;
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    result.error = std::string("cannot fork: ") + std::strerror(errno);
    ::close(out[0]);
    ::close(out[1]);
    return result;
  }
  if (pid == 0) {
    ::setsid();  // a group of its own: stopping it stops everything the script started
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(137);  // the executor died before prctl
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    if (!spec.work_dir.empty() && ::chdir(spec.work_dir.c_str()) != 0) ::_exit(126);
    ::signal(SIGPIPE, SIG_DFL);
    ::execve(exec.argv[0], exec.argv.data(), exec.envp.data());
    static const char kFailed[] = "optimus-executor: exec of the step's shell failed\n";
    (void)!::write(2, kFailed, sizeof kFailed - 1);
    ::_exit(127);
  }
  ::close(out[1]);
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);

  std::optional<ProcessResult::End> forced;  // why we stopped it, if we did
  Clock::time_point kill_at = Clock::time_point::max();
  bool open = true;
  int status = 0;
  bool reaped = false;
  char buffer[64 * 1024];
  while (!reaped || open) {
    const auto now = Clock::now();
    const Stop asked = stop.load();
    if (!forced && asked != Stop::kNo) forced = ProcessResult::End::kCancelled;
    if (!forced && now >= spec.deadline) forced = ProcessResult::End::kTimedOut;
    if (forced && kill_at == Clock::time_point::max()) {
      StopGroup(pid, SIGTERM);
      kill_at = now + spec.kill_grace;
    }
    if (asked == Stop::kNow) kill_at = std::min(kill_at, now);
    if (now >= kill_at) {
      StopGroup(pid, SIGKILL);
      kill_at = Clock::time_point::max() - std::chrono::hours(1);  // once
    }
    if (open) {
      pollfd p{out[0], POLLIN, 0};
      ::poll(&p, 1, 100);
      for (;;) {
        const ssize_t n = ::read(out[0], buffer, sizeof buffer);
        if (n > 0) {
          output(std::string_view(buffer, static_cast<size_t>(n)));
          continue;
        }
        if (n == 0) open = false;  // every writer gone
        break;                     // EAGAIN: nothing more now
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!reaped && ::waitpid(pid, &status, WNOHANG) == pid) {
      reaped = true;
      // Whatever the script left running in its group goes with it (and releases the pipe).
      StopGroup(pid, SIGKILL);
    }
  }
  ::close(out[0]);
  if (forced) {
    result.end = *forced;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
  }
  if (WIFEXITED(status)) {
    result.end = ProcessResult::End::kExited;
    result.exit_code = WEXITSTATUS(status);
  } else {
    result.end = ProcessResult::End::kSignaled;
    result.exit_code = 128 + WTERMSIG(status);
  }
  return result;
}

}  // namespace optimus::executor
