// Tests of StarThinker recipes as jobs: recipe.json to a JobSpec, its checks, its YAML form and
// its discovery beside job.yaml files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "optimus/spec/loaders.h"
#include "optimus/spec/project_reader.h"
#include "optimus/spec/schedule_hooks.h"
#include "optimus/spec/validate.h"
#include "optimus/spec/writer.h"
#include "optimus/testing/testing.h"
#include "test_util.h"

namespace optimus::spec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using testutil::Only;

constexpr char kRecipe[] = R"({
  "script": {"title": "Stock", "description": "Weekly stock report."},
  "setup": {
    "timezone": "America/Los_Angeles",
    "day": ["Mon", "Fri"],
    "hour": [18, "3"],
    "start_date": "2024-06-03",
    "owner": "stock@example.com",
    "auth": {"user": "ignored.json"}
  },
  "tasks": [
    {"sqlite2sqlite": {"DESTINATION_TABLE": "stock.snapshots", "LOAD_METHOD": "REPLACE",
                       "QUERY_FILE": "snapshot.sql"}},
    {"mail": {"to": ["a@example.com", "b@example.com"], "retries": 2, "html": true,
              "subject": {"field": {"name": "subject", "kind": "string", "default": "Stock"}}}},
    {"sqlite2sqlite": {"DESTINATION_TABLE": "stock.weekly", "QUERY_FILE": "weekly.sql"}}
  ]
}
)";

std::vector<std::string> StepNames(const JobSpec& job) {
  std::vector<std::string> out;
  for (const JobStep& s : job.Steps()) out.push_back(s.name);
  return out;
}

TEST(RecipeTest, SetupBecomesTheScheduleAndTasksTheSteps) {
  Diagnostics d;
  auto job = LoadRecipeSpec("jobs/stock/recipe.json", kRecipe, "stock", d);
  ASSERT_TRUE(job.has_value()) << d.ToString();
  EXPECT_FALSE(d.HasErrors()) << d.ToString();
  EXPECT_EQ(job->name, "stock");
  EXPECT_EQ(job->owner, "stock@example.com");
  EXPECT_EQ(job->description, "Weekly stock report.");
  EXPECT_EQ(job->version, 3);
  EXPECT_EQ(job->schedule.start_date, "2024-06-03");
  EXPECT_EQ(job->schedule.interval, "CRON_TZ=America/Los_Angeles 0 3,18 * * 1,5");
  EXPECT_EQ(job->task.window.size, "1d");
  ASSERT_EQ(job->recipe.size(), 3u);
  EXPECT_EQ(job->task.name, "sqlite2sqlite");
  EXPECT_EQ(job->task.config.at("QUERY_FILE"), "snapshot.sql");
  EXPECT_THAT(StepNames(*job), ElementsAre("sqlite2sqlite_1", "mail_1", "sqlite2sqlite_2"));
  const StringMap& mail = job->recipe[1].config;
  EXPECT_EQ(mail.at("to"), R"(["a@example.com","b@example.com"])");
  EXPECT_EQ(mail.at("retries"), "2");
  EXPECT_EQ(mail.at("html"), "true");
  EXPECT_EQ(mail.at("subject"), "Stock") << "a field becomes its default";
  EXPECT_EQ(job->recipe[2].config.at("DESTINATION_TABLE"), "stock.weekly");
  // Fields point into the JSON.
  EXPECT_EQ(job->LocationOf("recipe[1].name").line, 14);
  EXPECT_EQ(job->LocationOf("schedule.interval").line, 4);
}

TEST(RecipeTest, DefaultsAreEveryDayAtMidnightInUtc) {
  Diagnostics d;
  auto job = LoadRecipeSpec("r/recipe.json",
                            R"({"setup": {"name": "hello_recipe", "start_date": "2024-01-01"},
                                "tasks": [{"hello": {"say": "hi"}}]})",
                            "r", d);
  ASSERT_TRUE(job.has_value());
  EXPECT_FALSE(d.HasErrors()) << d.ToString();
  EXPECT_EQ(job->name, "hello_recipe");
  EXPECT_EQ(job->schedule.interval, "0 0 * * *");
  EXPECT_THAT(StepNames(*job), ElementsAre("hello_1"));
  EXPECT_EQ(job->task.config.at("say"), "hi");
}

