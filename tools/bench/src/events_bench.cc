// Job events from the scheduler to Kafka: posts task-start events to runtime-context's REST
// endpoint at a fixed rate (open loop, as Airflow callbacks arrive whatever the server's pace)
// and reads optimus.job.runs with a real Kafka consumer; prints, per event, the time from the
// POST being sent to the record being read, as p50/p99/max.
//   bench-events --http H:P --bus kafka://B --project P --namespace NS --jobs FILE
//                [--rate 1000] [--seconds 10] [--token T]
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "job_names.h"
#include "optimus/bus/open_bus.h"
#include "optimus/events/v1/runs.pb.h"

namespace {

struct Args {
  std::string http = "127.0.0.1:8080";
  std::string bus;
  std::string project, namespace_name, jobs_file, token;
  int rate = 1000;
  int seconds = 10;
};

bool Parse(int argc, char** argv, Args& a) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--http")
      a.http = value;
    else if (flag == "--bus")
      a.bus = value;
    else if (flag == "--project")
      a.project = value;
    else if (flag == "--namespace")
      a.namespace_name = value;
    else if (flag == "--jobs")
      a.jobs_file = value;
    else if (flag == "--token")
      a.token = value;
    else if (flag == "--rate")
      a.rate = std::stoi(value);
    else if (flag == "--seconds")
      a.seconds = std::stoi(value);
    else
      return false;
  }
  return !a.bus.empty() && !a.project.empty() && !a.namespace_name.empty() &&
         !a.jobs_file.empty() && a.rate > 0 && a.seconds > 0;
}

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Rfc3339(int64_t seconds) {
  std::time_t t = seconds;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!Parse(argc, argv, args)) {
    std::fprintf(stderr,
                 "usage: bench-events --http H:P --bus kafka://B --project P --namespace NS "
                 "--jobs FILE [--rate 1000] [--seconds 10] [--token T]\n");
    return 2;
  }
  const std::vector<std::string> jobs = optimus::bench::ReadJobNames(args.jobs_file);
  if (jobs.empty()) {
    std::fprintf(stderr, "bench-events: no job names in %s\n", args.jobs_file.c_str());
    return 2;
  }

  // Each event is its own run: scheduled at base + i seconds, so every record read back names
  // the event it came from. The base is new for every run of the benchmark.
  const int64_t total = static_cast<int64_t>(args.rate) * args.seconds;
  // 2030 onwards, at most ~31 years on: inside what the server accepts (before 2200).
  const int64_t base = 1893456000 + (NowNanos() / 1000000000 % 10000) * 100000;
  std::vector<std::atomic<int64_t>> sent(total), received(total);
  for (int64_t i = 0; i < total; ++i) sent[i] = 0, received[i] = 0;

  auto bus = optimus::bus::OpenBus(args.bus, "bench-events");
  if (!bus.ok()) {
    std::fprintf(stderr, "bench-events: %s\n", std::string(bus.status().message()).c_str());
    return 1;
  }
  auto consumer = (*bus)->NewConsumer("bench-events-" + std::to_string(base));
  if (!consumer.ok() || !(*consumer)->Subscribe({"optimus.job.runs"}).ok()) {
    std::fprintf(stderr, "bench-events: cannot consume optimus.job.runs\n");
    return 1;
  }
  std::atomic<bool> stop_reading{false};
  std::atomic<int64_t> read_count{0};
  std::atomic<int64_t> seen{0};  // every JobRunEvent read, ours or not
  std::thread reader([&] {
    while (!stop_reading.load()) {
      auto batch = (*consumer)->Poll(std::chrono::milliseconds(20), 1000);
      if (!batch.ok()) {
        std::fprintf(stderr, "bench-events: reading: %s\n",
                     std::string(batch.status().message()).c_str());
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      const int64_t now = NowNanos();
      for (const auto& m : *batch) {
        optimus::events::v1::JobRunEvent event;
        if (!event.ParseFromString(m.payload)) continue;
        seen.fetch_add(1);
        const int64_t i = event.scheduled_at().seconds() - base;
        if (i < 0 || i >= total || received[i].load() != 0) continue;
        received[i] = now;
        read_count.fetch_add(1);
      }
    }
  });
  const size_t colon = args.http.rfind(':');
  const std::string host = args.http.substr(0, colon);
  const int port = std::stoi(args.http.substr(colon + 1));
  const auto event_body = [](int64_t at, int64_t event_time) {
    return "{\"event\":{\"type\":\"TYPE_TASK_START\",\"value\":{\"status\":\"running\","
           "\"event_time\":" +
           std::to_string(event_time) + ",\"task_id\":\"bq2bq\",\"scheduled_at\":\"" + Rfc3339(at) +
           "\",\"attempt\":1}}}";
  };
  const auto event_path = [&](const std::string& job) {
    return "/api/v1beta1/project/" + args.project + "/namespace/" + args.namespace_name + "/job/" +
           job + "/event";
  };
  httplib::Headers auth;
  if (!args.token.empty()) auth.emplace("Authorization", "Bearer " + args.token);
  // A new consumer group gets its partitions only after Kafka's initial rebalance delay: one
  // event first, read back, so the measured events find the reader in place.
  {
    httplib::Client warmup(host, port);
    auto r = warmup.Post(event_path(jobs[0]), auth, event_body(base - 86400, base - 86400),
                         "application/json");
    if (!r || r->status != 200) {
      std::fprintf(stderr, "bench-events: the warm-up event was refused: %s\n",
                   r ? (std::to_string(r->status) + " " + r->body).c_str()
                     : httplib::to_string(r.error()).c_str());
      stop_reading = true;
      reader.join();
      return 1;
    }
    for (int i = 0; i < 600 && seen.load() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (seen.load() == 0) {
      std::fprintf(stderr, "bench-events: the warm-up event never reached the reader in 30 s\n");
      stop_reading = true;
      reader.join();
      return 1;
    }
  }
  constexpr int kSenders = 8;
  std::atomic<int64_t> failures{0};
  std::string first_error;
  std::mutex error_mu;
  const auto start = std::chrono::steady_clock::now();
  const auto interval = std::chrono::nanoseconds(1000000000LL / args.rate);
  std::vector<std::thread> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([&, s] {
      httplib::Client client(host, port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);  // headers and body go in two writes: no Nagle delay
      for (int64_t i = s; i < total; i += kSenders) {
        std::this_thread::sleep_until(start + interval * i);
        const std::string& job = jobs[static_cast<size_t>(i) % jobs.size()];
        const std::string body = event_body(base + i, base + i);
        sent[i] = NowNanos();
        auto r = client.Post(event_path(job), auth, body, "application/json");
        if (!r || r->status != 200) {
          failures.fetch_add(1);
          std::lock_guard<std::mutex> lock(error_mu);
          if (first_error.empty()) {
            first_error =
                r ? std::to_string(r->status) + " " + r->body : httplib::to_string(r.error());
          }
        }
      }
    });
  }
  for (auto& t : senders) t.join();
  const double send_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Wait for the stragglers (at most 10 s).
  const int64_t expected = total - failures.load();
  for (int i = 0; i < 500 && read_count.load() < expected; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop_reading = true;
  reader.join();
  (*consumer)->Close();

  std::vector<double> ms;
  for (int64_t i = 0; i < total; ++i) {
    if (sent[i] != 0 && received[i] != 0) ms.push_back((received[i] - sent[i]) / 1e6);
  }
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) {
    return ms.empty() ? 0.0 : ms[std::min(ms.size() - 1, static_cast<size_t>(p * ms.size()))];
  };
  std::printf(
      "events: %lld posted at %d/s over %.1f s (%lld refused), %zu read back from Kafka; POST to "
      "Kafka consumer p50 %.1f ms, p99 %.1f ms, max %.1f ms (budget p99 <= 50 ms at 1,000/s)\n",
      static_cast<long long>(total), args.rate, send_seconds,
      static_cast<long long>(failures.load()), ms.size(), pct(0.50), pct(0.99),
      ms.empty() ? 0 : ms.back());
  if (!first_error.empty()) std::printf("first refusal: %s\n", first_error.c_str());
  if (ms.empty())
    std::printf("records read from the topic: %lld\n", static_cast<long long>(seen.load()));
  return failures.load() > 0 || static_cast<int64_t>(ms.size()) < expected ? 1 : 0;
}
