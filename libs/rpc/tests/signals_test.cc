// Tests of ShutdownSignal: a real SIGTERM ends Wait(), Trigger() does too, a second signal exits.
#include "optimus/rpc/signals.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace optimus::rpc {
namespace {

using namespace std::chrono_literals;

TEST(ShutdownSignalTest, SigtermEndsWait) {
  ShutdownSignal shutdown;
  EXPECT_FALSE(shutdown.WaitFor(50ms).has_value());
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);
  std::optional<int> signal_number = shutdown.WaitFor(5s);
  ASSERT_TRUE(signal_number.has_value());
  EXPECT_EQ(*signal_number, SIGTERM);
  EXPECT_TRUE(shutdown.triggered());
  EXPECT_EQ(shutdown.Wait(), SIGTERM) << "Wait keeps returning once fired";
}

TEST(ShutdownSignalTest, SigintEndsWaitFromAnotherThread) {
  ShutdownSignal shutdown;
  std::thread sender([] {
    std::this_thread::sleep_for(50ms);
    kill(getpid(), SIGINT);
  });
  EXPECT_EQ(shutdown.Wait(), SIGINT);
  sender.join();
}

TEST(ShutdownSignalTest, TriggerEndsWaitWithoutASignal) {
  ShutdownSignal shutdown;
  std::thread trigger([&] {
    std::this_thread::sleep_for(50ms);
    shutdown.Trigger();
  });
  EXPECT_EQ(shutdown.Wait(), 0);
  trigger.join();
}

TEST(ShutdownSignalDeathTest, SecondSignalExitsAtOnce) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ShutdownSignal shutdown;
        kill(getpid(), SIGTERM);
        shutdown.Wait();
        kill(getpid(), SIGTERM);
        std::this_thread::sleep_for(5s);  // the waiter thread exits the process before this ends
        std::exit(0);
      },
      ::testing::ExitedWithCode(128 + SIGTERM), "second shutdown signal");
}

}  // namespace
}  // namespace optimus::rpc