TEST(RecipeTest, EveryMistakeIsReportedWithItsPlace) {
  const std::string text = R"({
  "setup": {"hour": [3, 25], "day": ["Mon", "Someday"], "colour": "red"},
  "tasks": [
    {"a": {"x": 1}, "b": {}},
    {"c": {"hour": [3]}},
    {"d": {"to": {"field": {"name": "to", "kind": "email"}}}}
  ]
})";
  Diagnostics d;
  auto job = LoadRecipeSpec("recipe.json", text, "r", d);
  ASSERT_TRUE(job.has_value());
  EXPECT_THAT(Only(d, "setup.hour[1]"),
              HasSubstr("recipe.json:2:25: setup.hour[1]: invalid hour 25"));
  EXPECT_THAT(Only(d, "setup.day[1]"), HasSubstr("recipe.json:2:45: setup.day[1]: invalid day"));
  EXPECT_THAT(Only(d, "setup.colour"), HasSubstr("warning"));
  EXPECT_THAT(Only(d, "tasks[0]"),
              HasSubstr("recipe.json:4:5: tasks[0]: a task is an object with one key"));
  EXPECT_THAT(Only(d, "tasks[1].c.hour"), HasSubstr("recipe.json:5:12:"));
  EXPECT_THAT(Only(d, "tasks[2].d.to"), HasSubstr("field \"to\" has no default"));
}

TEST(RecipeTest, BrokenJsonNamesItsLine) {
  Diagnostics d;
  EXPECT_FALSE(LoadRecipeSpec("recipe.json", "{\n  \"setup\": {,\n}", "r", d).has_value());
  ASSERT_EQ(d.items().size(), 1u);
  EXPECT_THAT(d.items()[0].ToString(), HasSubstr("recipe.json:2:"));
  EXPECT_THAT(d.items()[0].ToString(), HasSubstr("not valid JSON"));
  Diagnostics empty;
  EXPECT_FALSE(LoadRecipeSpec("recipe.json", "[]", "r", empty).has_value());
  Diagnostics huge;
  EXPECT_FALSE(LoadRecipeSpec("recipe.json", "{\"setup\": {\"hour\": [1E999]}}", "r", huge));
  EXPECT_THAT(huge.ToString(), HasSubstr("not valid JSON"));
  Diagnostics odd_field;
  LoadRecipeSpec("recipe.json", R"({"setup": {}, "tasks": [{"a": {"x": {"field": {"name": 7}}}}]})",
                 "r", odd_field);
  EXPECT_THAT(odd_field.ToString(), HasSubstr("field \"?\" has no default"));
  Diagnostics deep;
  const std::string nested = R"({"setup": {}, "tasks": [{"a": {"x": )" + std::string(100000, '[') +
                             std::string(100000, ']') + "}}]}";
  EXPECT_FALSE(LoadRecipeSpec("recipe.json", nested, "r", deep).has_value());
  EXPECT_THAT(deep.ToString(), HasSubstr("recipe.json:1:"));
  EXPECT_THAT(deep.ToString(), HasSubstr("nested more than 32 levels deep"));
  Diagnostics no_tasks;
  LoadRecipeSpec("recipe.json", R"({"setup": {}, "tasks": []})", "r", no_tasks);
  EXPECT_THAT(Only(no_tasks, "tasks"), HasSubstr("at least one task"));
}

