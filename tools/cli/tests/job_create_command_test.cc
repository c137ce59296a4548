// `optimus job create` and `optimus job addhook`, on a project made by `optimus init` with a
// task plugin that has sub-questions, checks, defaults and default assets.
#include "job_create_command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "command_run.h"
#include "init_command.h"
#include "job_text.h"
#include "job_validate_command.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/project_reader.h"
#include "optimus/spec/schedule_hooks.h"
#include "optimus/testing/testing.h"

namespace optimus::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

using Ran = CommandRun;

template <typename Command>
Ran Call(Command command, const char* name, std::vector<std::string> args,
         const std::string& input = "", bool interactive = false) {
  return RunAsking(command, name, std::move(args), input, interactive);
}

std::string Slurp(const fs::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

constexpr char kTaskPlugin[] = R"(name: sqltask
description: runs a query into a table
plugintype: task
pluginversion: 1.0.0
image: example/sqltask:1.0.0
questions:
- name: PROJECT
  prompt: Project ID
  regexp: ^[a-z][a-z0-9-]+$
  validationerror: lower-case letters, digits and -
  required: true
- name: TABLE
  prompt: Table
  required: true
- name: LOAD_METHOD
  prompt: Load method
  default: APPEND
  multiselect: [APPEND, REPLACE, MERGE]
  subquestions:
  - ifvalue: REPLACE
    questions:
    - name: PARTITION_FILTER
      prompt: Partition filter
      minlength: 3
defaultconfig:
- name: SQL_TYPE
  value: STANDARD
defaultassets:
- name: query.sql
  value: select 1
)";

constexpr char kHookPlugin[] = R"(name: notifier
description: posts a message
plugintype: hook
hooktype: post
image: example/notifier:1.0.0
questions:
- name: CHANNEL
  prompt: Channel
  required: true
)";

class JobCreateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Ran init = Call(RunInitCommand, "init",
                    {"-d", Dir(), "-p", "sales", "-n", "marketing", "--datastore", "none"});
    ASSERT_EQ(init.code, 0) << init.err;
    fs::create_directories(dir_.path() / ".plugins");
    std::ofstream(dir_.File(".plugins/optimus-plugin-sqltask.yaml")) << kTaskPlugin;
    std::ofstream(dir_.File(".plugins/optimus-plugin-notifier.yaml")) << kHookPlugin;
  }

  std::string Dir() const { return dir_.path().string(); }

  Ran Create(std::vector<std::string> args, const std::string& input = "",
             bool interactive = false) {
    args.insert(args.begin(), {"-d", Dir()});
    return Call(RunJobCreateCommand, "create", std::move(args), input, interactive);
  }

  Ran AddHook(std::vector<std::string> args) {
    args.insert(args.begin(), {"-d", Dir()});
    return Call(RunJobAddHookCommand, "addhook", std::move(args));
  }

  // The project as `job validate` sees it: no errors, and the named job.
  spec::JobSpec ReadJob(const std::string& name) {
    spec::Diagnostics d;
    auto project = spec::ReadProject(dir_.path(), "optimus.yaml", d);
    EXPECT_TRUE(project.has_value()) << d.ToString();
    std::set<std::string> plugins = {"sqltask", "notifier"};
    spec::ValidateProject(*project, &plugins, spec::ScheduleValidationHooks(), d);
    EXPECT_FALSE(d.HasErrors()) << d.ToString();
    for (auto& job : project->jobs) {
      if (job.name == name) return job;
    }
    ADD_FAILURE() << "no job " << name;
    return {};
  }

  testing::TempDir dir_;
};

