// Deployed jobs as runnable plans: steps from the task and hook plugins, pools, priority, and
// the resolution and plugin records they come from.
#include "optimus/dispatcher/job_plans.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "optimus/pipeline/pipeline.h"
#include "optimus/spec/loaders.h"
#include "store_fixture.h"

namespace optimus::dispatcher {
namespace {

using ::testing::HasSubstr;

constexpr char kShellPlugin[] = R"(version: 2
name: shell
description: runs a script
plugin_versions:
  default:
    image: docker.io/library/busybox
    tag: "1.36"
    entrypoint:
      shell: /bin/sh
      script: sh "$JOB_DIR/in/run.sh"
  "2":
    image: docker.io/library/busybox
    tag: "1.37"
)";

constexpr char kPreHook[] = R"(name: check
description: checks first
plugintype: hook
hooktype: pre
image: busybox:1
entrypoint:
  script: echo checking
)";

constexpr char kPostHook[] = R"(name: notify
description: tells someone
plugintype: hook
hooktype: post
image: busybox:1
entrypoint:
  script: echo done
)";

constexpr char kJob[] = R"(version: 3
name: j1
schedule:
  start_date: "2024-01-01"
  interval: "0 3 * * *"
task:
  name: shell
  version: "2"
hooks:
- name: notify
- name: check
labels:
  team: data
metadata:
  airflow:
    pool: etl
  resource:
    limit:
      memory: 1Gi
)";

spec::PluginSpec Plugin(const char* yaml) {
  spec::Diagnostics d;
  auto p = spec::LoadPluginSpec("p.yaml", yaml, d);
  EXPECT_TRUE(p && !d.HasErrors()) << d.ToString();
  return *p;
}

TEST(PlanJob, StepsInOrderWithTheirPluginsAndTheJobsMetadata) {
  spec::Diagnostics d;
  auto job = spec::LoadJobSpec("j1/job.yaml", kJob, d);
  ASSERT_TRUE(job) << d.ToString();
  const std::map<std::string, spec::PluginSpec> plugins = {
      {"shell", Plugin(kShellPlugin)}, {"check", Plugin(kPreHook)}, {"notify", Plugin(kPostHook)}};
  auto plan = PlanJob("p", "ns", *job, 9990, [&](const std::string& name) {
    auto it = plugins.find(name);
    return it == plugins.end() ? nullptr : &it->second;
  });
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->priority, 9990);
  EXPECT_EQ(plan->pool, "etl");
  EXPECT_EQ(plan->namespace_name, "ns");
  ASSERT_EQ(plan->plan.steps_size(), 3);
  const auto& pre = plan->plan.steps(0);
  const auto& task = plan->plan.steps(1);
  const auto& post = plan->plan.steps(2);
  EXPECT_EQ(pre.kind(), core::v1::ExecutionStep::KIND_HOOK_PRE);
  EXPECT_EQ(pre.name(), "check");
  EXPECT_EQ(task.kind(), core::v1::ExecutionStep::KIND_TASK);
  EXPECT_EQ(task.image(), "docker.io/library/busybox:1.37");  // task.version "2"
  EXPECT_EQ(task.script(), "sh \"$JOB_DIR/in/run.sh\"");      // from "default"
  EXPECT_EQ(task.env().at("INSTANCE_TYPE"), "task");
  EXPECT_EQ(task.env().at("JOB_NAME"), "j1");
  EXPECT_EQ(post.kind(), core::v1::ExecutionStep::KIND_HOOK_POST);
  EXPECT_EQ(post.instance_type(), "hook");
  EXPECT_EQ(plan->plan.memory_limit(), "1Gi");
  EXPECT_EQ(plan->plan.labels().at("team"), "data");

  auto missing = PlanJob("p", "ns", *job, 1, [&](const std::string& name) {
    return name == "shell" ? &plugins.at("shell") : nullptr;
  });
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(missing.status().message(), HasSubstr("hook plugin notify"));
}

