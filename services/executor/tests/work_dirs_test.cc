// Reused run directories: a slot's files are overwritten in place (same inode), what a run
// wrote besides goes when it ends, secrets are emptied, and a run of another shape finds
// nothing of the last one's; links never carry a write elsewhere.
#include "optimus/executor/work_dirs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "optimus/testing/testing.h"

namespace optimus::executor {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::trunc) << text;
}

std::string Read(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

ino_t Inode(const fs::path& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0 ? st.st_ino : 0;
}

std::set<std::string> Tree(const fs::path& root) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    out.insert(e.path().lexically_relative(root).string());
  }
  return out;
}

TEST(WorkDirs, ASlotIsReusedInPlaceAndTidiedAfterEachRun) {
  testing::TempDir tmp;
  const WorkDirs dirs(tmp.File("work"), false);
  auto dir = dirs.Open(3, "e1", 1, {"0-bq2bq", "1-predator"});
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(*dir, fs::path(tmp.File("work")) / "slot-3");
  const fs::path in = *dir / "0-bq2bq" / "in";
  Write(in / ".env", "A='1'\n");
  Write(in / ".secret", "TOKEN='s3cret'\n");
  Write(in / "query.sql", "select 1");
  WorkDirs::Prune(in, {".env", ".secret", "query.sql"});
  Write(*dir / "0-bq2bq" / "out" / "result.csv", "1\n");  // what the step wrote
  const ino_t env_inode = Inode(in / ".env");
  dirs.Close(*dir);
  EXPECT_EQ(Read(in / ".secret"), "");  // emptied when the run ended
  EXPECT_FALSE(fs::exists(*dir / "0-bq2bq" / "out"));

  // The next run in the slot, of the same shape: the same files, overwritten in place.
  dir = dirs.Open(3, "e2", 1, {"0-bq2bq", "1-predator"});
  ASSERT_TRUE(dir.ok());
  Write(in / ".env", "A='2'\n");
  WorkDirs::Prune(in, {".env", ".secret"});  // this job has no query.sql
  EXPECT_EQ(Inode(in / ".env"), env_inode);
  EXPECT_EQ(Read(in / ".env"), "A='2'\n");
  EXPECT_FALSE(fs::exists(in / "query.sql"));
}

TEST(WorkDirs, ARunOfAnotherShapeFindsNothingOfTheLast) {
  testing::TempDir tmp;
  const WorkDirs dirs(tmp.File("work"), false);
  auto dir = dirs.Open(0, "e1", 1, {"0-a", "1-b", "2-c"});
  ASSERT_TRUE(dir.ok());
  Write(*dir / "1-b" / "in" / "sub" / "x.sql", "x");
  Write(*dir / "stray.txt", "left by a step");
  dir = dirs.Open(0, "e2", 1, {"0-a", "1-d"});
  ASSERT_TRUE(dir.ok());
  EXPECT_EQ(Tree(*dir), (std::set<std::string>{"0-a", "1-d"}));
}

TEST(WorkDirs, NestedAssetsKeepTheirFoldersAndLinksAreNeverWrittenThrough) {
  testing::TempDir tmp;
  const fs::path outside = tmp.File("outside.txt");
  Write(outside, "untouched");
  const WorkDirs dirs(tmp.File("work"), false);
  auto dir = dirs.Open(0, "e1", 1, {"0-t"});
  ASSERT_TRUE(dir.ok());
  const fs::path in = *dir / "0-t" / "in";
  Write(in / "sql" / "a.sql", "a");
  Write(in / "sql" / "old.sql", "old");
  Write(in / "gone" / "b.sql", "b");
  fs::create_symlink(outside, in / "link.sql");
  fs::create_hard_link(outside, in / "hard.sql");
  WorkDirs::Prune(in, {"sql/a.sql", "link.sql", "hard.sql"});
  EXPECT_EQ(Tree(in), (std::set<std::string>{"sql", "sql/a.sql"}));
  EXPECT_EQ(Read(outside), "untouched");

  // A step that swapped its in/ for a link to elsewhere gets a real folder back.
  fs::remove_all(in);
  fs::create_directory_symlink(tmp.File(""), in);
  dirs.Close(*dir);
  dir = dirs.Open(0, "e2", 1, {"0-t"});
  ASSERT_TRUE(dir.ok());
  EXPECT_FALSE(fs::exists(in));
  EXPECT_TRUE(fs::exists(outside));
}

TEST(WorkDirs, KeptRunsGetTheirOwnFolderLeftInPlace) {
  testing::TempDir tmp;
  const WorkDirs dirs(tmp.File("work"), true);
  auto dir = dirs.Open(0, "e1", 2, {"0-t"});
  ASSERT_TRUE(dir.ok());
  EXPECT_EQ(dir->filename(), "e1-2");
  Write(*dir / "0-t" / "out.txt", "kept");
  dirs.Close(*dir);
  EXPECT_EQ(Read(*dir / "0-t" / "out.txt"), "kept");
}

}  // namespace
}  // namespace optimus::executor
