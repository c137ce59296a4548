// Tests of project discovery: namespaces, jobs, this.yaml up the tree, assets, plugins.
#include "optimus/spec/project_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "optimus/testing/testing.h"
#include "test_util.h"

namespace optimus::spec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using testutil::TestData;

std::set<std::string> Names(const std::vector<PluginSpec>& plugins) {
  std::set<std::string> out;
  for (const auto& p : plugins) out.insert(p.name);
  return out;
}

TEST(ProjectReaderTest, ReadsTheRealisticProject) {
  Diagnostics d;
  auto project = ReadProject(TestData("realistic"), "optimus.yaml", d);
  ASSERT_TRUE(project.has_value()) << d.ToString();
  EXPECT_TRUE(d.empty()) << d.ToString();
  ASSERT_EQ(project->jobs.size(), 3u);
  EXPECT_EQ(project->presets.size(), 2u);
  ASSERT_EQ(project->resources.size(), 1u);
  EXPECT_EQ(project->resources[0].file, "ns1/resources/orders/resource.yaml");
  EXPECT_EQ(project->resources[0].namespace_name, "ns1");

  const JobSpec& daily = project->jobs[0];
  EXPECT_EQ(daily.file, "ns1/jobs/daily_orders/job.yaml");
  EXPECT_EQ(daily.namespace_name, "ns1");
  // Child values win; the parent fills the rest.
  EXPECT_EQ(daily.behavior.depends_on_past, std::optional<bool>(true));
  EXPECT_EQ(daily.behavior.retry.count, std::optional<int>(2));
  EXPECT_EQ(daily.behavior.retry.delay, "5m");
  EXPECT_EQ(daily.schedule.interval, "0 3 * * *");
  EXPECT_EQ(daily.task.config.at("EXECUTION_PROJECT"), "{{.GLOBAL__EXECUTION_PROJECT}}");
  EXPECT_THAT(daily.labels, ElementsAre(Pair("team", "payments"), Pair("tier", "gold")));
  ASSERT_EQ(daily.behavior.notify.size(), 2u);
  EXPECT_EQ(daily.behavior.notify[1].on, "failure");
  EXPECT_THAT(daily.parents, ElementsAre("ns1/jobs/this.yaml"));
  // Assets, sub-folders included, keyed relative to assets/; a job.yaml there is an asset.
  std::vector<std::string> keys;
  for (const auto& [k, v] : daily.assets) keys.push_back(k);
  EXPECT_THAT(keys, ElementsAre("query.sql", "sub/extra.sql", "sub/job.yaml"));
  EXPECT_THAT(daily.assets.at("query.sql"), HasSubstr("@ignoreupstream"));

  const JobSpec& weekly = project->jobs[1];
  EXPECT_EQ(weekly.file, "ns1/jobs/marts/weekly/job.yaml");
  EXPECT_THAT(weekly.parents, ElementsAre("ns1/jobs/marts/this.yaml", "ns1/jobs/this.yaml"));
  EXPECT_EQ(weekly.behavior.catch_up, std::optional<bool>(false));  // explicit false stays
  EXPECT_EQ(weekly.behavior.retry.exponential_backoff, std::optional<bool>(true));
  EXPECT_EQ(weekly.behavior.depends_on_past, std::optional<bool>(false));
  EXPECT_EQ(weekly.metadata.airflow_pool, "marts_pool");  // parent block, child has none
  EXPECT_EQ(weekly.task.name, "bq2bq");
  EXPECT_EQ(weekly.assets.at("query.sql"), "SELECT 2\n");

  EXPECT_EQ(project->jobs[2].namespace_name, "ns2");

  const auto plugins = ReadPlugins({TestData("realistic/plugins")}, {}, d);
  EXPECT_TRUE(d.empty()) << d.ToString();
  const std::set<std::string> known = Names(plugins);
  EXPECT_THAT(known, ElementsAre("bq2bq", "predator"));

  ValidationHooks hooks;
  ValidateProject(*project, &known, hooks, d);
  // The only problem: ns2 reuses a name from ns1 (unique per project, not per namespace).
  ASSERT_EQ(d.items().size(), 1u) << d.ToString();
  EXPECT_EQ(d.items()[0].ToString(),
            "ns2/jobs/dup/job.yaml:2:7: name: job name \"sample-project.mart.daily_orders\" is "
            "also used by ns1/jobs/daily_orders/job.yaml (job names must be unique in a project)");
}

void Write(const std::filesystem::path& path, const std::string& content) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << content;
}

TEST(ProjectReaderTest, BrokenFilesAreAllReportedAndOthersStillLoad) {
  testing::TempDir dir;
  const auto root = dir.path() / "jobs";
  Write(root / "this.yaml", "version: 3\nowner: team\n");
  Write(root / "good/job.yaml",
        "name: good\nschedule: {start_date: '2024-01-01'}\ntask: {name: bq2bq}\n");
  Write(root / "bad/job.yaml", "name: [unclosed\n");
  Write(root / "deep/er/still/job.yaml", "name: deep\n");
  Diagnostics d;
  auto jobs = ReadJobs(root, "ns", ReadOptions{dir.path()}, d);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].file, "jobs/deep/er/still/job.yaml");
  EXPECT_EQ(jobs[0].owner, "team");
  EXPECT_EQ(jobs[1].name, "good");
  ASSERT_EQ(d.items().size(), 1u);
  EXPECT_THAT(d.items()[0].ToString(), HasSubstr("jobs/bad/job.yaml:2:1: malformed YAML"));
}