TEST(RecipeTest, AnUnknownPluginIsNamedWhereTheRecipeUsesIt) {
  Diagnostics d;
  auto job = LoadRecipeSpec("jobs/stock/recipe.json", kRecipe, "stock", d);
  ASSERT_TRUE(job.has_value());
  const std::set<std::string> known = {"sqlite2sqlite"};
  JobValidationOptions options;
  options.hooks = ScheduleValidationHooks();
  options.known_plugins = &known;
  Diagnostics checked;
  ValidateJob(*job, options, checked);
  EXPECT_EQ(checked.ErrorCount(), 1) << checked.ToString();
  EXPECT_THAT(
      Only(checked, "recipe[1].name"),
      HasSubstr("jobs/stock/recipe.json:14:6: recipe[1].name: unknown task plugin \"mail\""));

  Diagnostics zone;
  auto bad = LoadRecipeSpec("recipe.json",
                            R"({"setup": {"timezone": "Mars/Olympus", "owner": "o",
                                "start_date": "2024-01-01"}, "tasks": [{"x": {}}]})",
                            "r", zone);
  ValidateJob(*bad, options, zone);
  EXPECT_THAT(Only(zone, "schedule.interval"), HasSubstr("recipe.json:1:12:"));
}

TEST(RecipeTest, TheYamlFormKeepsEveryStep) {
  Diagnostics d;
  auto job = LoadRecipeSpec("recipe.json", kRecipe, "stock", d);
  ASSERT_TRUE(job.has_value());
  const std::string yaml = WriteJobSpec(*job);
  EXPECT_THAT(yaml, HasSubstr("recipe:\n- name: sqlite2sqlite\n"));
  Diagnostics again;
  auto back = LoadJobSpec("stock/job.yaml", yaml, again);
  ASSERT_TRUE(back.has_value());
  EXPECT_FALSE(again.HasErrors()) << again.ToString() << yaml;
  EXPECT_THAT(StepNames(*back), ElementsAre("sqlite2sqlite_1", "mail_1", "sqlite2sqlite_2"));
  EXPECT_EQ(back->task.name, "sqlite2sqlite");
  EXPECT_EQ(back->task.window.size, "1d");
  EXPECT_EQ(back->recipe[1].config, job->recipe[1].config);
  EXPECT_EQ(back->schedule.interval, job->schedule.interval);

  Diagnostics both;
  LoadJobSpec("job.yaml", "task: {name: bq2bq}\nrecipe:\n- name: a\n", both);
  EXPECT_THAT(Only(both, "task"), HasSubstr("a recipe's first task is its task"));
}

void Write(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

TEST(RecipeTest, RecipesAreFoundBesideJobsAndInheritThisYaml) {
  testing::TempDir dir;
  const auto root = dir.path() / "jobs";
  Write(root / "this.yaml", "owner: team\nschedule: {start_date: '2024-02-01'}\n");
  Write(root / "etl/job.yaml", "version: 3\nname: etl\ntask: {name: bq2bq}\n");
  Write(root / "stock/recipe.json", R"({"setup": {"hour": [6]}, "tasks": [{"a": {}}, {"b": {}}]})");
  Write(root / "both/job.yaml", "version: 3\nname: both\ntask: {name: bq2bq}\n");
  Write(root / "both/recipe.json", R"({"setup": {}, "tasks": [{"a": {}}]})");
  Diagnostics d;
  auto jobs = ReadJobs(root, "ns", ReadOptions{dir.path()}, d);
  ASSERT_EQ(jobs.size(), 3u) << d.ToString();
  EXPECT_EQ(jobs[0].name, "both");
  EXPECT_TRUE(jobs[0].recipe.empty());
  EXPECT_THAT(Only(d, ""), HasSubstr("jobs/both/recipe.json: warning: ignored"));
  const JobSpec& stock = jobs[2];
  EXPECT_EQ(stock.name, "stock");
  EXPECT_EQ(stock.file, "jobs/stock/recipe.json");
  EXPECT_EQ(stock.owner, "team");
  EXPECT_EQ(stock.schedule.start_date, "2024-02-01");
  EXPECT_EQ(stock.schedule.interval, "0 6 * * *");
  EXPECT_THAT(StepNames(stock), ElementsAre("a_1", "b_1"));

  Diagnostics one;
  auto at = ReadJobAt(root / "stock", root, ReadOptions{dir.path()}, one);
  ASSERT_TRUE(at.has_value()) << one.ToString();
  EXPECT_EQ(at->name, "stock");
  EXPECT_EQ(at->owner, "team");
}

}  // namespace
}  // namespace optimus::spec
