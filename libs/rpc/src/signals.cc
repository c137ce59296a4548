// ShutdownSignal: SIGTERM/SIGINT blocked in every thread and consumed by one waiter thread.
#include "optimus/rpc/signals.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "optimus/telemetry/log.h"

namespace optimus::rpc {

ShutdownSignal::ShutdownSignal(bool second_signal_exits)
    : second_signal_exits_(second_signal_exits) {
  sigemptyset(&set_);
  sigaddset(&set_, SIGTERM);
  sigaddset(&set_, SIGINT);
  int error = pthread_sigmask(SIG_BLOCK, &set_, &previous_mask_);
  if (error != 0) {
    LOG_ERROR("cannot block SIGTERM/SIGINT; the process will not drain on signals",
              {{"error", std::strerror(error)}});
  }
  waiter_ = std::thread([this] { WaitForSignals(); });
}

ShutdownSignal::~ShutdownSignal() {
  stop_ = true;
  waiter_.join();
  pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
}

void ShutdownSignal::WaitForSignals() {
  // A short timeout lets the destructor stop this thread without sending it a signal.
  const timespec poll{0, 100 * 1000 * 1000};
  while (!stop_) {
    int signal_number = sigtimedwait(&set_, nullptr, &poll);
    if (signal_number < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      LOG_ERROR("waiting for shutdown signals failed", {{"error", std::strerror(errno)}});
      return;
    }
    bool again;
    {
      std::lock_guard<std::mutex> lock(mu_);
      again = fired_ && signal_ != 0;
    }
    if (again && second_signal_exits_) {
      LOG_WARN("second shutdown signal: exiting without waiting for the drain",
               {{"signal", strsignal(signal_number)}});
      _exit(128 + signal_number);
    }
    LOG_INFO("shutdown signal received", {{"signal", strsignal(signal_number)}});
    Fire(signal_number);
  }
}

void ShutdownSignal::Fire(int signal_number) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (fired_ && signal_ != 0) return;
    fired_ = true;
    if (signal_number != 0) signal_ = signal_number;
  }
  cv_.notify_all();
}

int ShutdownSignal::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return fired_; });
  return signal_;
}

std::optional<int> ShutdownSignal::WaitFor(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [this] { return fired_; })) return std::nullopt;
  return signal_;
}

void ShutdownSignal::Trigger() {
  LOG_INFO("shutdown triggered");
  Fire(0);
}

bool ShutdownSignal::triggered() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fired_;
}

}  // namespace optimus::rpc
