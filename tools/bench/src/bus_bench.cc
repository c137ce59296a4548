// bench-bus: outbox → relay → bus → consumer, measured end to end on one bus.
//
// Phase 1 (throughput): N events are committed to the outbox in transactions of --batch, as
// fast as possible, while the relay publishes and the consumer applies each with its
// exactly-once effect; the figure is events/s from the first commit to the last effect.
// Phase 2 (latency): events committed one per transaction at --rate per second; each carries
// its commit time, and the consumer records commit → effect latency; p50/p99/max are printed.
//
//   bench-bus --bus embedded:/tmp/b/bus.db --db sqlite:/tmp/b/ [--events 20000] [--rate 500]
//   bench-bus --bus kafka://127.0.0.1:9092 --db postgresql://postgres@127.0.0.1/postgres
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "optimus/bus/cloudevents.h"
#include "optimus/bus/open_bus.h"
#include "optimus/store/database.h"
#include "optimus/store/exactly_once.h"
#include "optimus/store/migrations.h"
#include "optimus/store/outbox.h"

namespace {

using Clock = std::chrono::steady_clock;
using optimus::store::Database;
using optimus::store::Transaction;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

struct Options {
  std::string bus;
  std::string db;  // sqlite:<dir>/ (two files made in it) or a postgresql:// URI (two schemas).
  int64_t events = 20000;
  int64_t batch = 100;
  int64_t latency_events = 2000;
  int64_t rate = 500;
};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench-bus: %s\n", what.c_str());
  std::exit(1);
}

