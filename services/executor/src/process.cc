// clone/exec of a step with its own process group, read through one pipe with poll() so that
// the deadline and cancellation are checked while it runs (see process.h).
#include "optimus/executor/process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

namespace optimus::executor {
namespace {

using Clock = std::chrono::steady_clock;

// Everything the child needs, built before it starts: it may only make system calls.
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

constexpr size_t kChildStack = 64 * 1024;

// What the child reads from its parent's memory, which it shares until it execs.
struct Child {
  const Exec* exec;
  const char* work_dir;  // null: the executor's own
  int out;               // the pipe's write end: stdout and stderr
  pid_t parent;
  sigset_t mask;  // the parent thread's signal mask, restored before exec
};

// The child, on its own stack in the parent's memory: only system calls, no allocation.
int ChildMain(void* arg) {
  const Child& c = *static_cast<const Child*>(arg);
  // The parent's handlers are its code: the child takes the defaults (a handler running here
  // would run in the parent's memory), and SIGPIPE its default too, as a shell expects.
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction sa;
    if (::sigaction(sig, nullptr, &sa) != 0) continue;
    if (sa.sa_handler == SIG_DFL || (sa.sa_handler == SIG_IGN && sig != SIGPIPE)) continue;
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = 0;
    ::sigaction(sig, &sa, nullptr);
  }
  ::setsid();  // a group of its own: stopping it stops everything the script started
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != c.parent) ::_exit(137);  // the executor died before prctl
  const int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) ::dup2(devnull, 0);
  ::dup2(c.out, 1);
  ::dup2(c.out, 2);
  if (c.work_dir != nullptr && ::chdir(c.work_dir) != 0) ::_exit(126);
  ::sigprocmask(SIG_SETMASK, &c.mask, nullptr);
  ::execve(c.exec->argv[0], c.exec->argv.data(), c.exec->envp.data());
  static const char kFailed[] = "optimus-executor: exec of the step's shell failed\n";
  (void)!::write(2, kFailed, sizeof kFailed - 1);
  ::_exit(127);
}

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
  // clone(CLONE_VM | CLONE_VFORK), as posix_spawn does, not fork(): the child borrows this
  // process's memory until it execs instead of copying its page tables (and taking a fault for
  // every page either side touches afterwards), which was a third of an executor's CPU when it
  // runs many short steps. Signals stay blocked until the child has reset their handlers.
  Child child{
      &exec, spec.work_dir.empty() ? nullptr : spec.work_dir.c_str(), out[1], ::getpid(), {}};
  sigset_t all;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &child.mask);
  std::vector<char> stack(kChildStack);
  const pid_t pid =
      ::clone(ChildMain, stack.data() + stack.size(), CLONE_VM | CLONE_VFORK | SIGCHLD, &child);
  const int clone_error = errno;
  ::pthread_sigmask(SIG_SETMASK, &child.mask, nullptr);
  if (pid < 0) {
    result.error = std::string("cannot start the step's process: ") + std::strerror(clone_error);
    ::close(out[0]);
    ::close(out[1]);
    return result;
  }
  ::close(out[1]);
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);

  std::optional<ProcessResult::End> forced;  // why we stopped it, if we did
  Clock::time_point kill_at = Clock::time_point::max();
  bool open = true;
  int status = 0;
  bool reaped = false;
  int idle_waits = 0;
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
      // The pipe closed: the step is exiting. Look again soon, then less often (a step that
      // closed its output but runs on is waited for at 20 ms steps).
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::min(20, 1 << std::min(idle_waits, 5))));
      ++idle_waits;
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
