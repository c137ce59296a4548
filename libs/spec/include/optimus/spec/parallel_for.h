// Runs independent pieces of work on a few threads (reading a project, rendering DAGs).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace optimus::spec {

// Calls fn(i) for every i in [0, n), on up to `workers` threads including the caller's; each
// index once, in no particular order. Returns when all calls have returned.
template <typename Fn>
void ParallelFor(size_t n, size_t workers, Fn&& fn) {
  workers = std::min(workers, n);
  if (workers <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  auto run = [&] {
    for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) fn(i);
  };
  std::vector<std::jthread> threads;
  threads.reserve(workers - 1);
  for (size_t w = 1; w < workers; ++w) threads.emplace_back(run);
  run();
}

}  // namespace optimus::spec