std::unique_ptr<Database> OpenDb(const Options& o, const std::string& name,
                                 const std::string& suffix) {
  const std::string uri = o.db.rfind("sqlite:", 0) == 0 ? absl::StrCat(o.db, name, ".db") : o.db;
  auto db = optimus::store::OpenDatabase(uri, absl::StrCat("bench_", name, "_", suffix));
  if (!db.ok()) Die(std::string(db.status().message()));
  if (auto s = optimus::store::ApplyMigrations(**db, "store", optimus::store::CoreMigrations());
      !s.ok()) {
    Die(std::string(s.message()));
  }
  if (auto s = optimus::store::ApplyMigrations(
          **db, "bench", {{1, "effects", "CREATE TABLE effects (seq BIGINT NOT NULL)"}});
      !s.ok()) {
    Die(std::string(s.message()));
  }
  return *std::move(db);
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    int64_t n = 0;
    const bool number = absl::SimpleAtoi(v, &n);
    if (k == "--bus")
      o.bus = v;
    else if (k == "--db")
      o.db = v;
    else if (k == "--events" && number)
      o.events = n;
    else if (k == "--batch" && number)
      o.batch = n;
    else if (k == "--latency-events" && number)
      o.latency_events = n;
    else if (k == "--rate" && number)
      o.rate = n;
    else
      Die("unknown or malformed flag " + k + " (see the comment at the top of bus_bench.cc)");
  }
  if (o.bus.empty() || o.db.empty()) Die("usage: bench-bus --bus URI --db URI [--events N]");

  const std::string suffix = optimus::bus::NewEventId().substr(0, 8);
  const std::string topic = "optimus.bench." + suffix;
  auto producer_db = OpenDb(o, "producer", suffix);
  auto consumer_db = OpenDb(o, "consumer", suffix);
  auto bus = optimus::bus::OpenBus(o.bus, "bench-bus");
  if (!bus.ok()) Die(std::string(bus.status().message()));
  if (auto s = (*bus)->EnsureTopic(topic, 3); !s.ok()) Die(std::string(s.message()));
  auto publisher = (*bus)->NewPublisher();
  auto consumer = (*bus)->NewConsumer("bench-" + suffix);
  if (!publisher.ok() || !consumer.ok()) Die("cannot create bus clients");
  if (auto s = (*consumer)->Subscribe({topic}); !s.ok()) Die(std::string(s.message()));

  optimus::store::OutboxRelay relay(*producer_db, **publisher);
  std::jthread relay_thread([&](std::stop_token stop) { relay.Run(stop); });

  const int64_t total = o.events + o.latency_events;
  std::atomic<int64_t> applied{0};
  std::atomic<int64_t> last_effect_ns{0};
  std::vector<double> latencies_ms;
  latencies_ms.reserve(o.latency_events);
  auto effect = [](Transaction& tx, const optimus::bus::Message&) {
    return tx.Execute("INSERT INTO effects (seq) VALUES ($1)", {int64_t{0}}).status();
  };
  std::thread consumer_thread([&] {
    while (applied.load() < total) {
      auto batch = (*consumer)->Poll(std::chrono::milliseconds(100), 500);
      if (!batch.ok()) Die(std::string(batch.status().message()));
      if (batch->empty()) continue;
      // One transaction for the batch's effects, then one commit per partition: the way a
      // service consumer should run when throughput matters.
      if (auto s = optimus::store::ApplyBatchExactlyOnce(*consumer_db, "bench", *batch, effect);
          !s.ok()) {
        Die(std::string(s.message()));
      }
      const int64_t now = NowNs();
      std::map<int32_t, const optimus::bus::Message*> last;
      for (const auto& m : *batch) {
        if (m.payload[0] == 'L') {  // Payload: "<phase>:<commit time ns>".
          int64_t sent = 0;
          if (absl::SimpleAtoi(m.payload.substr(2), &sent))
            latencies_ms.push_back((now - sent) / 1e6);
        }
        last[m.partition] = &m;
      }
      for (const auto& [partition, m] : last) {
        if (auto s = (*consumer)->Commit(*m); !s.ok()) Die(std::string(s.message()));
      }
      last_effect_ns = now;
      applied.fetch_add(static_cast<int64_t>(batch->size()));
    }
  });

  optimus::store::Outbox outbox("optimus/bench");
  auto enqueue = [&](int64_t first, int64_t count, char phase) {
    auto s = producer_db->InTransaction([&](Transaction& tx) -> absl::Status {
      std::vector<optimus::bus::OutgoingMessage> batch;
      for (int64_t i = first; i < first + count; ++i) {
        batch.push_back({topic,
                         absl::StrCat("job-", i % 64),
                         absl::StrCat(std::string(1, phase), ":", NowNs()),
                         {{optimus::bus::kCeType, "optimus.bench.Event.v1"}}});
      }
      return outbox.EnqueueAll(tx, std::move(batch));
    });
    if (!s.ok()) Die(std::string(s.message()));
  };

  const int64_t t0 = NowNs();
  for (int64_t i = 0; i < o.events; i += o.batch) enqueue(i, std::min(o.batch, o.events - i), 'T');
  while (applied.load() < o.events) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double throughput_s = (last_effect_ns.load() - t0) / 1e9;

  const auto interval = std::chrono::nanoseconds(1000000000LL / std::max<int64_t>(1, o.rate));
  auto next = Clock::now();
  for (int64_t i = 0; i < o.latency_events; ++i) {
    std::this_thread::sleep_until(next);
    next += interval;
    enqueue(o.events + i, 1, 'L');
  }
  consumer_thread.join();
  relay_thread.request_stop();

  std::printf(
      "bus %-9s outbox→consumer  throughput %8.0f events/s (%lld events, batches of %lld)"
      "   latency at %lld/s: p50 %.2f ms  p99 %.2f ms  max %.2f ms\n",
      o.bus.substr(0, o.bus.find(':')).c_str(), o.events / throughput_s,
      static_cast<long long>(o.events), static_cast<long long>(o.batch),
      static_cast<long long>(o.rate), Percentile(latencies_ms, 0.5), Percentile(latencies_ms, 0.99),
      Percentile(latencies_ms, 1.0));
  return 0;
}
