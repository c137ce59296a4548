// When the resolver stops expecting job specs of a deployment or a batch of them.
#include "optimus/dependency_resolver/arrivals.h"

#include <gtest/gtest.h>

namespace optimus::dependency_resolver {
namespace {

events::v1::DeploymentStored Stored(const std::string& id, int64_t specs,
                                    const std::string& batch = "", int32_t size = 0) {
  events::v1::DeploymentStored s;
  s.set_deployment_id(id);
  s.set_project("p");
  s.set_namespace_("ns");
  s.set_job_specs(specs);
  s.set_batch_id(batch);
  s.set_batch_size(size);
  return s;
}

class ArrivalsTest : public ::testing::Test {
 protected:
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
  Arrivals arrivals_{absl::Seconds(10)};
};

TEST_F(ArrivalsTest, NothingHeardOfNothingExpected) {
  EXPECT_FALSE(arrivals_.Expecting(now_));
  arrivals_.SpecArrived("", now_);  // a record no deployment made
  EXPECT_FALSE(arrivals_.Expecting(now_));
}

TEST_F(ArrivalsTest, ADeploymentIsExpectedUntilAllItsRecordsArrivedInAnyOrder) {
  arrivals_.SpecArrived("d1", now_);
  EXPECT_TRUE(arrivals_.Expecting(now_));  // not stored yet: more may come
  // The count overtakes two of its records (they travel on other partitions).
  arrivals_.Stored(Stored("d1", 3), now_);
  EXPECT_TRUE(arrivals_.Expecting(now_));
  arrivals_.SpecArrived("d1", now_);
  EXPECT_TRUE(arrivals_.Expecting(now_));
  arrivals_.SpecArrived("d1", now_);
  EXPECT_FALSE(arrivals_.Expecting(now_));
  EXPECT_EQ(arrivals_.open_deployments(), 0u);
  // A late or repeated record of it opens nothing.
  arrivals_.SpecArrived("d1", now_);
  EXPECT_FALSE(arrivals_.Expecting(now_));
}

TEST_F(ArrivalsTest, ADeploymentOfUnchangedJobsSendsNoRecords) {
  arrivals_.Stored(Stored("d1", 0), now_);
  EXPECT_FALSE(arrivals_.Expecting(now_));
}

TEST_F(ArrivalsTest, ABatchIsExpectedUntilEachOfItsDeploymentsIsComplete) {
  arrivals_.SpecArrived("d1", now_);
  arrivals_.Stored(Stored("d1", 1, "b", 3), now_);
  EXPECT_TRUE(arrivals_.Expecting(now_));  // d1 is complete, the batch is not
  arrivals_.Stored(Stored("d2", 0, "b", 3), now_);
  EXPECT_TRUE(arrivals_.Expecting(now_));
  arrivals_.Stored(Stored("d3", 2, "b", 3), now_);
  arrivals_.SpecArrived("d3", now_);
  EXPECT_TRUE(arrivals_.Expecting(now_));
  arrivals_.SpecArrived("d3", now_);
  EXPECT_FALSE(arrivals_.Expecting(now_));
  // Deployments of other batches are their own affair.
  arrivals_.Stored(Stored("e1", 0, "c", 2), now_);
  EXPECT_TRUE(arrivals_.Expecting(now_));
}

TEST_F(ArrivalsTest, EachDeploymentIsOpenOnlyUntilItsOwnBatchIsComplete) {
  arrivals_.SpecArrived("slow", now_);  // never stored
  arrivals_.SpecArrived("d1", now_);
  arrivals_.Stored(Stored("d1", 1, "b", 2), now_);
  arrivals_.Stored(Stored("e1", 0), now_);
  arrivals_.Update(now_);
  EXPECT_TRUE(arrivals_.Open("slow"));
  EXPECT_TRUE(arrivals_.Open("d1"));  // its batch has another deployment to come
  EXPECT_FALSE(arrivals_.Open("e1"));
  EXPECT_FALSE(arrivals_.Open("never-heard-of"));
  arrivals_.Stored(Stored("d2", 0, "b", 2), now_);
  arrivals_.Update(now_);
  EXPECT_FALSE(arrivals_.Open("d1"));
  EXPECT_FALSE(arrivals_.Open("d2"));
  EXPECT_TRUE(arrivals_.Open("slow"));
}

TEST_F(ArrivalsTest, SavedRowsRestoreTheCountsAfterARestart) {
  arrivals_.SpecArrived("d1", now_);
  arrivals_.SpecArrived("d1", now_);
  arrivals_.Stored(Stored("d1", 3, "b", 2), now_);
  arrivals_.SpecArrived("d2", now_);
  Arrivals::Changes changes = arrivals_.TakeChanges();
  ASSERT_EQ(changes.save.size(), 2u);
  EXPECT_EQ(changes.save[0].deployment_id, "d1");
  EXPECT_EQ(changes.save[0].arrived, 2);
  EXPECT_EQ(changes.save[0].expected, 3);
  EXPECT_EQ(changes.save[0].batch, "b");
  EXPECT_EQ(changes.save[0].batch_size, 2);
  EXPECT_EQ(changes.save[1].expected, -1);
  EXPECT_TRUE(changes.drop.empty());
  EXPECT_TRUE(arrivals_.TakeChanges().save.empty());  // nothing new since

  Arrivals restarted{absl::Seconds(10)};
  restarted.Restore(changes.save, now_ + absl::Minutes(1));
  restarted.Update(now_ + absl::Minutes(1));
  EXPECT_TRUE(restarted.Open("d1"));
  EXPECT_TRUE(restarted.Open("d2"));
  // The rest arrives after the restart: d1's third record and d2, the batch's other half.
  restarted.SpecArrived("d1", now_ + absl::Minutes(1));
  restarted.Stored(Stored("d2", 1, "b", 2), now_ + absl::Minutes(1));
  restarted.Update(now_ + absl::Minutes(1));
  EXPECT_FALSE(restarted.Open("d1"));
  EXPECT_FALSE(restarted.Open("d2"));
  changes = restarted.TakeChanges();
  EXPECT_TRUE(changes.save.empty());
  EXPECT_EQ(changes.drop, (std::vector<std::string>{"d1", "d2"}));
}

TEST_F(ArrivalsTest, WhatWentQuietIsNoLongerWaitedFor) {
  // A batch whose client stopped sending, and a deployment whose count never comes.
  arrivals_.Stored(Stored("d1", 0, "b", 2), now_);
  arrivals_.SpecArrived("x", now_ + absl::Seconds(5));
  EXPECT_TRUE(arrivals_.Expecting(now_ + absl::Seconds(14)));  // something arrived 9 s ago
  EXPECT_FALSE(arrivals_.Expecting(now_ + absl::Seconds(16)));
  EXPECT_EQ(arrivals_.open_deployments(), 0u);
  // The forgotten batch's deployment stays done for a while; a new one is expected again.
  arrivals_.Stored(Stored("d1", 0, "b", 2), now_ + absl::Seconds(17));
  EXPECT_FALSE(arrivals_.Expecting(now_ + absl::Seconds(17)));
  arrivals_.SpecArrived("d9", now_ + absl::Seconds(17));
  EXPECT_TRUE(arrivals_.Expecting(now_ + absl::Seconds(17)));
}

}  // namespace
}  // namespace optimus::dependency_resolver
