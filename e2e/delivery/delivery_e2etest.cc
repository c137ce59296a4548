// Exactly-once effects across crashes on the embedded bus (SQLite files, no server).
#include "delivery_harness.h"

namespace optimus::e2e {
namespace {

TEST(DeliveryTest, EmbeddedBusSurvivesSigkillOfRelayAndConsumer) {
  testing::TempDir dir;
  RunKillAndRestart({.producer_db = "sqlite:" + dir.File("producer.db"),
                     .consumer_db = "sqlite:" + dir.File("consumer.db"),
                     .bus = "embedded:" + dir.File("bus.db"),
                     .topic = "optimus.test.delivery",
                     .group = "delivery-consumer",
                     .schema_prefix = "unused"},
                    10000);
}

}  // namespace
}  // namespace optimus::e2e
