// `optimus init`: by flags, interactively, and its refusals.
#include "init_command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "command_run.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/project_reader.h"
#include "optimus/testing/testing.h"

namespace optimus::cli {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

CommandRun Init(std::vector<std::string> args, const std::string& input = "",
                bool interactive = false) {
  return RunAsking(RunInitCommand, "init", std::move(args), input, interactive);
}

TEST(InitCommandTest, ByFlagsWritesAConfigThatLoadsAndTheFolders) {
  testing::TempDir dir;
  CommandRun r = Init({"-d", dir.path().string(), "-p", "sales", "-n", "marketing,finance",
                       "--storage-path", "s3://dags/sales"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("2 namespaces"));
  EXPECT_TRUE(fs::is_directory(dir.path() / "marketing" / "jobs"));
  EXPECT_TRUE(fs::is_directory(dir.path() / "finance" / "resources"));
  spec::Diagnostics d;
  auto project = spec::ReadProject(dir.path(), "optimus.yaml", d);
  ASSERT_TRUE(project.has_value()) << d.ToString();
  EXPECT_FALSE(d.HasErrors()) << d.ToString();
  EXPECT_EQ(project->config.project_name, "sales");
  EXPECT_EQ(project->config.host, "localhost:9100");
  ASSERT_EQ(project->config.namespaces.size(), 2u);
  EXPECT_EQ(project->config.namespaces[1].job_path, "finance/jobs");
  EXPECT_EQ(project->config.project_config.at("storage_path"), "s3://dags/sales");
}

TEST(InitCommandTest, InteractiveAsksReasksAndTakesDefaults) {
  testing::TempDir dir;
  // host (default), project (bad, then good), storage, scheduler, version (by number),
  // namespaces (one, then done), datastore (default).
  CommandRun r =
      Init({"-d", dir.path().string()}, "\nbad name!\nsales\n\n\n2\nmarketing\n\n\n", true);
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_THAT(r.out, HasSubstr("? Project name: "));
  EXPECT_THAT(r.out, HasSubstr("use letters, digits, - and _ only"));
  std::ifstream file(dir.File("optimus.yaml"));
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("scheduler_version: \"2.10\""));
  EXPECT_THAT(text.str(), HasSubstr("- name: marketing"));
  EXPECT_THAT(text.str(), HasSubstr("type: bigquery"));
}

TEST(InitCommandTest, MissingAnswersAreListedAndNothingIsWritten) {
  testing::TempDir dir;
  CommandRun r = Init({"-d", dir.path().string(), "--datastore", "oracle"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("project: no answer given (Project name)"));
  EXPECT_THAT(r.err, HasSubstr("namespace: give at least one with -n NAME"));
  EXPECT_THAT(r.err, HasSubstr("datastore: \"oracle\" is not one of: bigquery, maxcompute, none"));
  EXPECT_FALSE(fs::exists(dir.path() / "optimus.yaml"));
}

TEST(InitCommandTest, AnExistingConfigIsKeptUnlessForced) {
  testing::TempDir dir;
  ASSERT_EQ(Init({"-d", dir.path().string(), "-p", "a", "-n", "x"}).code, 0);
  CommandRun again = Init({"-d", dir.path().string(), "-p", "b", "-n", "y"});
  EXPECT_EQ(again.code, 1);
  EXPECT_THAT(again.err, HasSubstr("already exists (use --force to overwrite it)"));
  EXPECT_EQ(Init({"-d", dir.path().string(), "-p", "b", "-n", "y", "--force"}).code, 0);
  EXPECT_EQ(Init({"-d", dir.path().string(), "--bogus"}).code, 2);
}

}  // namespace
}  // namespace optimus::cli
