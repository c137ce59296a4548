// Sends a run's output to the dispatcher in numbered chunks while it runs (a chunk every flush
// interval or MiB), so `optimus execution logs --follow` shows it live and an executor killed
// mid-run loses at most the last interval. A chunk the dispatcher did not take is sent again
// under the same number; a refused lease stops the shipping.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace optimus::executor {

class LogShipper {
 public:
  // Sends one chunk; FailedPrecondition means the lease is gone (stop), other errors are retried.
  using Send = std::function<absl::Status(int64_t chunk, const std::string& data)>;

  LogShipper(Send send, std::chrono::milliseconds interval = std::chrono::milliseconds(300));
  ~LogShipper();  // Close()

  void Write(std::string_view data);
  // Sends what is left (trying for up to `patience`) and stops the thread.
  void Close(std::chrono::milliseconds patience = std::chrono::seconds(10));
  // Stops the thread and gives what is left unsent, as numbered chunks, for the caller to send
  // with its last report (a chunk not accepted before is given again under its number).
  std::vector<std::pair<int64_t, std::string>> TakeRest();
  // True once the dispatcher refused a chunk because the lease is no longer held.
  bool lease_lost() const { return lease_lost_.load(); }

 private:
  void Loop(std::stop_token stop);
  bool FlushOnce();  // false when something could not be sent

  static constexpr size_t kMaxChunk = 1 << 20;
  Send send_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::string pending_;
  std::string in_flight_;  // taken from pending_, not yet accepted
  int64_t next_chunk_ = 1;
  std::atomic<bool> lease_lost_{false};
  std::mutex send_mu_;  // one sender at a time (loop or Close)
  std::jthread thread_;
};

}  // namespace optimus::executor
