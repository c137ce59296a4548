// Event and deployment ids: RFC 4122 version 4 UUIDs, never repeated.
#include "optimus/bus/cloudevents.h"

#include <regex>
#include <set>
#include <thread>

#include "optimus/testing/testing.h"

namespace optimus::bus {
namespace {

TEST(CloudEventsTest, EventIdsAreVersion4Uuids) {
  const std::regex uuid("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewEventId();
    EXPECT_TRUE(std::regex_match(id, uuid)) << id;
  }
}

TEST(CloudEventsTest, EventIdsDoNotRepeatAcrossThreads) {
  std::vector<std::vector<std::string>> ids(4);
  std::vector<std::thread> threads;
  for (auto& mine : ids) {
    threads.emplace_back([&mine] {
      for (int i = 0; i < 5000; ++i) mine.push_back(NewEventId());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& mine : ids) all.insert(mine.begin(), mine.end());
  EXPECT_EQ(all.size(), 20000u);
}

TEST(CloudEventsTest, StampingKeepsHeadersAlreadyThere) {
  OutgoingMessage m;
  m.headers.emplace_back(kCeId, "given");
  StampCloudEvent(m, "optimus/test");
  int ids = 0;
  for (const auto& [k, v] : m.headers) {
    if (k == kCeId) {
      ++ids;
      EXPECT_EQ(v, "given");
    }
  }
  EXPECT_EQ(ids, 1);
}

}  // namespace
}  // namespace optimus::bus
