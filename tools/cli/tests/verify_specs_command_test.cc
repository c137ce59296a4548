// `optimus verify specs` on single files: the sample jobs pass, broken ones name file and field.
#include "verify_specs_command.h"

#include <fstream>

#include "command_run.h"
#include "optimus/testing/testing.h"

namespace optimus::cli {
namespace {

using ::testing::HasSubstr;

CommandRun Verify(std::vector<std::string> args) {
  return RunCommand(RunVerifySpecsCommand, "specs", std::move(args));
}

const std::string kJobs = OPTIMUS_SPEC_TESTDATA "/jobs";

TEST(VerifySpecsCommandTest, SampleJobsOfEveryVersionPass) {
  CommandRun r = Verify(
      {"-j", kJobs + "/v1_job.yaml", "-j", kJobs + "/v2_job.yaml", "-j", kJobs + "/v3_job.yaml"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("verified 3 job and 0 resource files: 0 errors"));
}

TEST(VerifySpecsCommandTest, BadCronAndWindowAreReportedWithFileLineAndField) {
  testing::TempDir dir;
  const std::string path = dir.File("job.yaml");
  std::ofstream(path) << "version: 3\nname: a.b.c\nowner: o@example.com\nschedule:\n"
                         "  start_date: \"2024-01-01\"\n  interval: \"0 25 * * *\"\ntask:\n"
                         "  name: bq2bq\n  window:\n    size: 1x\n";
  CommandRun r = Verify({"-j", path});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr(path + ":6:13  schedule.interval  cron \"0 25 * * *\": hour 25"));
  EXPECT_THAT(r.out, HasSubstr(path + ":10:11  task.window.size"));
}

TEST(VerifySpecsCommandTest, NothingToVerifyOrUnreadableFile) {
  EXPECT_EQ(Verify({}).code, 2);
  CommandRun missing = Verify({"-j", "/nonexistent/job.yaml"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.out, HasSubstr("/nonexistent/job.yaml"));
}

}  // namespace
}  // namespace optimus::cli
