// Turns SIGTERM/SIGINT into an ordered shutdown: mains block on Wait(), then stop their parts in
// order (readiness off -> stop accepting -> drain -> exit).
//
//   int main() {
//     rpc::ShutdownSignal shutdown;  // first thing, before any thread exists
//     ... start servers and consumers ...
//     shutdown.Wait();
//     health.SetShuttingDown(); grpc.Shutdown(10s); http.Stop(10s); ...
//   }
#pragma once

#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

namespace optimus::rpc {

class ShutdownSignal {
 public:
  // Blocks SIGTERM and SIGINT in the calling thread, which every thread created afterwards
  // inherits, and starts the thread that waits for them. Create it in main before any other
  // thread starts (gRPC, Kafka and httplib all start threads): a thread created earlier still
  // has the default action and a signal delivered to it kills the process.
  // After the first signal, a second one ends the process at once (exit code 128 + signal) for an
  // operator who does not want to wait for the drain.
  explicit ShutdownSignal(bool second_signal_exits = true);
  // Stops the waiter thread and restores the signal mask of the calling thread.
  ~ShutdownSignal();
  ShutdownSignal(const ShutdownSignal&) = delete;
  ShutdownSignal& operator=(const ShutdownSignal&) = delete;

  // Blocks until a signal arrives or Trigger() is called. Returns the signal number, or 0 when
  // triggered.
  int Wait();
  // As Wait(), giving up after `timeout` (nullopt).
  std::optional<int> WaitFor(std::chrono::milliseconds timeout);

  // Starts the shutdown without a signal (a fatal error in a component, tests).
  void Trigger();
  bool triggered() const;

 private:
  void WaitForSignals();
  void Fire(int signal_number);

  sigset_t set_;
  sigset_t previous_mask_;
  bool second_signal_exits_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool fired_ = false;
  int signal_ = 0;
  std::atomic<bool> stop_{false};
  std::thread waiter_;
};

}  // namespace optimus::rpc
