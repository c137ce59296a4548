// The bus contract on the embedded log, plus what only the embedded log promises: durability
// across reopen and sharing one file between processes.
#include "optimus/bus/embedded_bus.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>

#include "absl/time/clock.h"
#include "bus_contract.h"
#include "optimus/testing/testing.h"

namespace optimus::bus {
namespace {

using contract::BusContractTest;
using contract::BusFactory;
using contract::PollAtLeast;

testing::TempDir& Dir() {
  static auto* dir = new testing::TempDir();
  return *dir;
}

std::unique_ptr<Bus> MakeEmbeddedBus() {
  static std::atomic<int> counter{0};
  // synchronous_full off: the contract is about semantics; durability is tested below.
  auto bus = OpenEmbeddedBus(
      {.path = Dir().File("bus" + std::to_string(++counter) + ".db"), .synchronous_full = false});
  if (!bus.ok()) {
    ADD_FAILURE() << bus.status();
    return nullptr;
  }
  return *std::move(bus);
}

INSTANTIATE_TEST_SUITE_P(Embedded, BusContractTest,
                         ::testing::Values(BusFactory{"embedded", MakeEmbeddedBus, ""}),
                         contract::BusFactoryName);

TEST(EmbeddedBusTest, RecordsAndCommittedPositionsSurviveReopen) {
  testing::TempDir dir;
  const std::string path = dir.File("bus.db");
  {
    auto bus = OpenEmbeddedBus({.path = path});
    ASSERT_TRUE(bus.ok());
    auto publisher = (*bus)->NewPublisher();
    ASSERT_TRUE(publisher.ok());
    std::vector<OutgoingMessage> batch;
    for (int i = 0; i < 10; ++i) batch.push_back({"t", "k", std::to_string(i), {{"h", "v"}}});
    ASSERT_TRUE((*publisher)->PublishBatch(batch).ok());
    auto consumer = (*bus)->NewConsumer("g");
    ASSERT_TRUE(consumer.ok());
    ASSERT_TRUE((*consumer)->Subscribe({"t"}).ok());
    auto got = PollAtLeast(**consumer, 10, std::chrono::seconds(5));
    ASSERT_EQ(got.size(), 10u);
    ASSERT_TRUE((*consumer)->Commit(got[3]).ok());  // 0..3 done.
  }
  auto bus = OpenEmbeddedBus({.path = path});
  ASSERT_TRUE(bus.ok());
  auto consumer = (*bus)->NewConsumer("g");
  ASSERT_TRUE((*consumer)->Subscribe({"t"}).ok());
  auto rest = PollAtLeast(**consumer, 6, std::chrono::seconds(5));
  ASSERT_EQ(rest.size(), 6u);
  EXPECT_EQ(rest.front().payload, "4");
  EXPECT_EQ(rest.back().payload, "9");
  EXPECT_EQ(rest.front().HeaderValue("h"), "v");
}

TEST(EmbeddedBusTest, AnotherProcessSeesRecordsWithoutNotification) {
  testing::TempDir dir;
  const std::string path = dir.File("bus.db");
  {
    auto bus = OpenEmbeddedBus({.path = path});  // Creates the schema before the fork.
    ASSERT_TRUE(bus.ok());
    ASSERT_TRUE((*bus)->EnsureTopic("t", 2).ok());
  }
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    usleep(200 * 1000);
    auto bus = OpenEmbeddedBus({.path = path});
    if (!bus.ok()) _exit(1);
    auto publisher = (*bus)->NewPublisher();
    if (!publisher.ok() || !(*publisher)->Publish({"t", "k", "from the child", {}}).ok()) _exit(2);
    _exit(0);
  }
  auto bus = OpenEmbeddedBus({.path = path, .poll_interval_ms = 20});
  ASSERT_TRUE(bus.ok());
  auto consumer = (*bus)->NewConsumer("g");
  ASSERT_TRUE((*consumer)->Subscribe({"t"}).ok());
  auto got = PollAtLeast(**consumer, 1, std::chrono::seconds(10));
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "from the child");
}

TEST(EmbeddedBusTest, TopicKeepsItsFirstPartitionCount) {
  testing::TempDir dir;
  auto bus = OpenEmbeddedBus({.path = dir.File("bus.db"), .default_partitions = 4});
  ASSERT_TRUE(bus.ok());
  ASSERT_TRUE((*bus)->EnsureTopic("t", 2).ok());
  ASSERT_TRUE((*bus)->EnsureTopic("t", 8).ok());
  auto publisher = (*bus)->NewPublisher();
  std::vector<OutgoingMessage> batch;
  for (int i = 0; i < 50; ++i) batch.push_back({"t", "key-" + std::to_string(i), "x", {}});
  ASSERT_TRUE((*publisher)->PublishBatch(batch).ok());
  auto consumer = (*bus)->NewConsumer("g");
  ASSERT_TRUE((*consumer)->Subscribe({"t"}).ok());
  auto got = PollAtLeast(**consumer, 50, std::chrono::seconds(5));
  ASSERT_EQ(got.size(), 50u);
  for (const auto& m : got) EXPECT_LT(m.partition, 2);
}

