// The dispatcher under load, through its gRPC API as executors use it (tools/bench/dispatch
// starts optimus-dispatcher on PostgreSQL and Kafka and runs this). Three figures:
//  1. claims per second: 500 executions an executor queued, then EXECUTORS executors claim them in
//  batches
//     until none is left (budget >= 2,000 claims/s), then finish them; and the whole cycle:
//     EXECUTIONS runs claimed CAPACITY at a time, each finished before the next claim.
//  2. queue to process start with idle capacity: every executor waits in Claim; executions are
//     queued one at a time; the time from asking to queue one to its process (/bin/true) having
//     started on the executor that claimed it (claim, StartExecution, posix_spawn);
//     budget p99 <= 50 ms.
//  3. a dead executor: one executor claims a batch and goes silent; how long until another
//     executor has claimed all of them; budget <= lease + 1 s.
#include <grpcpp/grpcpp.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "optimus/core/v1/dispatch.grpc.pb.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using optimus::core::v1::CatalogService;
using optimus::core::v1::ExecutionService;
using optimus::core::v1::ExecutorAdminService;
using optimus::core::v1::ExecutorService;

struct Options {
  std::string host;
  int executors = 8;
  int capacity = 16;
  int executions = 20000;
  int latency_samples = 500;
  int64_t lease_ms = 5000;
};

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

std::shared_ptr<grpc::Channel> Channel(const std::string& host) {
  grpc::ChannelArguments args;
  args.SetInt("grpc.use_local_subchannel_pool", 1);  // a connection of its own, like a process
  return grpc::CreateCustomChannel(host, grpc::InsecureChannelCredentials(), args);
}

void Deadline(grpc::ClientContext& c, int seconds = 30) {
  c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
}

void Check(const grpc::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "bench-dispatch: %s: %s\n", what, s.error_message().c_str());
    std::exit(1);
  }
}

// An executor as the dispatcher sees it: its stub with its credential.
struct Executor {
  std::unique_ptr<ExecutorService::Stub> stub;
  std::string credential;

  void Auth(grpc::ClientContext& c) const {
    c.AddMetadata("authorization", "Bearer " + credential);
  }
  optimus::core::v1::ClaimResponse Claim(int max, int64_t wait_ms) const {
    optimus::core::v1::ClaimRequest r;
    r.set_max(max);
    r.set_wait_ms(wait_ms);
    optimus::core::v1::ClaimResponse out;
    grpc::ClientContext c;
    Deadline(c);
    Auth(c);
    Check(stub->Claim(&c, r, &out), "claim");
    return out;
  }
  void Start(const optimus::core::v1::Execution& e) const {
    optimus::core::v1::StartExecutionRequest r;
    r.set_execution_id(e.id());
    r.set_epoch(e.epoch());
    optimus::core::v1::StartExecutionResponse out;
    grpc::ClientContext c;
    Deadline(c);
    Auth(c);
    Check(stub->StartExecution(&c, r, &out), "start");
  }
  // Renews the leases of `held` from index `from` on (what a real executor's heartbeat does).
  void Renew(const std::vector<optimus::core::v1::Execution>& held, size_t from) const {
    optimus::core::v1::HeartbeatRequest r;
    for (size_t i = from; i < held.size(); ++i) {
      auto* lease = r.add_running();
      lease->set_execution_id(held[i].id());
      lease->set_epoch(held[i].epoch());
    }
    optimus::core::v1::HeartbeatResponse out;
    grpc::ClientContext c;
    Deadline(c);
    Auth(c);
    Check(stub->Heartbeat(&c, r, &out), "heartbeat");
  }
  void Finish(const optimus::core::v1::Execution& e) const {
    optimus::core::v1::FinishExecutionRequest r;
    r.set_execution_id(e.id());
    r.set_epoch(e.epoch());
    r.set_state("succeeded");
    r.set_has_exit_code(true);
    optimus::core::v1::FinishExecutionResponse out;
    grpc::ClientContext c;
    Deadline(c);
    Auth(c);
    Check(stub->FinishExecution(&c, r, &out), "finish");
  }
};

Executor Register(const Options& o, const std::string& name, int capacity) {
  auto admin = ExecutorAdminService::NewStub(Channel(o.host));
  optimus::core::v1::CreateRegistrationTokenResponse token;
  {
    grpc::ClientContext c;
    Deadline(c);
    Check(admin->CreateRegistrationToken(&c, {}, &token), "registration token");
  }
  Executor e{ExecutorService::NewStub(Channel(o.host)), ""};
  optimus::core::v1::RegisterExecutorRequest r;
  r.set_registration_token(token.token());
  r.set_name(name);
  r.set_capacity(capacity);
  optimus::core::v1::RegisterExecutorResponse out;
  grpc::ClientContext c;
  Deadline(c);
  Check(e.stub->Register(&c, r, &out), "register");
  e.credential = out.credential();
  return e;
}