TEST(ProjectReaderTest, PlainNamesAreFoundWithoutParsing) {
  EXPECT_EQ(PlainJobName("version: 3\nname: a.b-c_d\nowner: o\n"), "a.b-c_d");
  EXPECT_EQ(PlainJobName("name: \"quoted\"  # a comment\n"), "quoted");
  EXPECT_EQ(PlainJobName("name: 'single'\r\n"), "single");
  EXPECT_EQ(PlainJobName("task:\n  name: bq2bq\n"), std::nullopt) << "not top-level";
  EXPECT_EQ(PlainJobName("name: &anchor a\n"), std::nullopt);
  EXPECT_EQ(PlainJobName("name: *alias\n"), std::nullopt);
  EXPECT_EQ(PlainJobName("name: >\n  folded\n"), std::nullopt);
  EXPECT_EQ(PlainJobName("name: \"a\\tb\"\n"), std::nullopt) << "escapes are YAML's to read";
  EXPECT_EQ(PlainJobName("{name: flow}\n"), std::nullopt);
}

// `optimus job deploy -n NS -J A` reads only job A: other namespaces, other jobs' specs (when
// their names are plain) and assets, and resources are not read.
TEST(ProjectReaderTest, ASelectionReadsOnlyTheNamedJobs) {
  testing::TempDir dir;
  Write(dir.path() / "optimus.yaml",
        "version: 1\nhost: localhost:9100\nproject:\n  name: p\n  config:\n    storage_path: "
        "file://x\n    scheduler: native\nnamespaces:\n- name: a\n  job:\n    path: a\n  "
        "datastore:\n  - type: bigquery\n    path: res\n- name: b\n  job:\n    path: b\n");
  const std::string spec = "version: 3\nowner: o\nschedule: {start_date: '2024-01-01'}\n";
  Write(dir.path() / "a/x/job.yaml", "name: p.x\n" + spec);
  Write(dir.path() / "a/x/assets/query.sql", "select 1");
  Write(dir.path() / "a/y/job.yaml", "name: p.y\n" + spec + "broken: [\n");  // never parsed
  Write(dir.path() / "a/z/job.yaml", "name: &n p.z\n" + spec);  // parsed: its name is not plain
  Write(dir.path() / "b/x/job.yaml", "name: p.x\n" + spec + "broken: [\n");
  Write(dir.path() / "res/t/resource.yaml", "broken: [\n");
  Diagnostics d;
  JobSelection only{"a", {"p.x", "p.z"}};
  auto project = ReadProject(dir.path(), "optimus.yaml", d, &only);
  ASSERT_TRUE(project.has_value()) << d.ToString();
  EXPECT_TRUE(d.empty()) << d.ToString();
  ASSERT_EQ(project->jobs.size(), 2u);
  EXPECT_EQ(project->jobs[0].name, "p.x");
  EXPECT_EQ(project->jobs[0].assets.at("query.sql"), "select 1");
  EXPECT_EQ(project->jobs[1].name, "p.z");
  EXPECT_TRUE(project->resources.empty());
  Diagnostics all;
  ReadProject(dir.path(), "optimus.yaml", all);
  EXPECT_FALSE(all.empty()) << "the whole project has the broken files";
}

TEST(ProjectReaderTest, DuplicatePluginNamesAreRejected) {
  testing::TempDir dir;
  Write(dir.path() / "a/optimus-plugin-x.yaml",
        "version: 2\nname: x\nplugin_versions: {default: {image: i, tag: t, entrypoint: {script: "
        "s}}}\n");
  Write(dir.path() / "a/optimus-plugin-y.yaml",
        "version: 2\nname: x\nplugin_versions: {default: {image: i, tag: t, entrypoint: {script: "
        "s}}}\n");
  Write(dir.path() / "b/optimus-plugin-x.yaml", "broken: [\n");  // shadowed by a/
  Diagnostics d;
  auto plugins = ReadPlugins({dir.path() / "a", dir.path() / "b"}, ReadOptions{dir.path()}, d);
  ASSERT_EQ(plugins.size(), 1u);
  EXPECT_EQ(
      d.ToString(),
      "a/optimus-plugin-y.yaml: name: plugin \"x\" is also defined in a/optimus-plugin-x.yaml\n");
}

TEST(ProjectReaderTest, MissingJobRootIsReported) {
  testing::TempDir dir;
  Diagnostics d;
  auto jobs = ReadJobs(dir.path() / "nope", "ns", ReadOptions{dir.path()}, d);
  EXPECT_TRUE(jobs.empty());
  EXPECT_EQ(d.ToString(), "nope: not a directory (check the path in optimus.yaml)\n");
}

}  // namespace
}  // namespace optimus::spec
