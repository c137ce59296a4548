// Run input under concurrent load: N clients ask runtime-context (gRPC JobRunService) for the
// run input of random jobs at random scheduled times, as task pods do at a schedule boundary;
// prints requests per second and latency percentiles. Each client has a connection of its own
// and one request in flight, like a pod. The clients are driven by gRPC's callback API rather
// than a thread each: they share the server's two cores here, and a thread per client spent a
// third of them on waking and sleeping.
//   bench-runtime --host H --project P --jobs FILE [--clients 16] [--seconds 10]
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "google/protobuf/util/time_util.h"
#include "job_names.h"
#include "optimus/core/v1/job_run.grpc.pb.h"

namespace {

struct Args {
  std::string host = "127.0.0.1:9100";
  std::string project;
  std::string jobs_file;
  int clients = 16;
  int seconds = 10;
};

bool Parse(int argc, char** argv, Args& a) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--host") {
      a.host = value;
    } else if (flag == "--project") {
      a.project = value;
    } else if (flag == "--jobs") {
      a.jobs_file = value;
    } else if (flag == "--clients" || flag == "--threads") {  // --threads: its old name
      a.clients = std::stoi(value);
    } else if (flag == "--seconds") {
      a.seconds = std::stoi(value);
    } else {
      return false;
    }
  }
  return !a.project.empty() && !a.jobs_file.empty() && a.clients > 0 && a.seconds > 0;
}

// One client: a connection, one request in flight; the next is sent from the completion of
// the previous one, on gRPC's threads, until `stop`.
class Client {
 public:
  Client(const Args& args, const std::vector<std::string>& jobs, int index,
         const std::atomic<bool>& stop)
      : args_(args), jobs_(jobs), stop_(stop), rng_(static_cast<uint64_t>(index) * 7919 + 1) {
    grpc::ChannelArguments channel_args;
    channel_args.SetInt("grpc.use_local_subchannel_pool", 1);  // a connection per client
    stub_ = optimus::core::v1::JobRunService::NewStub(
        grpc::CreateCustomChannel(args.host, grpc::InsecureChannelCredentials(), channel_args));
  }

  void Start() { Send(); }

  // Blocks until the request in flight when `stop` was set has come back.
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return done_; });
  }

  const std::vector<double>& latencies() const { return latencies_; }
  int64_t failures() const { return failures_; }
  const std::string& first_error() const { return first_error_; }

 private:
  struct Call {
    grpc::ClientContext context;
    optimus::core::v1::JobRunInputRequest request;
    optimus::core::v1::JobRunInputResponse response;
    std::chrono::steady_clock::time_point sent;
  };

  void Send() {
    auto call = std::make_shared<Call>();
    std::uniform_int_distribution<size_t> pick(0, jobs_.size() - 1);
    std::uniform_int_distribution<int64_t> day(0, 365);
    call->request.set_project_name(args_.project);
    call->request.set_job_name(jobs_[pick(rng_)]);
    *call->request.mutable_scheduled_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(
        1704074400 + day(rng_) * 86400);  // 02:00 UTC on a day of 2024
    call->request.set_instance_type(optimus::core::v1::JobRunInputRequest::TYPE_TASK);
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    call->sent = std::chrono::steady_clock::now();
    stub_->async()->JobRunInput(&call->context, &call->request, &call->response,
                                [this, call](grpc::Status s) { Done(*call, s); });
  }

  void Done(const Call& call, const grpc::Status& s) {
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - call.sent)
            .count();
    if (s.ok()) {
      latencies_.push_back(ms);
    } else if (failures_++ == 0) {
      first_error_ = s.error_message();
    }
    if (!stop_.load(std::memory_order_relaxed)) {
      Send();
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    done_cv_.notify_all();
  }

  const Args& args_;
  const std::vector<std::string>& jobs_;
  const std::atomic<bool>& stop_;
  std::mt19937_64 rng_;
  std::unique_ptr<optimus::core::v1::JobRunService::Stub> stub_;
  // Touched by one callback at a time (one request in flight), read after Wait().
  std::vector<double> latencies_;  // ms
  int64_t failures_ = 0;
  std::string first_error_;
  std::mutex mu_;
  std::condition_variable done_cv_;
  bool done_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!Parse(argc, argv, args)) {
    std::fprintf(stderr,
                 "usage: bench-runtime --host H --project P --jobs FILE (one job name per line) "
                 "[--clients N] [--seconds S]\n");
    return 2;
  }
  const std::vector<std::string> jobs = optimus::bench::ReadJobNames(args.jobs_file);
  if (jobs.empty()) {
    std::fprintf(stderr, "bench-runtime: no job names in %s\n", args.jobs_file.c_str());
    return 2;
  }
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<Client>> clients;
  for (int c = 0; c < args.clients; ++c) {
    clients.push_back(std::make_unique<Client>(args, jobs, c, stop));
  }
  const auto start = std::chrono::steady_clock::now();
  for (auto& c : clients) c->Start();
  std::this_thread::sleep_for(std::chrono::seconds(args.seconds));
  stop = true;
  for (auto& c : clients) c->Wait();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<double> all;
  int64_t failures = 0;
  std::string first_error;
  for (const auto& c : clients) {
    all.insert(all.end(), c->latencies().begin(), c->latencies().end());
    failures += c->failures();
    if (first_error.empty()) first_error = c->first_error();
  }
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
  };
  std::printf(
      "run input: %.0f requests/s with %d concurrent clients over %.1f s (%zu answered, %lld "
      "failed); latency p50 %.2f ms, p99 %.2f ms, max %.2f ms (budget >= 10,000/s at p99 <= 10 "
      "ms)\n",
      all.size() / elapsed, args.clients, elapsed, all.size(), static_cast<long long>(failures),
      pct(0.50), pct(0.99), all.empty() ? 0 : all.back());
  if (!first_error.empty()) std::printf("first failure: %s\n", first_error.c_str());
  return failures > 0 ? 1 : 0;
}
