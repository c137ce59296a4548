// LoadStoredJobSpec: one parse per path and text, shared; what does not load is never kept.
#include "optimus/spec/stored_spec.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "optimus/spec/writer.h"

namespace optimus::spec {
namespace {

std::string Text(const std::string& name) {
  return "version: 3\nname: " + name +
         "\nowner: a@example.com\nschedule:\n  start_date: \"2024-01-01\"\n  interval: "
         "\"0 2 * * *\"\ntask:\n  name: bq2bq\n  config:\n    TABLE: t\n";
}

TEST(StoredSpecTest, TheSameTextIsParsedOnceAndShared) {
  Diagnostics d;
  auto first = LoadStoredJobSpec("a/job.yaml", Text("stored.a"), d);
  ASSERT_NE(first, nullptr) << d.ToString();
  EXPECT_EQ(first->name, "stored.a");
  EXPECT_EQ(first->task.config.at("TABLE"), "t");
  auto again = LoadStoredJobSpec("a/job.yaml", Text("stored.a"), d);
  EXPECT_EQ(again.get(), first.get());
  // Another path is another parse: the spec carries its file in its locations.
  auto elsewhere = LoadStoredJobSpec("b/job.yaml", Text("stored.a"), d);
  ASSERT_NE(elsewhere, nullptr);
  EXPECT_NE(elsewhere.get(), first.get());
  EXPECT_EQ(elsewhere->file, "b/job.yaml");
  // Another text is another spec.
  auto other = LoadStoredJobSpec("a/job.yaml", Text("stored.b"), d);
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->name, "stored.b");
  EXPECT_FALSE(d.HasErrors()) << d.ToString();
}

TEST(StoredSpecTest, ATextWithErrorsGivesThemEveryTimeAndIsNotKept) {
  const size_t before = StoredJobSpecsCached();
  for (int i = 0; i < 2; ++i) {
    Diagnostics d;
    EXPECT_EQ(LoadStoredJobSpec("bad/job.yaml", "version: [1\nname: x\n", d), nullptr);
    EXPECT_TRUE(d.HasErrors());
    Diagnostics typed;
    EXPECT_EQ(LoadStoredJobSpec("bad/job.yaml", "version: 3\nname: [x]\n", typed), nullptr);
    EXPECT_TRUE(typed.HasErrors());
    EXPECT_NE(typed.ToString().find("bad/job.yaml"), std::string::npos) << typed.ToString();
  }
  EXPECT_EQ(StoredJobSpecsCached(), before);
}

TEST(StoredSpecTest, ConcurrentReadersOfOneTextAgreeOnItsSpec) {
  const std::string text = Text("stored.concurrent");
  std::vector<std::shared_ptr<const JobSpec>> seen(8);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < seen.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        Diagnostics d;
        seen[t] = LoadStoredJobSpec("c/job.yaml", text, d);
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& s : seen) {
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(WriteJobSpec(*s), WriteJobSpec(*seen[0]));
  }
  Diagnostics d;
  EXPECT_EQ(LoadStoredJobSpec("c/job.yaml", text, d).get(),
            LoadStoredJobSpec("c/job.yaml", text, d).get());
}

TEST(StoredSpecTest, TheCacheStaysBoundedUnderManyTexts) {
  // 64 MiB of texts at most: 25,000 texts of ~3 KiB are more than it holds.
  const std::string padding(3000, 'x');
  for (int i = 0; i < 25000; ++i) {
    Diagnostics d;
    const std::string text =
        Text("stored.many" + std::to_string(i)) + "labels:\n  pad: " + padding + "\n";
    ASSERT_NE(LoadStoredJobSpec("m/job.yaml", text, d), nullptr) << d.ToString();
  }
  EXPECT_LT(StoredJobSpecsCached(), 25000u);
  EXPECT_GT(StoredJobSpecsCached(), 1000u);
}

}  // namespace
}  // namespace optimus::spec