TEST_F(JobCreateTest, FromFlagsWritesAValidJobAndTheDefaultAssets) {
  Ran r = Create({"--no-input", "--name", "marketing.orders", "--owner", "data@example.com",
                  "--start-date", "2024-01-01", "--answer", "PROJECT=acme-data", "--answer",
                  "TABLE=orders", "--window-shift-by", "-1d"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("created job marketing.orders"));
  EXPECT_THAT(r.out, HasSubstr("assets/query.sql"));
  const spec::JobSpec job = ReadJob("marketing.orders");
  EXPECT_EQ(job.version, 3);
  EXPECT_EQ(job.owner, "data@example.com");
  EXPECT_EQ(job.task.name, "sqltask");  // the only task plugin is the default
  EXPECT_EQ(job.schedule.interval, "0 2 * * *");
  EXPECT_EQ(job.task.window.size, "1d");
  EXPECT_EQ(job.task.window.shift_by, "-1d");
  EXPECT_EQ(job.task.config.at("PROJECT"), "acme-data");
  EXPECT_EQ(job.task.config.at("LOAD_METHOD"), "APPEND");
  EXPECT_EQ(job.task.config.at("SQL_TYPE"), "STANDARD");
  EXPECT_EQ(job.task.config.count("PARTITION_FILTER"), 0u);
  EXPECT_EQ(job.assets.at("query.sql"), "select 1");
  EXPECT_EQ(job.labels.at("orchestrator"), "optimus");
}

TEST_F(JobCreateTest, InteractiveAsksSubQuestionsAndReasksBadAnswers) {
  // namespace (default), name, dir (default), owner, task (default), start date (default),
  // interval (bad, then default), spec version (default), window size (default), shift,
  // truncate, location, PROJECT (bad, then good), TABLE, LOAD_METHOD by number, then the
  // sub-question (too short, then good).
  const std::string input =
      "\nmarketing.daily\n\nme@example.com\n\n\n0 25 * * *\n\n\n\n-1d\n\n\n"
      "Bad_Project\nacme\norders\n2\nx\nevent_ts > '{{.DSTART}}'\n";
  Ran r = Create({}, input, true);
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_THAT(r.out, HasSubstr("hour 25"));
  EXPECT_THAT(r.out, HasSubstr("lower-case letters, digits and -"));
  EXPECT_THAT(r.out, HasSubstr("? Partition filter: "));
  const spec::JobSpec job = ReadJob("marketing.daily");
  EXPECT_EQ(job.task.config.at("LOAD_METHOD"), "REPLACE");
  EXPECT_EQ(job.task.config.at("PARTITION_FILTER"), "event_ts > '{{.DSTART}}'");
  EXPECT_EQ(job.task.window.truncate_to, "");
}

TEST_F(JobCreateTest, AnswersFileDrivesEverything) {
  std::ofstream(dir_.File("answers.yaml"))
      << "name: marketing.weekly\nowner: data@example.com\nspec_version: 1\n"
         "window_size: 168h\nwindow_offset: 0\nwindow_truncate_to: w\ninterval: \"@weekly\"\n"
         "PROJECT: acme\nTABLE: weekly\nLOAD_METHOD: MERGE\n";
  Ran r = Create({"--no-input", "--answers", dir_.File("answers.yaml")});
  ASSERT_EQ(r.code, 0) << r.err;
  const spec::JobSpec job = ReadJob("marketing.weekly");
  EXPECT_EQ(job.version, 1);
  EXPECT_EQ(job.task.window.truncate_to, "w");
  EXPECT_EQ(job.schedule.interval, "@weekly");
}

TEST_F(JobCreateTest, MissingAndBadAnswersAreListedAndNothingIsWritten) {
  Ran r = Create(
      {"--no-input", "--name", "marketing.x", "--answer", "PROJECT=Bad", "--answer", "TYPO=1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("owner: no answer given (Owner (team or e-mail))"));
  EXPECT_FALSE(fs::exists(dir_.path() / "marketing/jobs/marketing.x"));
  Ran bad = Create({"--no-input", "--name", "marketing.x", "--owner", "o", "--answer",
                    "PROJECT=Bad", "--answer", "TABLE=t"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_THAT(bad.err, HasSubstr("PROJECT: lower-case letters, digits and -"));
  EXPECT_FALSE(fs::exists(dir_.path() / "marketing/jobs/marketing.x/job.yaml"));
  Ran window = Create({"--no-input", "--name", "marketing.x", "--owner", "o", "--answer",
                       "PROJECT=ok", "--answer", "TABLE=t", "--window-size", "1x"});
  EXPECT_EQ(window.code, 1);
  EXPECT_THAT(window.err, HasSubstr("window: "));
  EXPECT_EQ(Create({"--bogus"}).code, 2);
}

TEST_F(JobCreateTest, AnExistingJobNameOrFolderIsRefused) {
  const std::vector<std::string> args = {"--no-input",   "--name",   "marketing.t",
                                         "--owner",      "o",        "--answer",
                                         "PROJECT=acme", "--answer", "TABLE=t"};
  ASSERT_EQ(Create(args).code, 0);
  Ran again = Create(args);
  EXPECT_EQ(again.code, 1);
  EXPECT_THAT(again.err, HasSubstr("name: a job named marketing.t exists"));
}

TEST_F(JobCreateTest, AddHookAppendsToTheHooksListAndKeepsComments) {
  ASSERT_EQ(Create({"--no-input", "--name", "marketing.t", "--owner", "o", "--answer",
                    "PROJECT=acme", "--answer", "TABLE=t"})
                .code,
            0);
  const fs::path file = dir_.path() / "marketing/jobs/marketing.t/job.yaml";
  std::ofstream(file, std::ios::app) << "# keep me\n";
  Ran r = AddHook({"marketing.t", "--no-input", "--hook", "notifier", "--answer", "CHANNEL=#data"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("added hook notifier to marketing.t"));
  EXPECT_THAT(Slurp(file), HasSubstr("# keep me\n"));
  spec::JobSpec job = ReadJob("marketing.t");
  ASSERT_EQ(job.hooks.size(), 1u);
  EXPECT_EQ(job.hooks[0].config.at("CHANNEL"), "#data");

  Ran twice = AddHook({"marketing.t", "--no-input", "--hook", "notifier", "--answer", "CHANNEL=x"});
  EXPECT_EQ(twice.code, 1);
  EXPECT_THAT(twice.err, HasSubstr("marketing.t has hook notifier"));
  Ran unknown = AddHook({"nope", "--no-input", "--hook", "notifier"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("job: no job named nope"));
  Ran task_as_hook = AddHook({"marketing.t", "--no-input", "--hook", "sqltask"});
  EXPECT_EQ(task_as_hook.code, 1);
  EXPECT_THAT(task_as_hook.err, HasSubstr("is not one of: notifier"));
}

TEST(JobTextTest, AppendsToBlockListsAtTheirIndentationOrCreatesTheList) {
  spec::Hook hook;
  hook.name = "h2";
  hook.config["K"] = "true";
  std::string error;
  auto indented = AppendHookText(
      "name: a\nhooks:\n  - name: h1\n    config:\n      A: b\n  # trailing comment\n"
      "labels:\n  x: y\n",
      hook, error);
  ASSERT_TRUE(indented.has_value()) << error;
  EXPECT_EQ(*indented,
            "name: a\nhooks:\n  - name: h1\n    config:\n      A: b\n  - name: h2\n"
            "    config:\n      K: \"true\"\n  # trailing comment\nlabels:\n  x: y\n");
  auto missing = AppendHookText("name: a", hook, error);
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(*missing, "name: a\nhooks:\n- name: h2\n  config:\n    K: \"true\"\n");
  auto empty = AppendHookText("hooks: []\nname: a\n", hook, error);
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(*empty, "hooks:\n- name: h2\n  config:\n    K: \"true\"\nname: a\n");
  EXPECT_FALSE(AppendHookText("hooks: [{name: h1}]\n", hook, error).has_value());
  EXPECT_THAT(error, HasSubstr("flow style"));
}

// The shipped plugins, as a new user meets them: bq2bq asks for its destination and writes a
// query.sql; a job that lost them fails `job validate`, which names what the plugin needs.
TEST(ShippedPluginsTest, Bq2bqAsksForItsDestinationAndValidateFlagsWhatItNeeds) {
  testing::TempDir dir;
  Ran init =
      Call(RunInitCommand, "init",
           {"-d", dir.path().string(), "-p", "sales", "-n", "marketing", "--datastore", "none"});
  ASSERT_EQ(init.code, 0) << init.err;
  fs::create_directories(dir.path() / ".plugins");
  for (const char* name : {"optimus-plugin-bq2bq.yaml", "optimus-plugin-predator.yaml"}) {
    fs::copy_file(fs::path(OPTIMUS_EXAMPLE_PLUGINS) / name, dir.path() / ".plugins" / name);
  }
  Ran missing = Call(RunJobCreateCommand, "create",
                     {"-d", dir.path().string(), "--no-input", "--name", "marketing.orders",
                      "--owner", "data@example.com", "--task", "bq2bq"});
  EXPECT_NE(missing.code, 0);
  EXPECT_THAT(missing.err, HasSubstr("PROJECT"));
  EXPECT_THAT(missing.err, HasSubstr("DATASET"));
  Ran r = Call(RunJobCreateCommand, "create",
               {"-d", dir.path().string(), "--no-input", "--name", "marketing.orders", "--owner",
                "data@example.com", "--task", "bq2bq", "--answer", "PROJECT=acme-data", "--answer",
                "DATASET=marts", "--answer", "TABLE=orders"});
  ASSERT_EQ(r.code, 0) << r.err;
  const fs::path job_dir = dir.path() / "marketing" / "jobs" / "orders";
  const fs::path found = fs::exists(job_dir) ? job_dir : dir.path();
  std::string yaml, sql;
  for (const auto& entry : fs::recursive_directory_iterator(found)) {
    if (entry.path().filename() == "job.yaml") yaml = Slurp(entry.path());
    if (entry.path().filename() == "query.sql") sql = Slurp(entry.path());
  }
  EXPECT_THAT(yaml, HasSubstr("PROJECT: acme-data"));
  EXPECT_THAT(yaml, HasSubstr("LOAD_METHOD: APPEND"));
  EXPECT_THAT(sql, HasSubstr("{{.DSTART}}"));

  // Validation with the plugins: clean; then without TABLE and without query.sql, flagged.
  auto validate = [&] {
    return RunCommand(RunJobValidateCommand, "validate", {"--dir", dir.path().string()});
  };
  Ran clean = validate();
  EXPECT_EQ(clean.code, 0) << clean.out << clean.err;
  for (const auto& entry : fs::recursive_directory_iterator(dir.path())) {
    if (entry.path().filename() == "job.yaml") {
      std::string text = Slurp(entry.path());
      text.erase(text.find("    TABLE: orders\n"), std::string("    TABLE: orders\n").size());
      std::ofstream(entry.path()) << text;
    }
  }
  for (const auto& entry : fs::recursive_directory_iterator(dir.path())) {
    if (entry.path().filename() == "query.sql") {
      fs::remove(entry.path());
      break;
    }
  }
  Ran flagged = validate();
  EXPECT_NE(flagged.code, 0);
  EXPECT_THAT(flagged.out + flagged.err,
              HasSubstr("missing TABLE: task plugin \"bq2bq\" forms the job's destination "
                        "bigquery://<PROJECT>:<DATASET>.<TABLE> from it"));
  EXPECT_THAT(flagged.out + flagged.err,
              HasSubstr("missing asset query.sql: task plugin \"bq2bq\"'s bq parser reads the "
                        "job's query from it"));
}

}  // namespace
}  // namespace optimus::cli
