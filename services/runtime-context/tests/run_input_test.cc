// The run input a task or hook gets: window values for each window version and time zone,
// config with project values and secrets split apart, TASK__ for hooks, assets rendered,
// JOB_LABELS, and clear errors.
#include "optimus/runtime_context/run_input.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "optimus/spec/loaders.h"

namespace optimus::runtime_context {
namespace {

using ::testing::HasSubstr;

absl::Time At(const std::string& rfc3339) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) << err;
  return t;
}

class RunInputTest : public ::testing::Test {
 protected:
  // Loads `yaml` as the job and compiles its run input.
  absl::StatusOr<RunInput> Compile(const std::string& yaml, const std::string& scheduled_at,
                                   InstanceType type = InstanceType::kTask,
                                   const std::string& instance = "bq2bq") {
    spec::Diagnostics d;
    auto job = spec::LoadJobSpec("job.yaml", yaml, d);
    EXPECT_TRUE(job.has_value()) << d.ToString();
    job_ = *job;
    JobContext context;
    context.job = &job_;
    context.project = "acme";
    context.namespace_name = "finance";
    context.assets = &assets_;
    context.project_record = &project_;
    context.destination = "bigquery://acme:fin.revenue";
    context.secrets = &secrets_;
    RunInputRequest request;
    request.scheduled_at = At(scheduled_at);
    request.instance_type = type;
    request.instance_name = instance;
    request.executed_at = executed_at_;
    return CompileRunInput(context, request);
  }

  void SetUp() override {
    project_.set_name("acme");
    (*project_.mutable_config())["STORAGE_PATH"] = "file:///dags";
    (*project_.mutable_config())["EXECUTION_PROJECT"] = "acme-exec";
    (*project_.mutable_variables())["BUCKET"] = "project-bucket";
    auto* ns = project_.add_namespaces();
    ns->set_name("finance");
    (*ns->mutable_variables())["BUCKET"] = "finance-bucket";  // the namespace wins
    secrets_["BQ_SERVICE_ACCOUNT"] = "{\"key\": \"it's secret\"}";
  }

  spec::JobSpec job_;
  std::map<std::string, std::string> assets_;
  events::v1::ProjectRecord project_;
  std::map<std::string, std::string> secrets_;
  std::optional<absl::Time> executed_at_;
};

constexpr char kV3[] = R"(version: 3
name: revenue
owner: fin@acme.com
labels:
  Team: Finance Analytics
schedule:
  start_date: "2024-01-01"
  interval: "0 2 * * *"
task:
  name: bq2bq
  config:
    PROJECT: acme
    TABLE: revenue
    EXECUTION_PROJECT: "{{.GLOBAL__EXECUTION_PROJECT}}"
    BUCKET: "{{.proj.BUCKET}}"
    BQ_SERVICE_ACCOUNT: "{{.secret.BQ_SERVICE_ACCOUNT}}"
    DAY: "{{.DSTART | Date}}"
  window:
    size: 1d
hooks:
  - name: transporter
    config:
      SOURCE_TABLE: "{{.TASK__PROJECT}}.{{.task.TABLE}}"
      WHEN: "{{.inst.SCHEDULE_DATE}}"
)";

TEST_F(RunInputTest, VersionThreeTaskGetsWindowConfigSecretsAndFiles) {
  assets_["query.sql"] = "select * from t where d >= '{{.DSTART}}' and d < '{{.DEND}}'";
  auto in = Compile(kV3, "2023-03-07T02:00:00Z");
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->envs.at("DSTART"), "2023-03-06T00:00:00Z");
  EXPECT_EQ(in->envs.at("DEND"), "2023-03-07T00:00:00Z");
  EXPECT_EQ(in->envs.at("START_DATE"), "2023-03-06");
  EXPECT_EQ(in->envs.at("END_DATE"), "2023-03-07");
  EXPECT_EQ(in->envs.at("SCHEDULE_TIME"), "2023-03-07T02:00:00Z");
  EXPECT_EQ(in->envs.at("SCHEDULE_DATE"), "2023-03-07");
  EXPECT_EQ(in->envs.at("EXECUTION_TIME"), "2023-03-07 02:00:00");
  EXPECT_EQ(in->envs.at("JOB_DESTINATION"), "bigquery://acme:fin.revenue");
  EXPECT_EQ(in->envs.at("EXECUTION_PROJECT"), "acme-exec");
  EXPECT_EQ(in->envs.at("BUCKET"), "finance-bucket");
  EXPECT_EQ(in->envs.at("DAY"), "2023-03-06");
  // The secret is never in envs, only in secrets.
  EXPECT_EQ(in->envs.count("BQ_SERVICE_ACCOUNT"), 0u);
  EXPECT_EQ(in->secrets.at("BQ_SERVICE_ACCOUNT"), "{\"key\": \"it's secret\"}");
  EXPECT_EQ(in->files.at("query.sql"),
            "select * from t where d >= '2023-03-06T00:00:00Z' and d < '2023-03-07T00:00:00Z'");
  EXPECT_EQ(in->envs.at("JOB_LABELS"), "project=acme,namespace=finance,job_name=revenue,job_id=" +
                                           JobId("acme", "revenue") + ",team=finance-analytics");
}

