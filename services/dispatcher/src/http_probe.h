// Http dependencies of native jobs (Optimus's http sensor): asked with GET in the background,
// so that a slow endpoint never holds a scheduler pass up; a 2xx (up to 300) answer passes.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "optimus/spec/model.h"

namespace optimus::dispatcher {

class HttpProbe {
 public:
  explicit HttpProbe(int64_t interval_ms) : interval_ms_(interval_ms) {
    thread_ = std::jthread([this](std::stop_token stop) { Run(stop); });
  }

  // The last answer for `dep` (a 2xx status): false until one came. Asks again in the
  // background when the answer is older than the interval.
  bool Ok(const spec::HttpDependency& dep, int64_t now);

 private:
  struct Entry {
    spec::HttpDependency dep;
    int64_t checked_ms = -1;
    bool pending = false;
    bool ok = false;
  };

  static bool Ask(const spec::HttpDependency& dep);
  void Run(std::stop_token stop);

  const int64_t interval_ms_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::map<std::string, Entry> entries_;
  std::deque<std::string> queue_;
  std::jthread thread_;  // last
};

}  // namespace optimus::dispatcher
