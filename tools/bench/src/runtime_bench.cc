// Run input under concurrent load: N client threads ask runtime-context (gRPC JobRunService)
// for the run input of random jobs at random scheduled times, as task pods do at a schedule
// boundary; prints requests per second and latency percentiles.
//   bench-runtime --host H --project P --jobs FILE [--threads 16] [--seconds 10]
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
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
  int threads = 16;
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
    } else if (flag == "--threads") {
      a.threads = std::stoi(value);
    } else if (flag == "--seconds") {
      a.seconds = std::stoi(value);
    } else {
      return false;
    }
  }
  return !a.project.empty() && !a.jobs_file.empty() && a.threads > 0 && a.seconds > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!Parse(argc, argv, args)) {
    std::fprintf(stderr,
                 "usage: bench-runtime --host H --project P --jobs FILE (one job name per line) "
                 "[--threads N] [--seconds S]\n");
    return 2;
  }
  const std::vector<std::string> jobs = optimus::bench::ReadJobNames(args.jobs_file);
  if (jobs.empty()) {
    std::fprintf(stderr, "bench-runtime: no job names in %s\n", args.jobs_file.c_str());
    return 2;
  }
  std::atomic<bool> stop{false};
  std::atomic<int64_t> failures{0};
  std::vector<std::vector<double>> latencies(args.threads);  // ms, per thread
  std::string first_error;
  std::mutex error_mu;
  std::vector<std::thread> threads;
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < args.threads; ++t) {
    threads.emplace_back([&, t] {
      grpc::ChannelArguments channel_args;
      channel_args.SetInt("grpc.use_local_subchannel_pool", 1);  // a connection per thread
      auto stub = optimus::core::v1::JobRunService::NewStub(
          grpc::CreateCustomChannel(args.host, grpc::InsecureChannelCredentials(), channel_args));
      std::mt19937_64 rng(static_cast<uint64_t>(t) * 7919 + 1);
      std::uniform_int_distribution<size_t> pick(0, jobs.size() - 1);
      std::uniform_int_distribution<int64_t> day(0, 365);
      while (!stop.load(std::memory_order_relaxed)) {
        optimus::core::v1::JobRunInputRequest request;
        request.set_project_name(args.project);
        request.set_job_name(jobs[pick(rng)]);
        *request.mutable_scheduled_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(
            1704074400 + day(rng) * 86400);  // 02:00 UTC on a day of 2024
        request.set_instance_type(optimus::core::v1::JobRunInputRequest::TYPE_TASK);
        optimus::core::v1::JobRunInputResponse response;
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        const auto sent = std::chrono::steady_clock::now();
        grpc::Status s = stub->JobRunInput(&context, request, &response);
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent)
                .count();
        if (!s.ok()) {
          failures.fetch_add(1);
          std::lock_guard<std::mutex> lock(error_mu);
          if (first_error.empty()) first_error = s.error_message();
          continue;
        }
        latencies[t].push_back(ms);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(args.seconds));
  stop = true;
  for (auto& th : threads) th.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
  };
  std::printf(
      "run input: %.0f requests/s with %d concurrent clients over %.1f s (%zu answered, %lld "
      "failed); latency p50 %.2f ms, p99 %.2f ms, max %.2f ms (budget >= 10,000/s at p99 <= 10 "
      "ms)\n",
      all.size() / elapsed, args.threads, elapsed, all.size(),
      static_cast<long long>(failures.load()), pct(0.50), pct(0.99), all.empty() ? 0 : all.back());
  if (!first_error.empty()) std::printf("first failure: %s\n", first_error.c_str());
  return failures.load() > 0 ? 1 : 0;
}
