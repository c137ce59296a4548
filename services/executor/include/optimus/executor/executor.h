// optimus-executor's work loop: it dials out to the dispatcher (no inbound port), heartbeats,
// claims executions when it has free slots, runs each one's steps as local processes in a fresh
// work directory, streams their output and reports how they ended. A lease the dispatcher says
// is lost is stopped without a report; a cancellation is stopped and reported cancelled.
#pragma once

#include <grpcpp/channel.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "optimus/core/v1/dispatch.grpc.pb.h"
#include "optimus/executor/process.h"
#include "optimus/executor/reporter.h"

namespace optimus::executor {

class KubernetesRunner;

struct ExecutorOptions {
  std::string name;        // for logs
  std::string credential;  // "<executor id>.<secret>"
  int capacity = 1;        // executions at once (the dispatcher also caps at the registered one)
  std::string work_root;   // run directories below it, reused by slot (see work_dirs.h)
  std::chrono::milliseconds heartbeat{2000};
  // The dispatcher's lease (updated from its answers): a run whose lease was not renewed for
  // 80% of it is killed here, before the dispatcher can give it to another executor.
  std::chrono::milliseconds lease{10000};
  std::chrono::milliseconds claim_wait{5000};
  // On stop: how long running executions may go on before they are killed (unreported: their
  // leases expire and other executors take them).
  std::chrono::milliseconds drain{30000};
  bool keep_work_dirs = false;
  // Steps run as Kubernetes Jobs through this runner; as local processes when null.
  class KubernetesRunner* kubernetes = nullptr;
};

class Executor {
 public:
  Executor(ExecutorOptions options, std::shared_ptr<grpc::Channel> channel);
  ~Executor();

  // Runs until `stop` (then drains) or until the dispatcher refuses the credential. Returns OK
  // after a requested stop, PermissionDenied/Unauthenticated when the credential is refused.
  absl::Status Run(std::stop_token stop);

  int64_t finished() const { return finished_.load(); }

 private:
  struct Running {
    std::string id;
    int64_t epoch = 0;
    int slot = 0;                        // of the work directories (see work_dirs.h)
    std::atomic<Stop> stop{Stop::kNo};   // cancel or lost: stop the process group
    std::atomic<bool> cancelled{false};  // asked by a person: report cancelled
    std::atomic<bool> lost{false};       // no longer ours: report nothing
    // When the dispatcher last renewed its lease (claim, heartbeat); guarded by mu_.
    std::chrono::steady_clock::time_point renewed;
    std::thread thread;
  };

  void HeartbeatLoop(std::stop_token stop);
  void Execute(const core::v1::Lease& lease, std::shared_ptr<Running> running);
  void Context(grpc::ClientContext& context, std::chrono::milliseconds deadline) const;
  // Reports of an execution, sent together and batched with other executions' (one call per
  // item to a dispatcher without ExecutorService.Report).
  std::vector<Reporter::Answer> Report(const std::vector<core::v1::ReportItem>& items);
  void Forget(const std::string& id);
  int FreeSlot() const;  // the lowest slot no running execution holds; mu_ held
  void Refused(const grpc::Status& status);

  ExecutorOptions options_;
  std::unique_ptr<core::v1::ExecutorService::Stub> stub_;
  std::unique_ptr<Reporter> reporter_;
  std::atomic<bool> single_calls_{false};
  std::mutex mu_;
  std::condition_variable slot_free_;
  std::map<std::string, std::shared_ptr<Running>> running_;
  std::vector<std::thread> done_;  // finished threads, joined by the claim loop
  std::atomic<bool> refused_{false};
  grpc::Status refusal_;
  std::atomic<int64_t> finished_{0};
};

}  // namespace optimus::executor