// Queues `count` runs of the catalog task from `threads` clients; request keys prefix-<i>.
void Queue(const Options& o, const std::string& prefix, int count, int threads) {
  std::atomic<int> next{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      auto stub = ExecutionService::NewStub(Channel(o.host));
      for (int i = next++; i < count; i = next++) {
        optimus::core::v1::ExecuteTaskRequest r;
        r.set_project_name("bench");
        r.set_task_name("noop");
        r.set_request_key(prefix + std::to_string(i));
        optimus::core::v1::Execution out;
        grpc::ClientContext c;
        Deadline(c);
        Check(stub->ExecuteTask(&c, r, &out), "execute task");
      }
    });
  }
  for (auto& w : workers) w.join();
}

// Claims alone: every executor takes batches until the queue is empty (capacity enough to hold
// them all), then every lease is finished; each part timed on its own.
void ClaimRate(const Options& o, const std::vector<Executor>& executors) {
  const int count = std::min(o.executions, static_cast<int>(executors.size()) * 500);
  const auto queue_start = Clock::now();
  Queue(o, "claim-", count, 8);
  const double queue_s = Ms(Clock::now() - queue_start) / 1000;
  std::mutex mu;
  std::vector<double> claim_ms;
  std::vector<std::vector<optimus::core::v1::Execution>> held(executors.size());
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (size_t i = 0; i < executors.size(); ++i) {
    workers.emplace_back([&, i] {
      std::vector<double> mine;
      for (;;) {
        const auto before = Clock::now();
        auto got = executors[i].Claim(64, 0);
        mine.push_back(Ms(Clock::now() - before));
        if (got.leases().empty()) break;
        for (const auto& lease : got.leases()) held[i].push_back(lease.execution());
      }
      std::lock_guard lock(mu);
      claim_ms.insert(claim_ms.end(), mine.begin(), mine.end());
    });
  }
  for (auto& w : workers) w.join();
  const double claim_s = Ms(Clock::now() - start) / 1000;
  size_t claimed = 0;
  for (const auto& h : held) claimed += h.size();
  workers.clear();
  const auto finish_start = Clock::now();
  for (size_t i = 0; i < executors.size(); ++i) {
    workers.emplace_back([&, i] {
      // Held leases are renewed every second while the rest are finished, as an executor's
      // heartbeat would.
      auto renewed = Clock::now();
      executors[i].Renew(held[i], 0);
      for (size_t n = 0; n < held[i].size(); ++n) {
        if (Clock::now() - renewed > std::chrono::seconds(1)) {
          executors[i].Renew(held[i], n);
          renewed = Clock::now();
        }
        executors[i].Finish(held[i][n]);
      }
    });
  }
  for (auto& w : workers) w.join();
  const double finish_s = Ms(Clock::now() - finish_start) / 1000;
  std::printf(
      "claims: %d executions queued in %.1f s (%.0f/s); %d executors claimed them 64 at a time "
      "in %.2f s: %.0f claims/s (budget >= 2,000/s), Claim call p50 %.2f ms, p99 %.2f ms; then "
      "finished them at %.0f/s (renewing the rest every second)\n",
      count, queue_s, count / queue_s, static_cast<int>(executors.size()), claim_s,
      claimed / claim_s, Percentile(claim_ms, 0.5), Percentile(claim_ms, 0.99), claimed / finish_s);
}

// The whole cycle: executors with `capacity` slots claim what fits and finish each run before
// claiming again.
void CycleRate(const Options& o, const std::vector<Executor>& executors) {
  Queue(o, "cycle-", o.executions, 8);
  std::atomic<int> claimed{0};
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (const Executor& e : executors) {
    workers.emplace_back([&, ex = &e] {
      for (;;) {
        auto got = ex->Claim(o.capacity, 0);
        if (got.leases().empty()) break;
        claimed += got.leases_size();
        for (const auto& lease : got.leases()) ex->Finish(lease.execution());
      }
    });
  }
  for (auto& w : workers) w.join();
  const double seconds = Ms(Clock::now() - start) / 1000;
  std::printf(
      "cycles: %d executions claimed %d at a time and each finished before the next claim by %d "
      "executors in %.2f s: %.0f claim-and-finish cycles/s\n",
      o.executions, o.capacity, static_cast<int>(executors.size()), seconds, claimed / seconds);
}

