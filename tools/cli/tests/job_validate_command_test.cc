// `optimus job validate` on the spec library's realistic project: the table, the filters, the
// exit codes and the JSON form.
#include "job_validate_command.h"

#include "command_run.h"
#include "optimus/testing/testing.h"

namespace optimus::cli {
namespace {

using ::testing::HasSubstr;

CommandRun Validate(std::vector<std::string> args) {
  return RunCommand(RunJobValidateCommand, "validate", std::move(args));
}

const std::string kProject = OPTIMUS_SPEC_TESTDATA "/realistic";
const std::string kPlugins = OPTIMUS_SPEC_TESTDATA "/realistic/plugins";

TEST(JobValidateCommandTest, DuplicateNameAcrossNamespacesFailsWithFileLineAndField) {
  CommandRun r = Validate({"--dir", kProject, "--plugins", kPlugins});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("ns2/jobs/dup/job.yaml:2:7  name  job name "
                               "\"sample-project.mart.daily_orders\" is also used by "
                               "ns1/jobs/daily_orders/job.yaml"));
  EXPECT_THAT(r.out, HasSubstr("validated 3 jobs in 2 namespaces: 1 errors, 0 warnings"));
  EXPECT_EQ(r.err, "");  // Plugins were given: no note.
}

TEST(JobValidateCommandTest, NamespaceFilterShowsOnlyItsJobs) {
  CommandRun r = Validate({"--dir", kProject, "--plugins", kPlugins, "-n", "ns1"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("validated 2 jobs"));
}

TEST(JobValidateCommandTest, JsonListsEveryProblem) {
  CommandRun r = Validate({"--dir", kProject, "--plugins", kPlugins, "--output", "json"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out, HasSubstr("\"errors\": 1"));
  EXPECT_THAT(r.out, HasSubstr("\"field\": \"name\""));
  EXPECT_THAT(r.out, HasSubstr("\"line\": 2"));
}

TEST(JobValidateCommandTest, BadFlagsAndUnknownNamesExitTwo) {
  EXPECT_EQ(Validate({"--dir", kProject, "--output", "yaml"}).code, 2);
  EXPECT_EQ(Validate({"--dir", kProject, "--bogus"}).code, 2);
  CommandRun unknown_ns = Validate({"--dir", kProject, "-n", "ns9"});
  EXPECT_EQ(unknown_ns.code, 2);
  EXPECT_THAT(unknown_ns.err, HasSubstr("namespace 'ns9' is not in optimus.yaml"));
  CommandRun missing = Validate({"--dir", "/nonexistent/project"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_THAT(missing.err, HasSubstr("cannot read the project in /nonexistent/project"));
  CommandRun help = Validate({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_THAT(help.out, HasSubstr("Usage: optimus job validate"));
}

}  // namespace
}  // namespace optimus::cli
