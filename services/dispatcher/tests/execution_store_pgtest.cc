// Claims on a real PostgreSQL from many connections at once: FOR UPDATE SKIP LOCKED hands every
// execution to exactly one claimer, and concurrent expiry passes (two dispatcher replicas)
// re-queue each expired lease once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>

#include "optimus/dispatcher/execution_store.h"
#include "store_fixture.h"

namespace optimus::dispatcher {
namespace {

std::unique_ptr<store::Database> OpenPg(const std::string& schema) {
  return OpenDispatcherDb(testing::InfraEnv("OPTIMUS_TEST_PG_URI"), schema);
}

TEST(ExecutionStorePg, EveryExecutionIsClaimedExactlyOnceUnderConcurrentClaimers) {
  OPTIMUS_REQUIRE_INFRA("OPTIMUS_TEST_PG_URI");
  const std::string schema = "dispatch_" + testing::UniqueSuffix();
  auto db = OpenPg(schema);
  ASSERT_NE(db, nullptr);
  store::Outbox outbox("optimus/dispatcher");
  ExecutionStore queue(*db, outbox, 10'000);
  constexpr int kExecutions = 400;
  for (int i = 0; i < kExecutions; ++i) {
    ASSERT_TRUE(queue.Enqueue(ShellTask("t" + std::to_string(i), "true", i % 3), 1000).ok());
  }
  // Eight claimers, each on its own database (its own connections), as replicas would be.
  std::mutex mu;
  std::multiset<std::string> claimed;
  std::vector<std::thread> claimers;
  std::atomic<int> errors{0};
  for (int c = 0; c < 8; ++c) {
    claimers.emplace_back([&, c] {
      auto own = store::OpenDatabase(testing::InfraEnv("OPTIMUS_TEST_PG_URI"), schema);
      if (!own.ok()) {
        ++errors;
        return;
      }
      ExecutionStore mine(**own, outbox, 10'000);
      for (;;) {
        auto got = mine.Claim("e" + std::to_string(c), {""}, 3, 2000);
        if (!got.ok()) {
          ++errors;
          return;
        }
        if (got->empty()) return;
        std::lock_guard lock(mu);
        for (const auto& e : *got) claimed.insert(e.id());
      }
    });
  }
  for (auto& t : claimers) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(claimed.size(), static_cast<size_t>(kExecutions));
  EXPECT_EQ(std::set<std::string>(claimed.begin(), claimed.end()).size(),
            static_cast<size_t>(kExecutions));

  // Two replicas expire the same leases at once: each is re-queued once.
  std::atomic<int> requeued{0};
  std::vector<std::thread> reapers;
  for (int r = 0; r < 2; ++r) {
    reapers.emplace_back([&] {
      auto own = store::OpenDatabase(testing::InfraEnv("OPTIMUS_TEST_PG_URI"), schema);
      ASSERT_TRUE(own.ok());
      ExecutionStore mine(**own, outbox, 10'000);
      for (int pass = 0; pass < 3; ++pass) {
        auto result = mine.ExpireLeases(100'000);
        ASSERT_TRUE(result.ok()) << result.status();
        requeued += result->requeued;
      }
    });
  }
  for (auto& t : reapers) t.join();
  EXPECT_EQ(requeued.load(), kExecutions);
  auto counts = queue.CountOpen();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->at("queued"), kExecutions);
  (void)db->Execute("DROP SCHEMA " + schema + " CASCADE");
}

}  // namespace
}  // namespace optimus::dispatcher
