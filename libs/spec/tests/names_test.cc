// The one rule set for names (names.h), and where validation applies it.
#include "optimus/spec/names.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "optimus/spec/loaders.h"
#include "optimus/spec/validate.h"

namespace optimus::spec {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

TEST(Names, OptimusNamesAreAccepted) {
  for (const char* name : {"sample-project", "g-data.platform", "bq2bq_daily", "_x", "A1"}) {
    EXPECT_EQ(NameProblem(NameKind::kProject, name), std::nullopt) << name;
    EXPECT_EQ(NameProblem(NameKind::kNamespace, name), std::nullopt) << name;
  }
  EXPECT_EQ(NameProblem(NameKind::kJob, "sample-project.sales_raw.orders"), std::nullopt);
}

TEST(Names, NamesThatReadAsTwoOrClimbAreRefused) {
  EXPECT_THAT(NameProblem(NameKind::kProject, "a/b"), Optional(HasSubstr("'/' is not allowed")));
  EXPECT_THAT(NameProblem(NameKind::kJob, "x..y"), Optional(HasSubstr("\"..\" is not allowed")));
  EXPECT_THAT(NameProblem(NameKind::kJob, "../etc"), Optional(HasSubstr("not allowed")));
  EXPECT_THAT(NameProblem(NameKind::kNamespace, "/abs"), Optional(HasSubstr("'/'")));
  EXPECT_THAT(NameProblem(NameKind::kNamespace, ".hidden"),
              Optional(HasSubstr("must begin with a letter, a digit or '_'")));
  EXPECT_THAT(NameProblem(NameKind::kJob, std::string("a\0b", 3)),
              Optional(HasSubstr("0x00 is not allowed")));
  EXPECT_THAT(NameProblem(NameKind::kJob, "a b"), Optional(HasSubstr("0x20 is not allowed")));
  EXPECT_THAT(NameProblem(NameKind::kProject, ""), Optional(HasSubstr("is required")));
  EXPECT_THAT(NameProblem(NameKind::kJob, std::string(126, 'j')),
              Optional(HasSubstr("126 characters long (at most 125)")));
  EXPECT_EQ(NameProblem(NameKind::kProject, std::string(200, 'p')), std::nullopt);
}

TEST(Names, AssetNamesAreRelativePathsThatStayInTheirFolder) {
  for (const char* name : {"query.sql", "sql/part one.sql", "a/b/c.json", "...x"}) {
    EXPECT_EQ(AssetNameProblem(name), std::nullopt) << name;
  }
  EXPECT_THAT(AssetNameProblem("/etc/passwd"), Optional(HasSubstr("relative")));
  EXPECT_THAT(AssetNameProblem("../x.sql"), Optional(HasSubstr("\"..\" is not allowed")));
  EXPECT_THAT(AssetNameProblem("a/./b"), Optional(HasSubstr("\".\" is not allowed")));
  EXPECT_THAT(AssetNameProblem("a//b"), Optional(HasSubstr("empty path segment")));
  EXPECT_THAT(AssetNameProblem("a\\b"), Optional(HasSubstr("'\\' is not allowed")));
  EXPECT_THAT(AssetNameProblem(std::string("q\0.sql", 6)), Optional(HasSubstr("0x00")));
}

TEST(Names, ValidationAppliesThemToJobsAndProjects) {
  Diagnostics d;
  auto job = LoadJobSpec("jobs/x/job.yaml",
                         "version: 3\nname: x/../y\nowner: o\nschedule:\n  start_date: "
                         "\"2024-01-01\"\n  interval: \"0 0 * * *\"\ntask:\n  name: shell\n",
                         d);
  ASSERT_TRUE(job.has_value());
  job->assets["../../evil.sql"] = "select 1";
  ValidateJob(*job, {}, d);
  ASSERT_TRUE(d.HasErrors());
  std::string all;
  for (const auto& item : d.items()) all += item.ToString() + "\n";
  EXPECT_THAT(all, HasSubstr("invalid job name \"x/../y\": '/' is not allowed"));
  EXPECT_THAT(all, HasSubstr("invalid asset name \"../../evil.sql\""));

  Diagnostics c;
  LoadClientConfig("optimus.yaml",
                   "version: 1\nhost: localhost:9100\nproject:\n  name: team/a\n  config:\n    "
                   "storage_path: file://x\n    scheduler: native\nnamespaces:\n- name: \"..\"\n",
                   c);
  all.clear();
  for (const auto& item : c.items()) all += item.ToString() + "\n";
  EXPECT_THAT(all, HasSubstr("project.name: invalid project name \"team/a\""));
  EXPECT_THAT(all, HasSubstr("namespaces[0].name: invalid namespace name \"..\""));
}

}  // namespace
}  // namespace optimus::spec
