// WriteJobSpec: what it writes loads back to the same spec, for every sample of every version
// and for a job merged with its this.yaml files.
#include "optimus/spec/writer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "optimus/spec/loaders.h"
#include "optimus/spec/project_reader.h"

namespace optimus::spec {
namespace {

void ExpectRoundTrip(const JobSpec& job) {
  const std::string text = WriteJobSpec(job);
  Diagnostics d;
  auto again = LoadJobSpec("written.yaml", text, d);
  ASSERT_TRUE(again.has_value()) << text << d.ToString();
  EXPECT_TRUE(d.empty()) << text << d.ToString();
  EXPECT_EQ(WriteJobSpec(*again), text);
  EXPECT_EQ(again->name, job.name);
  EXPECT_EQ(again->version, job.version);
  EXPECT_EQ(again->task.config, job.task.config);
  EXPECT_EQ(again->task.window.size, job.task.window.size);
  EXPECT_EQ(again->task.window.preset, job.task.window.preset);
  EXPECT_EQ(again->labels, job.labels);
  EXPECT_EQ(again->hooks.size(), job.hooks.size());
  EXPECT_EQ(again->dependencies.size(), job.dependencies.size());
  EXPECT_EQ(again->behavior.notify.size(), job.behavior.notify.size());
  EXPECT_EQ(again->behavior.retry.count, job.behavior.retry.count);
  EXPECT_EQ(again->behavior.depends_on_past, job.behavior.depends_on_past);
  EXPECT_EQ(again->schedule.interval, job.schedule.interval);
  EXPECT_EQ(again->metadata.airflow_pool, job.metadata.airflow_pool);
}

TEST(WriterTest, SampleJobsOfEveryVersionRoundTrip) {
  for (const char* name : {"v1_job.yaml", "v2_job.yaml", "v3_job.yaml"}) {
    SCOPED_TRACE(name);
    const std::string path = std::string(OPTIMUS_SPEC_TESTDATA "/jobs/") + name;
    std::ifstream file(path);
    std::stringstream text;
    text << file.rdbuf();
    Diagnostics d;
    auto job = LoadJobSpec(path, text.str(), d);
    ASSERT_TRUE(job.has_value()) << d.ToString();
    ExpectRoundTrip(*job);
  }
}

TEST(WriterTest, MergedJobsOfAProjectRoundTrip) {
  Diagnostics d;
  auto project = ReadProject(OPTIMUS_SPEC_TESTDATA "/realistic", "optimus.yaml", d);
  ASSERT_TRUE(project.has_value()) << d.ToString();
  ASSERT_FALSE(project->jobs.empty());
  for (const JobSpec& job : project->jobs) {
    SCOPED_TRACE(job.name);
    ExpectRoundTrip(job);
  }
}

}  // namespace
}  // namespace optimus::spec