TEST_F(RunInputTest, AHookSeesTheCompiledTaskConfig) {
  auto in = Compile(kV3, "2023-03-07T02:00:00Z", InstanceType::kHook, "transporter");
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->envs.at("SOURCE_TABLE"), "acme.revenue");
  EXPECT_EQ(in->envs.at("WHEN"), "2023-03-07");
  EXPECT_EQ(in->envs.at("DSTART"), "2023-03-06T00:00:00Z");
  EXPECT_EQ(in->envs.count("TABLE"), 0u);  // the task's config is not the hook's
  EXPECT_EQ(in->envs.count("JOB_LABELS"), 0u);
  auto unknown = Compile(kV3, "2023-03-07T02:00:00Z", InstanceType::kHook, "predator");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(unknown.status().message(),
            "job revenue has no hook \"predator\" (its hooks: transporter)");
}

TEST_F(RunInputTest, TheWindowIsInItsTimeZone) {
  // Reference §4.3: size 1d, shift_by -1d, truncate_to h, Asia/Jakarta.
  std::string yaml = kV3;
  yaml.replace(yaml.find("    size: 1d\n"), 13,
               "    size: 1d\n    shift_by: -1d\n    truncate_to: h\n    location: Asia/Jakarta\n");
  auto in = Compile(yaml, "2023-12-01T03:00:00Z");
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->envs.at("DSTART"), "2023-11-29T10:00:00+07:00");
  EXPECT_EQ(in->envs.at("DEND"), "2023-11-30T10:00:00+07:00");
  EXPECT_EQ(in->envs.at("START_DATE"), "2023-11-29");
  EXPECT_EQ(in->envs.at("SCHEDULE_TIME"), "2023-12-01T03:00:00Z");
}

TEST_F(RunInputTest, VersionsOneAndTwoUseTheirWindowsAndTheRunsStart) {
  const std::string v1 = R"(version: 1
name: legacy
owner: o@acme.com
schedule:
  start_date: "2024-01-01"
  interval: "0 2 * * *"
task:
  name: bq2bq
  config:
    PROJECT: acme
  window:
    size: 168h
    truncate_to: w
)";
  executed_at_ = At("2023-03-08T02:03:04Z");
  auto in = Compile(v1, "2023-03-08T02:00:00Z");  // a Wednesday
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->envs.at("DSTART"), "2023-03-05T00:00:00Z");
  EXPECT_EQ(in->envs.at("DEND"), "2023-03-12T00:00:00Z");
  EXPECT_EQ(in->envs.at("EXECUTION_TIME"), "2023-03-08 02:03:04");
  EXPECT_EQ(in->envs.count("START_DATE"), 0u);  // version 3 only

  std::string v2 = v1;
  v2.replace(v2.find("version: 1"), 10, "version: 2");
  v2.replace(v2.find("    size: 168h\n    truncate_to: w\n"), 34,
             "    size: 1M\n    offset: -1M\n    truncate_to: M\n");
  executed_at_.reset();
  in = Compile(v2, "2023-03-07T02:00:00Z");
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->envs.at("DSTART"), "2023-01-01T00:00:00Z");
  EXPECT_EQ(in->envs.at("DEND"), "2023-02-01T00:00:00Z");
  EXPECT_EQ(in->envs.at("EXECUTION_TIME"), "2023-03-07 02:00:00");
}

TEST_F(RunInputTest, ReplacingBq2bqOverSeveralDaysRendersTheQueryPerDay) {
  std::string yaml = kV3;
  yaml.replace(yaml.find("    size: 1d\n"), 13, "    size: 3d\n");
  yaml.replace(yaml.find("    PROJECT: acme\n"), 18,
               "    PROJECT: acme\n    LOAD_METHOD: REPLACE\n");
  assets_["query.sql"] = "select '{{.DSTART}}'";
  auto in = Compile(yaml, "2023-03-07T02:00:00Z");
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->files.at("query.sql"),
            "select '2023-03-04T00:00:00Z'\n--*--optimus-break-marker--*--\n"
            "select '2023-03-05T00:00:00Z'\n--*--optimus-break-marker--*--\n"
            "select '2023-03-06T00:00:00Z'");
}

