// Log chunks: numbered from 1, sent again under the same number after a failure, and stopped
// for good when the lease is gone.
#include "optimus/executor/log_shipper.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <mutex>

namespace optimus::executor {
namespace {

TEST(LogShipper, ChunksAreRetriedUnderTheirNumberAndEverythingArrivesInOrder) {
  std::mutex mu;
  std::map<int64_t, std::string> received;
  int failures_left = 2;
  {
    LogShipper shipper(
        [&](int64_t chunk, const std::string& data) {
          std::lock_guard lock(mu);
          if (failures_left > 0) {
            --failures_left;
            return absl::UnavailableError("dispatcher restarting");
          }
          received[chunk] = data;
          return absl::OkStatus();
        },
        std::chrono::milliseconds(10));
    shipper.Write("one ");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    shipper.Write("two ");
    shipper.Write("three");
    shipper.Close();
    EXPECT_FALSE(shipper.lease_lost());
  }
  std::string all;
  int64_t expected = 1;
  for (const auto& [chunk, data] : received) {
    EXPECT_EQ(chunk, expected++);
    all += data;
  }
  EXPECT_EQ(all, "one two three");
}

TEST(LogShipper, ARefusedLeaseStopsShipping) {
  int sent = 0;
  LogShipper shipper(
      [&](int64_t, const std::string&) {
        ++sent;
        return absl::FailedPreconditionError("lease no longer held");
      },
      std::chrono::milliseconds(10));
  shipper.Write("a");
  shipper.Close();
  EXPECT_TRUE(shipper.lease_lost());
  shipper.Write("b");
  shipper.Close();
  EXPECT_EQ(sent, 1);
}

}  // namespace
}  // namespace optimus::executor
