// The behaviour every Bus adapter must show, as a parameterized GoogleTest suite.
//
// How an adapter runs it: the TEST_Ps are defined in bus_contract.cc. Compile that file into the
// adapter's test binary (list it in the test's SRCS; do not put it in a library, whose unreferenced
// object files the linker would drop together with their test registrations), and instantiate the
// suite once in the binary's own .cc:
//
//   using optimus::bus::contract::BusContractTest;
//   using optimus::bus::contract::BusFactory;
//   INSTANTIATE_TEST_SUITE_P(Kafka, BusContractTest,
//                            ::testing::Values(BusFactory{"kafka", MakeKafkaBus,
//                                                         "OPTIMUS_TEST_KAFKA_BROKERS"}),
//                            optimus::bus::contract::BusFactoryName);
//
// Each test makes its own bus, topics and groups with unique names, so tests never see each
// other's records, also when they share one server.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "optimus/bus/bus.h"

namespace optimus::bus::contract {

struct BusFactory {
  // Suffix of the test names: letters, digits and '_' only.
  std::string name;
  // A fresh bus; on failure, report it (ADD_FAILURE) and return nullptr.
  std::function<std::unique_ptr<Bus>()> make;
  // Environment variable naming the server the bus needs (e.g. "OPTIMUS_TEST_KAFKA_BROKERS"),
  // or "" when it needs none: each test then starts with OPTIMUS_REQUIRE_INFRA on it.
  std::string infra_env;
};

std::string BusFactoryName(const ::testing::TestParamInfo<BusFactory>& info);
// Prints the factory's name in failure messages (instead of its bytes).
void PrintTo(const BusFactory& factory, std::ostream* os);

class BusContractTest : public ::testing::TestWithParam<BusFactory> {
 protected:
  void SetUp() override;

  // Unique names: "contract.<what>.<random>" and "contract-<what>-<random>".
  static std::string NewTopic(std::string_view what);
  static std::string NewGroup(std::string_view what);

  // Fail the test (returning nullptr) when the bus cannot make the client.
  std::unique_ptr<Publisher> MakePublisher();
  std::unique_ptr<Consumer> MakeSubscribedConsumer(const std::string& group,
                                                   const std::vector<std::string>& topics);

  std::unique_ptr<Bus> bus_;
};

// Polls until at least `count` records arrived or `timeout` passed; returns all that arrived.
std::vector<Message> PollAtLeast(Consumer& consumer, size_t count,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(30));

// How long a test waits for records that should come; generous, only a broken bus reaches it.
inline constexpr std::chrono::seconds kArrivalTimeout{30};

}  // namespace optimus::bus::contract