// Work per request is bounded: a window longer than ten years is refused before anything is
// rendered, and rendering stops once the run input would outgrow what an answer may hold.
TEST_F(RunInputTest, RunInputWorkAndSizeAreBounded) {
  std::string yaml = kV3;
  yaml.replace(yaml.find("    size: 1d\n"), 13, "    size: 99999999h\n");
  yaml.replace(yaml.find("    PROJECT: acme\n"), 18,
               "    PROJECT: acme\n    LOAD_METHOD: REPLACE\n");
  assets_["query.sql"] = "select '{{.DSTART}}'";
  auto in = Compile(yaml, "2023-03-07T02:00:00Z");
  EXPECT_EQ(in.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(in.status().message()), HasSubstr("at most 3660 days"));

  yaml.replace(yaml.find("    size: 99999999h\n"), 20, "    size: 3000d\n");
  assets_["query.sql"] = "select '{{.DSTART}}' -- " + std::string(4000, 'x');
  in = Compile(yaml, "2023-03-07T02:00:00Z");
  EXPECT_EQ(in.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(in.status().message()),
              HasSubstr("once per day of its window); a run input holds at most 4032 KiB"));
}

TEST_F(RunInputTest, ErrorsNameTheKeyOrFile) {
  std::string yaml = kV3;
  yaml.replace(yaml.find("    TABLE: revenue\n"), 19, "    TABLE: \"{{.DSTART | nope}}\"\n");
  auto in = Compile(yaml, "2023-03-07T02:00:00Z");
  EXPECT_EQ(in.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(in.status().message()), HasSubstr("task config TABLE does not compile"));
  assets_["query.sql"] = "select {{ .x } }";
  in = Compile(kV3, "2023-03-07T02:00:00Z");
  EXPECT_THAT(std::string(in.status().message()), HasSubstr("unable to parse asset query.sql"));
}

TEST_F(RunInputTest, LabelsAreCleanedAndAJobIdIsStable) {
  EXPECT_EQ(JobId("acme", "revenue"), JobId("acme", "revenue"));
  EXPECT_NE(JobId("acme", "revenue"), JobId("acme", "revenue2"));
  EXPECT_EQ(JobId("acme", "revenue").size(), 36u);
  std::string yaml = kV3;
  yaml.replace(yaml.find("  Team: Finance Analytics\n"), 26,
               "  Team: Finance Analytics\n  long: " + std::string(70, 'x') + "y\n");
  auto in = Compile(yaml, "2023-03-07T02:00:00Z");
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_THAT(in->envs.at("JOB_LABELS"), HasSubstr(",long=__" + std::string(60, 'x') + "y"));
}

TEST_F(RunInputTest, EachTaskOfARecipeGetsItsOwnConfig) {
  constexpr char kRecipe[] = R"(version: 3
name: stock
owner: o
schedule:
  start_date: "2024-01-01"
  interval: "0 6 * * *"
task:
  window:
    size: 1d
recipe:
- name: sqlite2sqlite
  config:
    TABLE: levels
    SINCE: "{{.DSTART}}"
- name: mail
  config:
    TO: "{{.GLOBAL__BUCKET}}@example.com"
    KEY: "{{.secret.BQ_SERVICE_ACCOUNT}}"
- name: sqlite2sqlite
  config:
    TABLE: report
)";
  auto first = Compile(kRecipe, "2024-03-02T06:00:00Z", InstanceType::kTask, "sqlite2sqlite_1");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->envs.at("TABLE"), "levels");
  EXPECT_EQ(first->envs.at("SINCE"), "2024-03-01T00:00:00Z");
  auto mail = Compile(kRecipe, "2024-03-02T06:00:00Z", InstanceType::kTask, "mail_1");
  ASSERT_TRUE(mail.ok()) << mail.status();
  EXPECT_EQ(mail->envs.at("TO"), "finance-bucket@example.com");
  EXPECT_EQ(mail->envs.count("TABLE"), 0u) << "one task's config is not another's";
  EXPECT_EQ(mail->secrets.count("KEY"), 1u);
  EXPECT_EQ(mail->envs.at("DSTART"), "2024-03-01T00:00:00Z");
  auto last = Compile(kRecipe, "2024-03-02T06:00:00Z", InstanceType::kTask, "sqlite2sqlite_2");
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->envs.at("TABLE"), "report");
  auto unknown = Compile(kRecipe, "2024-03-02T06:00:00Z", InstanceType::kTask, "sqlite2sqlite");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.status().message(),
              HasSubstr("its tasks: sqlite2sqlite_1, mail_1, sqlite2sqlite_2"));
}

}  // namespace
}  // namespace optimus::runtime_context
