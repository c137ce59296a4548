// What `optimus job run-input` writes: files under in/, and .env/.secret that bash sources back
// to exactly the values sent, whatever characters they hold.
#include "run_input_command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "optimus/testing/testing.h"

namespace optimus::cli {
namespace {

std::string Slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Runs `script` in bash and returns its standard output.
std::string Bash(const std::string& script, const std::filesystem::path& dir) {
  const std::filesystem::path file = dir / "check.sh";
  std::ofstream(file) << script;
  FILE* pipe = popen(("bash " + file.string()).c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  pclose(pipe);
  return out;
}

TEST(RunInputCommand, SourcedFilesGiveBackEveryValue) {
  testing::TempDir dir;
  const std::map<std::string, std::string> envs = {
      {"DSTART", "2023-03-06T00:00:00Z"},
      {"QUOTED", "it's a 'quote'"},
      {"NASTY", "$(touch pwned) `id` \\ \" ; && \n second line"},
  };
  const std::map<std::string, std::string> secrets = {{"TOKEN", "p@ss'w\"ord$HOME"}};
  const std::map<std::string, std::string> files = {{"query.sql", "select 1"},
                                                    {"sub/dir/part.sql", "select 2"}};
  ASSERT_TRUE(WriteRunInput(dir.path(), envs, files, secrets).ok());
  EXPECT_EQ(Slurp(dir.path() / "in" / "query.sql"), "select 1");
  EXPECT_EQ(Slurp(dir.path() / "in" / "sub" / "dir" / "part.sql"), "select 2");
  const std::string in = (dir.path() / "in").string();
  const std::string out =
      Bash("set -e; cd '" + dir.path().string() + "'\n. '" + in + "/.env'\n. '" + in +
               "/.secret'\nprintf '%s|%s|%s|%s|' \"$DSTART\" \"$QUOTED\" "
               "\"$NASTY\" \"$TOKEN\"\n[ -e pwned ] && echo PWNED || true\n",
           dir.path());
  EXPECT_EQ(out,
            "2023-03-06T00:00:00Z|it's a 'quote'|$(touch pwned) `id` \\ \" ; && \n second "
            "line|p@ss'w\"ord$HOME|");
  EXPECT_EQ(std::filesystem::status(dir.path() / "in" / ".secret").permissions() &
                std::filesystem::perms::others_read,
            std::filesystem::perms::none);
}

TEST(RunInputCommand, WritingAgainRewritesInPlaceAndNeverThroughALink) {
  testing::TempDir dir;
  const auto in = dir.path() / "in";
  ASSERT_TRUE(WriteRunInput(dir.path(), {{"A", "a long first value"}}, {{"q.sql", "select 1"}},
                            {{"T", "one"}})
                  .ok());
  struct stat before;
  ASSERT_EQ(::stat((in / ".env").c_str(), &before), 0);
  // A step left .secret as a link to somewhere else, and loosened its mode.
  const auto elsewhere = dir.path() / "elsewhere";
  { std::ofstream(elsewhere) << "untouched"; }
  std::filesystem::remove(in / ".secret");
  std::filesystem::create_symlink(elsewhere, in / ".secret");

  ASSERT_TRUE(
      WriteRunInput(dir.path(), {{"A", "short"}}, {{"q.sql", "select 1"}}, {{"T", "two"}}).ok());
  struct stat after;
  ASSERT_EQ(::stat((in / ".env").c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);         // the same file, rewritten
  EXPECT_EQ(Slurp(in / ".env"), "A='short'\n");   // and cut to its new length
  EXPECT_EQ(Slurp(in / ".secret"), "T='two'\n");  // a file again, not the link
  EXPECT_EQ(Slurp(elsewhere), "untouched");
  EXPECT_EQ(std::filesystem::symlink_status(in / ".secret").permissions(),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST(RunInputCommand, AnAssetNameCannotLeaveIn) {
  testing::TempDir dir;
  auto s = WriteRunInput(dir.path(), {}, {{"../escape.sql", "x"}}, {});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "the asset name \"../escape.sql\" leaves in/");
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "escape.sql"));
}

TEST(RunInputCommand, BadFlagsAreNamed) {
  std::ostringstream out, err;
  std::vector<std::string> args = {"run-input",      "job",      "--project-name", "p",
                                   "--scheduled-at", "yesterday"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  EXPECT_EQ(RunJobRunInputCommand(static_cast<int>(argv.size()), argv.data(), out, err), 2);
  EXPECT_EQ(err.str(),
            "optimus job run-input: --scheduled-at \"yesterday\" is not an RFC 3339 time (e.g. "
            "2024-03-07T02:00:00Z)\n");
}

}  // namespace
}  // namespace optimus::cli
