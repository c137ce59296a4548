// The shared flag parser: forms of values, repeats, switches and its errors.
#include "flags.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace optimus::cli {
namespace {

bool Parse(Flags& flags, std::vector<std::string> args) {
  args.insert(args.begin(), "cmd");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return flags.Parse(static_cast<int>(argv.size()), argv.data());
}

TEST(FlagsTest, ValuesSwitchesListsAndPositionals) {
  std::string name, dir;
  std::vector<std::string> items;
  bool force = false;
  Flags flags("optimus x");
  flags.String("name", 0, &name);
  flags.String("dir", 'd', &dir);
  flags.List("item", 'i', &items, /*split_commas=*/true);
  flags.Bool("force", 0, &force);
  ASSERT_TRUE(Parse(flags, {"--name=a", "-d", "/tmp", "pos", "-i", "x,y", "--item", "z", "--force",
                            "--", "--not-a-flag"}))
      << flags.error();
  EXPECT_EQ(name, "a");
  EXPECT_EQ(dir, "/tmp");
  EXPECT_EQ(items, (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_TRUE(force);
  EXPECT_EQ(flags.positional(), (std::vector<std::string>{"pos", "--not-a-flag"}));
  EXPECT_TRUE(flags.WasSet("dir"));
  EXPECT_FALSE(flags.help());
}

TEST(FlagsTest, ErrorsNameTheFlagAndTheHelp) {
  std::string name;
  bool force = false;
  {
    Flags flags("optimus x");
    flags.String("name", 0, &name);
    EXPECT_FALSE(Parse(flags, {"--nmae", "a"}));
    EXPECT_EQ(flags.error(), "optimus x: unknown flag --nmae (see 'optimus x --help')");
  }
  {
    Flags flags("optimus x");
    flags.String("name", 0, &name);
    EXPECT_FALSE(Parse(flags, {"--name"}));
    EXPECT_EQ(flags.error(), "optimus x: flag --name needs a value (see 'optimus x --help')");
  }
  {
    Flags flags("optimus x");
    flags.String("name", 0, &name);
    EXPECT_FALSE(Parse(flags, {"--name", "a", "--name", "b"}));
    EXPECT_NE(flags.error().find("given twice"), std::string::npos);
  }
  {
    Flags flags("optimus x");
    flags.Bool("force", 0, &force);
    EXPECT_FALSE(Parse(flags, {"--force=maybe"}));
    EXPECT_FALSE(Parse(flags, {"-q"}));
  }
  {
    Flags flags("optimus x");
    EXPECT_TRUE(Parse(flags, {"--help"}));
    EXPECT_TRUE(flags.help());
  }
}

}  // namespace
}  // namespace optimus::cli
