// What a deployment hears when a stage sets one of its jobs aside (DeadLetterProgress).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "optimus/pipeline/pipeline.h"

namespace optimus::pipeline {
namespace {

using ::testing::HasSubstr;

bus::Message Record(const std::string& topic, const google::protobuf::Message& payload) {
  bus::Message m;
  m.topic = topic;
  m.key = "p/j";
  m.payload = payload.SerializeAsString();
  return m;
}

TEST(DeadLetterProgress, AJobSetAsideFailsInItsDeploymentWithTheReason) {
  events::v1::JobResolution r;
  r.set_project("p");
  r.set_namespace_("ns");
  r.set_name("j");
  r.set_deployment_id("d1");
  auto out =
      DeadLetterProgress(Record(kResolutionsTopic, r),
                         absl::InvalidArgumentError("no DAG path for it"), "optimus/compiler");
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->topic, kProgressTopic);
  EXPECT_EQ(out->key, "d1");
  events::v1::DeploymentProgress p;
  ASSERT_TRUE(p.ParseFromString(out->payload));
  EXPECT_EQ(p.job_name(), "j");
  EXPECT_EQ(p.namespace_(), "ns");
  EXPECT_EQ(p.stage(), events::v1::STAGE_FAILED);
  EXPECT_THAT(p.error(),
              HasSubstr("set aside by optimus/compiler on " + std::string(kResolutionsTopic)));
  EXPECT_THAT(p.error(), HasSubstr("no DAG path for it"));

  events::v1::JobSpecRecord s;
  s.set_project("p");
  s.set_name("j");
  s.set_deployment_id("d2");
  auto spec = DeadLetterProgress(Record(kJobSpecsTopic, s), absl::InternalError("x"), "r");
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(spec->key, "d2");
}

TEST(DeadLetterProgress, RecordsOfNoDeploymentOrOtherTopicsTellNobody) {
  events::v1::JobResolution r;
  r.set_project("p");
  r.set_name("j");
  EXPECT_FALSE(DeadLetterProgress(Record(kResolutionsTopic, r), absl::InternalError("x"), "c"));
  r.set_deployment_id("d");
  EXPECT_FALSE(DeadLetterProgress(Record(kPluginsTopic, r), absl::InternalError("x"), "c"));
  bus::Message garbage;
  garbage.topic = kResolutionsTopic;
  garbage.payload = "\xff\xff not a record";
  EXPECT_FALSE(DeadLetterProgress(garbage, absl::InternalError("x"), "c"));
}

}  // namespace
}  // namespace optimus::pipeline