void StartLatency(const Options& o, const std::vector<Executor>& executors) {
  std::mutex mu;
  std::map<std::string, Clock::time_point> asked;  // request key -> when it was queued
  std::vector<double> latency;
  std::atomic<int> started{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> workers;
  for (const Executor& e : executors) {
    workers.emplace_back([&, ex = &e] {
      while (!done) {
        auto got = ex->Claim(1, 1000);
        for (const auto& lease : got.leases()) {
          ex->Start(lease.execution());
          pid_t pid = 0;
          char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
          if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ) != 0) std::exit(1);
          const auto at = Clock::now();
          {
            std::lock_guard lock(mu);
            latency.push_back(Ms(at - asked.at(lease.execution().request_key())));
          }
          waitpid(pid, nullptr, 0);
          ex->Finish(lease.execution());
          ++started;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // every executor is waiting
  auto stub = ExecutionService::NewStub(Channel(o.host));
  for (int i = 0; i < o.latency_samples; ++i) {
    const std::string key = "latency-" + std::to_string(i);
    optimus::core::v1::ExecuteTaskRequest r;
    r.set_project_name("bench");
    r.set_task_name("noop");
    r.set_request_key(key);
    {
      std::lock_guard lock(mu);
      asked[key] = Clock::now();
    }
    optimus::core::v1::Execution out;
    grpc::ClientContext c;
    Deadline(c);
    Check(stub->ExecuteTask(&c, r, &out), "execute task");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  while (started < o.latency_samples) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  done = true;
  for (auto& w : workers) w.join();
  std::printf(
      "start latency: %d executions queued one every 20 ms to %d idle executors: queue to process "
      "start p50 %.2f ms, p99 %.2f ms, max %.2f ms (budget p99 <= 50 ms)\n",
      o.latency_samples, static_cast<int>(executors.size()), Percentile(latency, 0.5),
      Percentile(latency, 0.99), Percentile(latency, 1.0));
}

void DeadExecutor(const Options& o, const Executor& dying, const Executor& survivor) {
  const int batch = 8;
  Queue(o, "dead-", batch, 1);
  auto lost = dying.Claim(batch, 2000);
  const auto died = Clock::now();  // it claims, then never heartbeats or reports again
  for (const auto& lease : lost.leases()) dying.Start(lease.execution());
  int taken = 0;
  Clock::time_point last;
  while (taken < lost.leases_size()) {
    auto got = survivor.Claim(batch, 2000);
    for (const auto& lease : got.leases()) {
      survivor.Start(lease.execution());
      survivor.Finish(lease.execution());
      ++taken;
      last = Clock::now();
    }
    if (Ms(Clock::now() - died) > 60000) {
      std::printf("dead executor: only %d of %d runs were taken over in a minute\n", taken,
                  lost.leases_size());
      std::exit(1);
    }
  }
  std::printf(
      "dead executor: its %d runs all started on another executor %.2f s after it went silent "
      "(lease %.1f s; budget <= lease + 1 s)\n",
      taken, Ms(last - died) / 1000, o.lease_ms / 1000.0);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    int64_t n = 0;
    if (flag == "--host") {
      o.host = value;
    } else if (absl::SimpleAtoi(value, &n) && flag == "--executors") {
      o.executors = static_cast<int>(n);
    } else if (absl::SimpleAtoi(value, &n) && flag == "--capacity") {
      o.capacity = static_cast<int>(n);
    } else if (absl::SimpleAtoi(value, &n) && flag == "--executions") {
      o.executions = static_cast<int>(n);
    } else if (absl::SimpleAtoi(value, &n) && flag == "--samples") {
      o.latency_samples = static_cast<int>(n);
    } else if (absl::SimpleAtoi(value, &n) && flag == "--lease-ms") {
      o.lease_ms = n;
    } else {
      std::fprintf(stderr,
                   "usage: bench-dispatch --host H:P [--executors 8] [--capacity 16] "
                   "[--executions 20000] [--samples 500] [--lease-ms 5000]\n");
      return 2;
    }
  }
  if (o.host.empty()) {
    std::fprintf(stderr, "bench-dispatch: --host is required\n");
    return 2;
  }
  {
    auto catalog = CatalogService::NewStub(Channel(o.host));
    optimus::core::v1::CreateTaskRequest r;
    r.mutable_task()->set_name("noop");
    r.mutable_task()->set_script("true");
    r.set_replace(true);
    optimus::core::v1::CatalogTask out;
    grpc::ClientContext c;
    Deadline(c);
    Check(catalog->CreateTask(&c, r, &out), "create task");
  }
  std::vector<Executor> executors;
  for (int i = 0; i < o.executors; ++i) {
    executors.push_back(Register(o, "bench-" + std::to_string(i), 1024));
  }
  ClaimRate(o, executors);
  CycleRate(o, executors);
  StartLatency(o, executors);
  DeadExecutor(o, Register(o, "bench-dying", o.capacity), executors.front());
  return 0;
}
