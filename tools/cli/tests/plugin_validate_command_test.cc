// `optimus plugin validate` on the spec library's sample plugins and on broken copies.
#include "plugin_validate_command.h"

#include <fstream>

#include "command_run.h"
#include "optimus/testing/testing.h"

namespace optimus::cli {
namespace {

using ::testing::HasSubstr;

CommandRun Validate(std::vector<std::string> args) {
  return RunCommand(RunPluginValidateCommand, "validate", std::move(args));
}

const std::string kPlugins = OPTIMUS_SPEC_TESTDATA "/realistic/plugins";

TEST(PluginValidateCommandTest, SamplePluginsAreValid) {
  CommandRun r = Validate({"--path", kPlugins});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("validated 2 plugins: 0 errors"));
  CommandRun one = Validate({"--path", kPlugins + "/optimus-plugin-bq2bq.yaml", "-o", "json"});
  EXPECT_EQ(one.code, 0) << one.out;
  EXPECT_THAT(one.out, HasSubstr("\"plugins\": 1"));
}

TEST(PluginValidateCommandTest, BrokenPluginNamesFileAndLine) {
  testing::TempDir dir;
  const std::string path = dir.File("optimus-plugin-broken.yaml");
  std::ofstream(path) << "name: broken\nplugin_versions: [1, 2\n";
  CommandRun r = Validate({"--path", path});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr(path + ":"));
  EXPECT_THAT(r.out, HasSubstr("1 errors"));
}

TEST(PluginValidateCommandTest, MissingPathAndEmptyFolderExitTwo) {
  EXPECT_EQ(Validate({}).code, 2);
  EXPECT_EQ(Validate({"--path", "/nonexistent/plugins"}).code, 2);
  testing::TempDir empty;
  CommandRun r = Validate({"--path", empty.path().string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("no optimus-plugin-*.yaml file found"));
}

}  // namespace
}  // namespace optimus::cli
