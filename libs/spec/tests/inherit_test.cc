// Tests of this.yaml inheritance: nearest first, explicit false, missing blocks, merge rules.
#include "optimus/spec/inherit.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "optimus/spec/loaders.h"
#include "optimus/spec/validate.h"
#include "test_util.h"

namespace optimus::spec {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

JobSpec Load(const std::string& path, const std::string& content) {
  Diagnostics d;
  auto job = LoadJobSpec(path, content, d);
  EXPECT_TRUE(job.has_value() && d.empty()) << d.ToString();
  return job.value_or(JobSpec{});
}

TEST(InheritTest, ExplicitFalseInChildStaysFalse) {
  JobSpec child = Load("a/b/job.yaml",
                       "behavior:\n  depends_on_past: false\n  catch_up: false\n"
                       "  retry: {exponential_backoff: false}\n");
  JobSpec parent = Load("a/this.yaml",
                        "behavior:\n  depends_on_past: true\n  catch_up: true\n"
                        "  retry: {exponential_backoff: true, count: 4}\n");
  InheritFrom(child, parent);
  EXPECT_EQ(child.behavior.depends_on_past, std::optional<bool>(false));
  EXPECT_EQ(child.behavior.catch_up, std::optional<bool>(false));
  EXPECT_EQ(child.behavior.retry.exponential_backoff, std::optional<bool>(false));
  EXPECT_EQ(child.behavior.retry.count, std::optional<int>(4));
}

TEST(InheritTest, UnsetBoolTakesTheParentValue) {
  JobSpec child = Load("a/b/job.yaml", "name: x\n");
  JobSpec parent = Load("a/this.yaml", "behavior: {catch_up: true}\n");
  InheritFrom(child, parent);
  EXPECT_EQ(child.behavior.catch_up, std::optional<bool>(true));
  EXPECT_FALSE(child.behavior.depends_on_past.has_value());
}

TEST(InheritTest, ParentBlocksMissingInChildAreCopied) {
  // In Optimus this panics (nil metadata/resource/airflow in the child).
  JobSpec child = Load("a/b/job.yaml", "name: x\n");
  JobSpec parent = Load("a/this.yaml",
                        "metadata:\n  resource: {request: {cpu: 100m}, limit: {memory: 1Gi}}\n"
                        "  airflow: {pool: p, queue: q}\n  kubernetes: {service_account: sa}\n");
  InheritFrom(child, parent);
  EXPECT_EQ(child.metadata.request.cpu, "100m");
  EXPECT_EQ(child.metadata.limit.memory, "1Gi");
  EXPECT_EQ(child.metadata.airflow_pool, "p");
  EXPECT_EQ(child.metadata.airflow_queue, "q");
  EXPECT_EQ(child.metadata.kubernetes_service_account, "");  // not inherited, as in Optimus
}

TEST(InheritTest, NearestParentWins) {
  JobSpec child = Load("a/b/c/job.yaml", "name: x\n");
  JobSpec near = Load("a/b/this.yaml", "owner: near\nschedule: {interval: '@hourly'}\n");
  JobSpec far =
      Load("a/this.yaml",
           "version: 3\nowner: far\nschedule: {interval: '@daily', start_date: '2024-01-01'}\n");
  InheritFrom(child, near);
  InheritFrom(child, far);
  EXPECT_EQ(child.owner, "near");
  EXPECT_EQ(child.schedule.interval, "@hourly");
  EXPECT_EQ(child.schedule.start_date, "2024-01-01");
  EXPECT_EQ(child.version, 3);
  EXPECT_EQ(child.task.window.version, 3);
  EXPECT_THAT(child.parents, ElementsAre("a/b/this.yaml", "a/this.yaml"));
  // An inherited value's location points into the this.yaml that set it.
  EXPECT_EQ(child.LocationOf("owner").file, "a/b/this.yaml");
  EXPECT_EQ(child.LocationOf("schedule.start_date").file, "a/this.yaml");
  EXPECT_EQ(child.LocationOf("schedule.start_date").line, 3);
}

TEST(InheritTest, MapsListsAndHooksMerge) {
  JobSpec child = Load("a/b/job.yaml",
                       "task:\n  config: {A: child}\n  window: {size: 2d}\n"
                       "labels: {team: mine}\n"
                       "behavior:\n  notify:\n  - on: failure\n    channels: ['slack://#mine']\n"
                       "hooks:\n- name: predator\n  config: {X: child}\n"
                       "dependencies:\n- job: up1\n");
  JobSpec parent =
      Load("a/this.yaml",
           "task:\n  name: bq2bq\n  config: {A: parent, B: parent}\n"
           "  window: {size: 1d, truncate_to: d, shift_by: 1d, location: UTC, preset: p}\n"
           "labels: {team: theirs, tier: gold}\n"
           "behavior:\n  notify:\n  - on: failure\n    config: {k: v}\n"
           "    channels: ['slack://#mine', 'slack://#theirs']\n"
           "  - on: job_success\n    channels: ['slack://#ok']\n"
           "  webhook:\n  - on: failure\n    endpoints: [{url: 'https://x'}]\n"
           "hooks:\n- name: predator\n  config: {X: parent, Y: parent}\n- name: other\n"
           "dependencies:\n- job: up1\n- job: up2\n- http: {name: h, url: 'https://h'}\n");
  InheritFrom(child, parent);
  EXPECT_EQ(child.task.name, "bq2bq");
  EXPECT_THAT(child.task.config, ElementsAre(Pair("A", "child"), Pair("B", "parent")));
  EXPECT_EQ(child.task.window.size, "2d");
  EXPECT_EQ(child.task.window.truncate_to, "d");
  // shift_by, location and preset are not inherited (Optimus behaviour).
  EXPECT_EQ(child.task.window.shift_by, "");
  EXPECT_EQ(child.task.window.location, "");
  EXPECT_EQ(child.task.window.preset, "");
  EXPECT_THAT(child.labels, ElementsAre(Pair("team", "mine"), Pair("tier", "gold")));
  ASSERT_EQ(child.behavior.notify.size(), 2u);
  EXPECT_THAT(child.behavior.notify[0].channels, ElementsAre("slack://#mine", "slack://#theirs"));
  EXPECT_THAT(child.behavior.notify[0].config, ElementsAre(Pair("k", "v")));
  EXPECT_EQ(child.behavior.notify[1].on, "job_success");
  EXPECT_TRUE(child.behavior.webhook.empty());  // webhooks are not inherited
  ASSERT_EQ(child.hooks.size(), 2u);
  EXPECT_THAT(child.hooks[0].config, ElementsAre(Pair("X", "child"), Pair("Y", "parent")));
  EXPECT_EQ(child.hooks[1].name, "other");
  ASSERT_EQ(child.dependencies.size(), 3u);
  EXPECT_EQ(child.dependencies[1].job, "up2");
  EXPECT_TRUE(child.dependencies[2].http.has_value());
  // A parent's list entry moved to a new index keeps pointing at the parent file.
  EXPECT_EQ(child.LocationOf("hooks[1].name").file, "a/this.yaml");
  EXPECT_EQ(child.LocationOf("hooks[1].name").line, 19);
}

TEST(InheritTest, InheritedBadValueIsReportedInTheParentFile) {
  JobSpec child = Load("ns/jobs/a/job.yaml",
                       "version: 3\nname: a\nowner: o\nschedule: {start_date: '2024-01-01'}\n"
                       "task: {name: bq2bq}\n");
  JobSpec parent = Load("ns/jobs/this.yaml", "labels:\n  Bad: x\n");
  InheritFrom(child, parent);
  Diagnostics d;
  ValidateJob(child, JobValidationOptions{}, d);
  ASSERT_EQ(d.items().size(), 1u);
  EXPECT_EQ(d.items()[0].ToString(),
            "ns/jobs/this.yaml:2:3: labels.Bad: label key \"Bad\" may only hold lower-case "
            "letters, digits, '-' and '_'");
}

}  // namespace
}  // namespace optimus::spec