TEST(EmbeddedBusTest, APollFillsUpFromTheBusyPartition) {
  testing::TempDir dir;
  auto bus = OpenEmbeddedBus({.path = dir.File("bus.db"), .default_partitions = 4});
  ASSERT_TRUE(bus.ok());
  auto publisher = (*bus)->NewPublisher();
  std::vector<OutgoingMessage> batch;
  // One key: every record in one partition of four, and a second topic with nothing.
  for (int i = 0; i < 300; ++i) batch.push_back({"busy", "same-key", std::to_string(i), {}});
  ASSERT_TRUE((*publisher)->PublishBatch(batch).ok());
  ASSERT_TRUE((*bus)->EnsureTopic("quiet", 4).ok());
  auto consumer = (*bus)->NewConsumer("g");
  ASSERT_TRUE((*consumer)->Subscribe({"busy", "quiet"}).ok());
  auto got = (*consumer)->Poll(std::chrono::milliseconds(100), 250);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 250u);  // not 250 / 8 partitions
  for (size_t i = 0; i < got->size(); ++i) EXPECT_EQ((*got)[i].payload, std::to_string(i));
  auto rest = (*consumer)->Poll(std::chrono::milliseconds(100), 250);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->size(), 50u);
}

// Everything the log holds for `topic`, in partition then offset order, read by a fresh group.
std::vector<Message> ReadAll(Bus& bus, const std::string& topic, size_t at_least) {
  auto consumer = bus.NewConsumer("reader-" + testing::UniqueSuffix());
  EXPECT_TRUE((*consumer)->Subscribe({topic}).ok());
  return PollAtLeast(**consumer, at_least, std::chrono::seconds(2));
}

TEST(EmbeddedBusTest, MaintenanceCompactsToTheNewestRecordPerKey) {
  testing::TempDir dir;
  auto bus = OpenEmbeddedBus({.path = dir.File("bus.db"), .maintenance_interval_ms = 0});
  ASSERT_TRUE(bus.ok());
  TopicConfig config;
  config.partitions = 1;
  config.compacted = true;
  ASSERT_TRUE((*bus)->EnsureTopic("specs", config).ok());
  auto publisher = (*bus)->NewPublisher();
  OutgoingMessage gone{"specs", "c", "", {}};
  gone.tombstone = true;
  ASSERT_TRUE((*publisher)
                  ->PublishBatch({{"specs", "a", "a1", {}},
                                  {"specs", "b", "b1", {}},
                                  {"specs", "a", "a2", {}},
                                  {"specs", "c", "c1", {}},
                                  gone})
                  .ok());
  auto deleted = (*bus)->RunMaintenance(absl::ToUnixMillis(absl::Now()));
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 2);  // a1 and c1; the fresh tombstone stays a day.
  auto left = ReadAll(**bus, "specs", 3);
  ASSERT_EQ(left.size(), 3u);
  EXPECT_EQ(left[0].payload, "b1");
  EXPECT_EQ(left[1].payload, "a2");
  EXPECT_TRUE(left[2].tombstone);
  // A day later the tombstone goes too.
  auto later = (*bus)->RunMaintenance(absl::ToUnixMillis(absl::Now()) + 25 * 3600 * 1000LL);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(*later, 1);
}

TEST(EmbeddedBusTest, RetentionNeverDeletesWhatAGroupHasNotCommitted) {
  testing::TempDir dir;
  auto bus = OpenEmbeddedBus({.path = dir.File("bus.db"), .maintenance_interval_ms = 0});
  ASSERT_TRUE(bus.ok());
  TopicConfig config;
  config.partitions = 1;
  config.retention_ms = 1000;
  ASSERT_TRUE((*bus)->EnsureTopic("events", config).ok());
  auto slow = (*bus)->NewConsumer("slow");
  ASSERT_TRUE((*slow)->Subscribe({"events"}).ok());  // Joins before anything is written.
  auto publisher = (*bus)->NewPublisher();
  ASSERT_TRUE(
      (*publisher)
          ->PublishBatch(
              {{"events", "k", "0", {}}, {"events", "k", "1", {}}, {"events", "k", "2", {}}})
          .ok());
  const int64_t much_later = absl::ToUnixMillis(absl::Now()) + 3600 * 1000;
  EXPECT_EQ((*bus)->RunMaintenance(much_later).value_or(-1), 0) << "nothing is committed yet";
  auto got = PollAtLeast(**slow, 3, std::chrono::seconds(2));
  ASSERT_EQ(got.size(), 3u);
  ASSERT_TRUE((*slow)->Commit(got[1]).ok());  // 0 and 1 done.
  EXPECT_EQ((*bus)->RunMaintenance(much_later).value_or(-1), 2);
  EXPECT_EQ((*bus)->RunMaintenance(much_later).value_or(-1), 0);
  // Within retention nothing goes, committed or not.
  ASSERT_TRUE((*slow)->Commit(got[2]).ok());
  EXPECT_EQ((*bus)->RunMaintenance(absl::ToUnixMillis(absl::Now())).value_or(-1), 0);
}

TEST(EmbeddedBusTest, BadOptionsAndPollBeforeSubscribe) {
  testing::TempDir dir;
  EXPECT_FALSE(OpenEmbeddedBus({.path = dir.File("x.db"), .default_partitions = 0}).ok());
  auto bus = OpenEmbeddedBus({.path = dir.File("bus.db")});
  ASSERT_TRUE(bus.ok());
  EXPECT_FALSE((*bus)->NewConsumer("").ok());
  auto consumer = (*bus)->NewConsumer("g");
  EXPECT_EQ((*consumer)->Poll(std::chrono::milliseconds(1), 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace optimus::bus