TEST(PlanJob, ARecipeRunsItsTasksInOrderAsTaskSteps) {
  spec::Diagnostics d;
  auto job =
      spec::LoadRecipeSpec("stock/recipe.json",
                           R"({"setup": {"owner": "o", "start_date": "2024-01-01", "hour": [6]},
          "tasks": [{"shell": {"STEP": "load"}}, {"notify": {"to": "a@b"}}, {"shell": {}}]})",
                           "stock", d);
  ASSERT_TRUE(job && !d.HasErrors()) << d.ToString();
  const std::map<std::string, spec::PluginSpec> plugins = {{"shell", Plugin(kShellPlugin)},
                                                           {"notify", Plugin(kPostHook)}};
  auto plan = PlanJob("p", "ns", *job, 1, [&](const std::string& name) {
    auto it = plugins.find(name);
    return it == plugins.end() ? nullptr : &it->second;
  });
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->plan.steps_size(), 3);
  std::vector<std::string> names;
  for (const auto& step : plan->plan.steps()) {
    EXPECT_EQ(step.kind(), core::v1::ExecutionStep::KIND_TASK);
    EXPECT_EQ(step.instance_type(), "task");
    EXPECT_EQ(step.env().at("INSTANCE_NAME"), step.name());
    names.push_back(step.name());
  }
  EXPECT_THAT(names, ::testing::ElementsAre("shell_1", "notify_1", "shell_2"));
  EXPECT_EQ(plan->plan.steps(1).script(), "echo done");

  auto missing = PlanJob("p", "ns", *job, 1, [&](const std::string& name) {
    return name == "shell" ? &plugins.at("shell") : nullptr;
  });
  EXPECT_THAT(missing.status().message(), HasSubstr("task plugin notify"));
}

TEST(JobPlans, ResolutionsAndPluginsFromTheirTopics) {
  testing::TempDir dir;
  auto db = OpenDispatcherDb("sqlite:" + dir.File("d.db"), "dispatcher");
  ASSERT_NE(db, nullptr);
  const auto apply = [&](const std::string& topic, const std::string& key,
                         const google::protobuf::Message& record) {
    bus::Message m;
    m.topic = topic;
    m.key = key;
    m.payload = record.SerializeAsString();
    return db->InTransaction([&](store::Transaction& tx) { return JobPlans::Apply(tx, m); });
  };
  events::v1::JobResolution r;
  r.set_project("p");
  r.set_namespace_("ns");
  r.set_name("j1");
  r.set_spec_version(2);
  r.set_spec_yaml(kJob);
  ASSERT_TRUE(apply(pipeline::kResolutionsTopic, "p/j1", r).ok());
  const auto plan = [&] {
    absl::StatusOr<NewExecution> out;
    EXPECT_TRUE(db->InTransaction([&](store::Transaction& tx) {
                    out = JobPlans::ExecutionOf(tx, "p", "j1");
                    return absl::OkStatus();
                  }).ok());
    return out;
  };
  EXPECT_THAT(plan().status().message(), HasSubstr("task plugin shell"));
  for (const auto& [name, yaml] : std::map<std::string, const char*>{
           {"shell", kShellPlugin}, {"check", kPreHook}, {"notify", kPostHook}}) {
    events::v1::PluginRecord p;
    p.set_name(name);
    p.set_spec_yaml(yaml);
    ASSERT_TRUE(apply(pipeline::kPluginsTopic, name, p).ok());
  }
  auto ok = plan();
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->priority, 10000);  // no weight in the resolution: Optimus's default
  // An older version arriving late changes nothing; a newer error stops runs.
  r.set_spec_version(1);
  r.set_error("stale");
  ASSERT_TRUE(apply(pipeline::kResolutionsTopic, "p/j1", r).ok());
  EXPECT_TRUE(plan().ok());
  r.set_spec_version(3);
  r.set_error("a cycle: p/j1 -> p/j2 -> p/j1");
  ASSERT_TRUE(apply(pipeline::kResolutionsTopic, "p/j1", r).ok());
  EXPECT_THAT(plan().status().message(), HasSubstr("cannot run: a cycle"));
  EXPECT_EQ(
      [&] {
        absl::StatusOr<NewExecution> out;
        (void)db->InTransaction([&](store::Transaction& tx) {
          out = JobPlans::ExecutionOf(tx, "p", "nope");
          return absl::OkStatus();
        });
        return out.status().code();
      }(),
      absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace optimus::dispatcher
