// One process of the delivery test: fills an outbox, relays it to a bus, or consumes it with
// an exactly-once effect. The test runs these as separate processes and SIGKILLs them.
//
//   delivery_worker produce --db URI --topic T --count N
//   delivery_worker relay   --db URI --bus URI
//   delivery_worker consume --db URI --bus URI --topic T --group G --expect N
#include <cstdio>
#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "optimus/bus/cloudevents.h"
#include "optimus/bus/open_bus.h"
#include "optimus/store/database.h"
#include "optimus/store/exactly_once.h"
#include "optimus/store/migrations.h"
#include "optimus/store/outbox.h"

namespace {

using optimus::store::Database;
using optimus::store::Transaction;

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "delivery_worker: %s\n", std::string(status.message()).c_str());
  return 1;
}

std::map<std::string, std::string> Flags(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  for (int i = 2; i + 1 < argc; i += 2) flags[std::string(argv[i]).substr(2)] = argv[i + 1];
  return flags;
}

const std::vector<optimus::store::Migration>& EffectMigrations() {
  static const auto* m = new std::vector<optimus::store::Migration>{
      {1, "effects", "CREATE TABLE effects (event_id TEXT NOT NULL, seq BIGINT NOT NULL)"}};
  return *m;
}

int Produce(Database& db, const std::string& topic, int64_t count) {
  optimus::store::Outbox outbox("optimus/delivery-test");
  for (int64_t first = 0; first < count; first += 100) {
    absl::Status s = db.InTransaction([&](Transaction& tx) -> absl::Status {
      for (int64_t i = first; i < std::min(count, first + 100); ++i) {
        optimus::bus::OutgoingMessage m{topic,
                                        absl::StrCat("job-", i % 50),
                                        std::to_string(i),
                                        {{optimus::bus::kCeType, "optimus.test.Delivery.v1"}}};
        if (absl::Status e = outbox.Enqueue(tx, std::move(m)); !e.ok()) return e;
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return Fail(s);
  }
  return 0;
}

int Relay(Database& db, optimus::bus::Bus& bus) {
  auto publisher = bus.NewPublisher();
  if (!publisher.ok()) return Fail(publisher.status());
  optimus::store::OutboxRelay relay(db, **publisher, {.batch_size = 200});
  std::stop_source never;
  relay.Run(never.get_token());  // Runs until killed, like a service's relay.
  return 0;
}

int Consume(Database& db, optimus::bus::Bus& bus, const std::string& topic,
            const std::string& group, int64_t expect) {
  auto consumer = bus.NewConsumer(group);
  if (!consumer.ok()) return Fail(consumer.status());
  if (absl::Status s = (*consumer)->Subscribe({topic}); !s.ok()) return Fail(s);
  auto handler = optimus::store::ExactlyOnce(
      db, group, [](Transaction& tx, const optimus::bus::Message& m) -> absl::Status {
        int64_t seq = 0;
        if (!absl::SimpleAtoi(m.payload, &seq)) {
          return absl::InvalidArgumentError("payload is not a number");
        }
        return tx
            .Execute("INSERT INTO effects (event_id, seq) VALUES ($1, $2)",
                     {optimus::bus::MessageId(m), seq})
            .status();
      });
  for (;;) {
    auto batch = (*consumer)->Poll(std::chrono::milliseconds(200), 100);
    if (!batch.ok()) return Fail(batch.status());
    for (const auto& m : *batch) {
      if (absl::Status s = handler(m); !s.ok()) return Fail(s);
      if (absl::Status s = (*consumer)->Commit(m); !s.ok()) return Fail(s);
    }
    auto done = db.Execute("SELECT COUNT(*) FROM effects");
    if (!done.ok()) return Fail(done.status());
    if (done->rows[0].Int(0) >= expect) break;
  }
  (*consumer)->Close();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: delivery_worker produce|relay|consume --db URI ...\n");
    return 2;
  }
  const std::string mode = argv[1];
  auto flags = Flags(argc, argv);
  auto db = optimus::store::OpenDatabase(flags["db"],
                                         flags["schema"].empty() ? "delivery" : flags["schema"]);
  if (!db.ok()) return Fail(db.status());
  if (absl::Status s =
          optimus::store::ApplyMigrations(**db, "store", optimus::store::CoreMigrations());
      !s.ok()) {
    return Fail(s);
  }
  if (absl::Status s = optimus::store::ApplyMigrations(**db, "delivery", EffectMigrations());
      !s.ok()) {
    return Fail(s);
  }
  int64_t count = 0;
  if (mode == "produce") {
    if (!absl::SimpleAtoi(flags["count"], &count))
      return Fail(absl::InvalidArgumentError("--count"));
    return Produce(**db, flags["topic"], count);
  }
  auto bus = optimus::bus::OpenBus(flags["bus"], "delivery-test");
  if (!bus.ok()) return Fail(bus.status());
  // Services create their topics at start; so do the workers, before producing or subscribing.
  if (absl::Status s = (*bus)->EnsureTopic(flags["topic"], 3); !s.ok()) return Fail(s);
  if (mode == "relay") return Relay(**db, **bus);
  if (mode == "consume") {
    if (!absl::SimpleAtoi(flags["expect"], &count))
      return Fail(absl::InvalidArgumentError("--expect"));
    return Consume(**db, **bus, flags["topic"], flags["group"], count);
  }
  return Fail(absl::InvalidArgumentError("unknown mode " + mode));
}
