// Carries what running executions tell the dispatcher (starts, log chunks, run input requests,
// finishes) in batches: a caller blocks until its items are answered, and each call to the
// dispatcher takes every group queued since the last one left. Nothing waits to fill a batch;
// groups only gather while calls are in flight, so an idle executor's reports go out at once
// and a busy one's share calls (one call instead of dozens, on both sides).
//
// A caller's group of items always travels in one call, which the dispatcher answers in a fixed
// order (log chunks, then starts and finishes, then run inputs): an execution's start goes with
// the run inputs of its steps, and its last log chunks with its finish, so that a run takes two
// round trips rather than one per report.
#pragma once

#include <grpcpp/support/status.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "optimus/core/v1/dispatch.pb.h"

namespace optimus::executor {

class Reporter {
 public:
  // One call to the dispatcher (ExecutorService.Report in production).
  using Send =
      std::function<grpc::Status(const core::v1::ReportRequest&, core::v1::ReportResponse*)>;

  struct Limits {
    int senders = 2;  // calls in flight at once
    int max_items = 256;
    size_t max_bytes = 16 << 20;  // of the items of one call (its log chunks, mostly)
    int max_run_inputs = 32;      // whose answers may be large
  };

  // An item's answer: its own status, or the call's when the call failed.
  struct Answer {
    grpc::Status status;
    core::v1::JobRunInputResponse run_input;  // of a run input item that succeeded
  };

  explicit Reporter(Send send) : Reporter(std::move(send), Limits{}) {}
  Reporter(Send send, Limits limits);
  ~Reporter();  // answers what is still queued with CANCELLED

  // Sends `items` together with the next call and waits for their answers, in their order.
  std::vector<Answer> Call(std::vector<core::v1::ReportItem> items);
  // One item; a run input item's answer is moved to `input`.
  grpc::Status Call(core::v1::ReportItem item, core::v1::JobRunInputResponse* input = nullptr);

  int64_t calls() const;  // made so far
  size_t queued() const;  // groups waiting for a call

 private:
  struct Pending;
  void Loop();

  Send send_;
  Limits limits_;
  mutable std::mutex mu_;
  std::condition_variable queued_;
  std::deque<std::shared_ptr<Pending>> queue_;
  bool stopping_ = false;
  int64_t calls_ = 0;
  std::vector<std::thread> senders_;
};

}  // namespace optimus::executor
