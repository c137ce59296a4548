// Exactly-once effects across crashes on real Kafka, with the outbox and effects in PostgreSQL.
#include "delivery_harness.h"

namespace optimus::e2e {
namespace {

TEST(DeliveryTest, KafkaSurvivesSigkillOfRelayAndConsumer) {
  OPTIMUS_REQUIRE_INFRA("OPTIMUS_TEST_KAFKA_BROKERS");
  OPTIMUS_REQUIRE_INFRA("OPTIMUS_TEST_PG_DSN");
  // libpq accepts both key=value strings and URIs; the worker's OpenDatabase wants the URI form.
  const std::string pg = testing::InfraEnv("OPTIMUS_TEST_PG_URI");
  ASSERT_FALSE(pg.empty()) << "OPTIMUS_TEST_PG_URI is not set (tools/dev/postgres env)";
  const std::string suffix = testing::UniqueSuffix();
  RunKillAndRestart({.producer_db = pg,
                     .consumer_db = pg,
                     // A short session lets the restarted consumer take over the killed one's
                     // partitions in seconds instead of the default 45 s.
                     .bus = "kafka://" + testing::InfraEnv("OPTIMUS_TEST_KAFKA_BROKERS") +
                            "?session.timeout.ms=6000&heartbeat.interval.ms=1000",
                     .topic = "optimus.test.delivery." + suffix,
                     .group = "delivery-" + suffix,
                     .schema_prefix = "delivery_" + suffix},
                    10000);
}

}  // namespace
}  // namespace optimus::e2e
