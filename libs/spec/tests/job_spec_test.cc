// Tests of the job.yaml loader and validator: versions 1-3, every field, and broken inputs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "optimus/spec/loaders.h"
#include "optimus/spec/validate.h"
#include "test_util.h"

namespace optimus::spec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using testutil::Only;
using testutil::ReadTestData;

const std::set<std::string> kPlugins = {"bq2bq", "predator"};

// Stands in for libs/schedule: v3 sizes must be a number and one unit.
JobValidationOptions FakeOptions() {
  JobValidationOptions options;
  options.known_plugins = &kPlugins;
  options.hooks.check_cron = [](std::string_view cron) -> std::string {
    return cron == "every tuesday" ? "invalid cron \"every tuesday\" (want 5 fields)" : "";
  };
  options.hooks.check_window = [](const Window& w) -> std::string {
    static const std::regex kSize("-?[0-9]+[hdwMy]");
    if (w.version >= 3 && !w.size.empty() && !std::regex_match(w.size, kSize)) {
      return "size: invalid size \"" + w.size + "\" (want a number followed by h, d, w, M or y)";
    }
    return "";
  };
  return options;
}

JobSpec MustLoad(const std::string& path, const std::string& content, Diagnostics& d) {
  auto job = LoadJobSpec(path, content, d);
  EXPECT_TRUE(job.has_value()) << d.ToString();
  return job.value_or(JobSpec{});
}

TEST(JobSpecTest, LoadsVersion1WithListConfigAndLegacyWindow) {
  Diagnostics d;
  JobSpec job = MustLoad("jobs/v1_job.yaml", ReadTestData("jobs/v1_job.yaml"), d);
  ValidateJob(job, FakeOptions(), d);
  EXPECT_TRUE(d.empty()) << d.ToString();
  EXPECT_EQ(job.version, 1);
  EXPECT_EQ(job.name, "legacy_job_v1");
  EXPECT_EQ(job.schedule.end_date, "2021-12-31");
  EXPECT_EQ(job.schedule.interval, "@daily");
  EXPECT_EQ(job.behavior.depends_on_past, std::optional<bool>(false));
  EXPECT_EQ(job.behavior.catch_up, std::optional<bool>(true));
  EXPECT_THAT(job.task.config, ElementsAre(Pair("PROJECT", "legacy-project"), Pair("TABLE", "t1")));
  EXPECT_EQ(job.task.window.size, "24h");
  EXPECT_EQ(job.task.window.offset, "0");
  EXPECT_EQ(job.task.window.truncate_to, "d");
  EXPECT_EQ(job.task.window.version, 1);
  ASSERT_EQ(job.dependencies.size(), 1u);
  EXPECT_EQ(job.dependencies[0].name, "upstream_job");
  EXPECT_EQ(job.dependencies[0].project, "");
  EXPECT_EQ(job.dependencies[0].type, "intra");
}

TEST(JobSpecTest, LoadsVersion2WithRetryAndWebhook) {
  Diagnostics d;
  JobSpec job = MustLoad("jobs/v2_job.yaml", ReadTestData("jobs/v2_job.yaml"), d);
  ValidateJob(job, FakeOptions(), d);
  EXPECT_TRUE(d.empty()) << d.ToString();
  EXPECT_EQ(job.version, 2);
  EXPECT_EQ(job.behavior.retry.count, std::optional<int>(3));
  EXPECT_EQ(job.behavior.retry.delay, "2m");
  EXPECT_EQ(job.behavior.retry.exponential_backoff, std::optional<bool>(true));
  ASSERT_EQ(job.behavior.webhook.size(), 1u);
  EXPECT_EQ(job.behavior.webhook[0].on, "failure");
  ASSERT_EQ(job.behavior.webhook[0].endpoints.size(), 1u);
  EXPECT_EQ(job.behavior.webhook[0].endpoints[0].url, "https://hooks.example.com/fail");
  EXPECT_EQ(job.behavior.webhook[0].endpoints[0].headers.at("Authorization"),
            "Bearer {{.secret.HOOK_TOKEN}}");
  EXPECT_EQ(job.task.window.offset, "-1M24h");
}

TEST(JobSpecTest, LoadsVersion3WithAlertsHooksAndMetadata) {
  Diagnostics d;
  JobSpec job = MustLoad("jobs/v3_job.yaml", ReadTestData("jobs/v3_job.yaml"), d);
  ValidateJob(job, FakeOptions(), d);
  EXPECT_TRUE(d.empty()) << d.ToString();
  EXPECT_EQ(job.task.version, "3.6");
  EXPECT_EQ(job.task.window.shift_by, "1h");
  EXPECT_EQ(job.task.window.location, "UTC");
  const Alert& a = job.task.alert;
  ASSERT_EQ(a.sla_miss.size(), 2u);
  EXPECT_EQ(a.sla_miss[0].duration_threshold, "1h30m");
  EXPECT_EQ(a.sla_miss[0].severity, "CRITICAL");
  EXPECT_EQ(a.sla_miss[1].auto_threshold, std::optional<bool>(true));
  ASSERT_EQ(a.retry.size(), 1u);
  EXPECT_EQ(a.retry[0].count_threshold, 2);
  EXPECT_EQ(a.success_severity, "INFO");
  EXPECT_EQ(a.failure_severity, "CRITICAL");
  EXPECT_EQ(a.team, "data");
  EXPECT_EQ(a.disable_anomaly_detection, std::optional<bool>(true));
  ASSERT_EQ(job.hooks.size(), 1u);
  EXPECT_EQ(job.hooks[0].version, "1.0");
  EXPECT_EQ(job.hooks[0].alert.failure_severity, "WARNING");
  EXPECT_EQ(job.metadata.kubernetes_service_account, "runner");
  EXPECT_THAT(job.labels, ElementsAre(Pair("orchestrator", "optimus"), Pair("tier", "1")));
}

TEST(JobSpecTest, RealisticExampleLoadsEveryField) {
  Diagnostics d;
  const std::string path = "ns1/jobs/daily_orders/job.yaml";
  JobSpec job = MustLoad(path, ReadTestData("realistic/" + path), d);
  EXPECT_TRUE(d.empty()) << d.ToString();
  EXPECT_EQ(job.name, "sample-project.mart.daily_orders");
  EXPECT_EQ(job.owner, "payments@example.com");
  EXPECT_EQ(job.description, "daily order aggregates");
  EXPECT_EQ(job.schedule.start_date, "2024-01-01");
  EXPECT_EQ(job.schedule.interval, "0 3 * * *");
  ASSERT_EQ(job.behavior.notify.size(), 1u);
  EXPECT_EQ(job.behavior.notify[0].on, "sla_miss");
  EXPECT_EQ(job.behavior.notify[0].config.at("duration"), "2h");
  EXPECT_THAT(job.behavior.notify[0].channels, ElementsAre("pagerduty://#payments_oncall"));
  EXPECT_EQ(job.task.config.size(), 6u);
  EXPECT_EQ(job.task.config.at("PARTITION_FILTER"),
            "event_ts >= \"{{.DSTART}}\" AND event_ts < \"{{.DEND}}\"");
  EXPECT_EQ(job.task.window.location, "Asia/Jakarta");
  ASSERT_EQ(job.hooks.size(), 1u);
  EXPECT_EQ(job.hooks[0].config.at("FILTER"), "__PARTITION__ >= date(\"{{ .DSTART | Date }}\")");
  ASSERT_EQ(job.dependencies.size(), 3u);
  EXPECT_EQ(job.dependencies[1].project, "other-project");
  EXPECT_EQ(job.dependencies[1].name, "other-project.dim.customers");
  ASSERT_TRUE(job.dependencies[2].http.has_value());
  EXPECT_EQ(job.dependencies[2].http->name, "vendor_ready");
  EXPECT_EQ(job.dependencies[2].http->params.at("date"), "{{ ds }}");
  EXPECT_EQ(job.metadata.request.cpu, "250m");
  EXPECT_EQ(job.metadata.limit.memory, "1Gi");
  EXPECT_EQ(job.metadata.airflow_pool, "payments_pool");
  EXPECT_EQ(job.metadata.airflow_queue, "default");
  // Locations are 1-based: `size` of the window sits on line 24, column 12.
  const Location at = job.LocationOf("task.window.size");
  EXPECT_EQ(at.file, path);
  EXPECT_EQ(at.line, 24);
  EXPECT_EQ(at.column, 18);
  ValidateJob(job, FakeOptions(), d);
  EXPECT_TRUE(d.empty()) << d.ToString();
}

TEST(JobSpecTest, MalformedYamlReportsLineAndColumn) {
  Diagnostics d;
  auto job = LoadJobSpec("jobs/ns1/bad/job.yaml", "version: 3\nname: x\ntask: {name: bq2bq\n", d);
  EXPECT_FALSE(job.has_value());
  ASSERT_EQ(d.items().size(), 1u);
  EXPECT_EQ(d.items()[0].ToString(),
            "jobs/ns1/bad/job.yaml:4:1: malformed YAML: did not find expected ',' or '}' (while "
            "parsing a flow mapping at line 3, column 7)");
}

TEST(JobSpecTest, DocumentThatIsNotAMapIsRejected) {
  Diagnostics d;
  EXPECT_FALSE(LoadJobSpec("j/job.yaml", "- a\n- b\n", d).has_value());
  EXPECT_EQ(d.items().at(0).ToString(),
            "j/job.yaml:1:1: the document must be a map of fields, got a list");
}

TEST(JobSpecTest, WrongTypesAreReportedAndLoadingContinues) {
  Diagnostics d;
  const std::string yaml =
      "version: three\n"
      "name: [a]\n"
      "behavior:\n"
      "  depends_on_past: maybe\n"
      "  retry: {count: many}\n"
      "task:\n"
      "  name: bq2bq\n"
      "  config: {A: {nested: 1}}\n"
      "labels: [x]\n";
  JobSpec job = MustLoad("j/job.yaml", yaml, d);
  EXPECT_EQ(Only(d, "version"),
            "j/job.yaml:1:10: version: want an integer, got a scalar \"three\"");
  EXPECT_EQ(Only(d, "name"), "j/job.yaml:2:7: name: want a string, got a list");
  EXPECT_EQ(
      Only(d, "behavior.depends_on_past"),
      "j/job.yaml:4:20: behavior.depends_on_past: want true or false, got a scalar \"maybe\"");
  EXPECT_EQ(Only(d, "behavior.retry.count"),
            "j/job.yaml:5:18: behavior.retry.count: want an integer, got a scalar \"many\"");
  EXPECT_EQ(Only(d, "task.config.A"), "j/job.yaml:8:15: task.config.A: want a string, got a map");
  EXPECT_EQ(Only(d, "labels"), "j/job.yaml:9:9: labels: want a map, got a list");
  EXPECT_EQ(d.ErrorCount(), 6);
  EXPECT_EQ(job.task.name, "bq2bq");  // good fields still load
}

TEST(JobSpecTest, UnknownFieldIsAWarning) {
  Diagnostics d;
  MustLoad("j/job.yaml", "version: 3\nshedule: {interval: '@daily'}\n", d);
  EXPECT_EQ(d.ErrorCount(), 0);
  EXPECT_EQ(Only(d, "shedule"),
            "j/job.yaml:2:1: shedule: warning: unknown field, ignored (check the spelling)");
}

TEST(JobSpecTest, DuplicateKeysAreErrors) {
  Diagnostics d;
  JobSpec job =
      MustLoad("j/job.yaml", "version: 3\nname: first\nname: second\nlabels: {a: x, a: y}\n", d);
  EXPECT_EQ(job.name, "first");
  EXPECT_EQ(d.ToString(),
            "j/job.yaml:3:1: name: duplicate key (remove one of them)\n"
            "j/job.yaml:4:16: labels.a: duplicate key (remove one of them)\n");
}

TEST(JobSpecTest, MissingRequiredFieldsAreAllReported) {
  Diagnostics d;
  JobSpec job = MustLoad("j/job.yaml", "version: 3\ntask: {config: {A: b}}\n", d);
  ValidateJob(job, FakeOptions(), d);
  EXPECT_EQ(Only(d, "name"),
            "j/job.yaml:1:1: name: missing required field (the job name, unique in the project)");
  EXPECT_EQ(Only(d, "owner"),
            "j/job.yaml:1:1: owner: missing required field (the team or e-mail "
            "responsible for the job)");
  EXPECT_EQ(Only(d, "schedule.start_date"),
            "j/job.yaml:1:1: schedule.start_date: missing required field (YYYY-MM-DD)");
  EXPECT_EQ(Only(d, "task.name"),
            "j/job.yaml:2:7: task.name: missing required field (the task plugin, e.g. bq2bq)");
  EXPECT_EQ(d.ErrorCount(), 4);
}

const char kValidHead[] =
    "version: 3\n"
    "name: j\n"
    "owner: o\n"
    "schedule: {start_date: '2024-01-01', interval: '@daily'}\n";

TEST(JobSpecTest, UnknownTaskAndHookPluginNamesTheKnownOnes) {
  Diagnostics d;
  JobSpec job = MustLoad(
      "j/job.yaml", std::string(kValidHead) + "task: {name: bq3bq}\nhooks:\n- name: nope\n", d);
  ValidateJob(job, FakeOptions(), d);
  EXPECT_EQ(Only(d, "task.name"),
            "j/job.yaml:5:14: task.name: unknown task plugin \"bq3bq\" (known: bq2bq, predator)");
  EXPECT_EQ(Only(d, "hooks[0].name"),
            "j/job.yaml:7:9: hooks[0].name: unknown hook plugin \"nope\" (known: bq2bq, predator)");
}

TEST(JobSpecTest, InvalidWindowFromHookPointsAtTheField) {
  Diagnostics d;
  const std::string yaml = std::string(kValidHead) +
                           "task:\n"
                           "  name: bq2bq\n"
                           "  window:\n"
                           "    truncate_to: d\n"
                           "    size: 1x\n";
  JobSpec job = MustLoad("jobs/ns1/job-a/job.yaml", yaml, d);
  ValidateJob(job, FakeOptions(), d);
  ASSERT_EQ(d.items().size(), 1u) << d.ToString();
  EXPECT_EQ(d.items()[0].ToString(),
            "jobs/ns1/job-a/job.yaml:9:11: task.window.size: invalid size \"1x\" (want a number "
            "followed by h, d, w, M or y)");
}

TEST(JobSpecTest, InvalidCronFromHook) {
  Diagnostics d;
  JobSpec job = MustLoad("j/job.yaml",
                         "version: 3\nname: j\nowner: o\nschedule:\n  start_date: '2024-01-01'\n"
                         "  interval: every tuesday\ntask: {name: bq2bq}\n",
                         d);
  ValidateJob(job, FakeOptions(), d);
  EXPECT_EQ(d.ToString(),
            "j/job.yaml:6:13: schedule.interval: invalid cron \"every tuesday\" (want 5 fields)\n");
}

TEST(JobSpecTest, EmptyHooksSkipCronAndWindowChecks) {
  Diagnostics d;
  JobSpec job = MustLoad("j/job.yaml",
                         "version: 3\nname: j\nowner: o\nschedule: {start_date: '2024-01-01', "
                         "interval: every tuesday}\ntask: {name: x, window: {size: 1x}}\n",
                         d);
  ValidateJob(job, JobValidationOptions{}, d);
  EXPECT_TRUE(d.empty()) << d.ToString();
}

TEST(JobSpecTest, BadLabelsAreReported) {
  Diagnostics d;
  JobSpec job = MustLoad("j/job.yaml",
                         std::string(kValidHead) +
                             "task: {name: bq2bq}\n"
                             "labels:\n"
                             "  Team: a\n"
                             "  ok: -bad\n"
                             "  long: " +
                             std::string(64, 'a') + "\n",
                         d);
  ValidateJob(job, FakeOptions(), d);
  EXPECT_EQ(Only(d, "labels.Team"),
            "j/job.yaml:7:3: labels.Team: label key \"Team\" may only hold lower-case letters, "
            "digits, '-' and '_'");
  EXPECT_EQ(Only(d, "labels.ok"),
            "j/job.yaml:8:3: labels.ok: label value \"-bad\" must start and end with a lower-case "
            "letter or a digit");
  EXPECT_THAT(Only(d, "labels.long"), HasSubstr("is 64 characters long (at most 63)"));
}

TEST(JobSpecTest, TooManyLabels) {
  Diagnostics d;
  std::string yaml = std::string(kValidHead) + "task: {name: bq2bq}\nlabels:\n";
  for (int i = 0; i < 33; ++i) yaml += "  k" + std::to_string(i) + ": v\n";
  JobSpec job = MustLoad("j/job.yaml", yaml, d);
  ValidateJob(job, FakeOptions(), d);
  EXPECT_EQ(Only(d, "labels"), "j/job.yaml:7:3: labels: has 33 labels (at most 32)");
}

TEST(JobSpecTest, CheckLabelRules) {
  EXPECT_EQ(CheckLabel("team", "payments_v2"), "");
  EXPECT_EQ(CheckLabel("a-b_c", "0"), "");
  EXPECT_EQ(CheckLabel("", "x"), "label key is empty");
  EXPECT_EQ(CheckLabel("x", ""), "label value is empty");
  EXPECT_THAT(CheckLabel("x", "a.b"), HasSubstr("may only hold"));
  EXPECT_THAT(CheckLabel("x_", "a"), HasSubstr("must start and end"));
  EXPECT_EQ(CheckLabel(std::string(63, 'k'), std::string(63, 'v')), "");
}

TEST(JobSpecTest, BehaviorValuesAreChecked) {
  Diagnostics d;
  JobSpec job = MustLoad("j/job.yaml",
                         std::string(kValidHead) +
                             "task: {name: bq2bq}\n"
                             "behavior:\n"
                             "  retry: {count: -1, delay: 5 minutes}\n"
                             "  notify:\n"
                             "  - on: sla_miss\n"
                             "    channels: ['slack:#x']\n"
                             "    severity: loud\n"
                             "  - on: finish\n"
                             "    channels: ['slack://@team']\n"
                             "  webhook:\n"
                             "  - on: success\n"
                             "    endpoints: [{url: 'ftp://x'}]\n",
                         d);
  ValidateJob(job, FakeOptions(), d);
  EXPECT_EQ(Only(d, "behavior.retry.count"),
            "j/job.yaml:7:18: behavior.retry.count: must not be negative");
  EXPECT_EQ(Only(d, "behavior.retry.delay"),
            "j/job.yaml:7:29: behavior.retry.delay: invalid duration \"5 minutes\" (want a Go "
            "duration like 5s or 2m)");
  EXPECT_EQ(Only(d, "behavior.notify[0].channels[0]"),
            "j/job.yaml:10:16: behavior.notify[0].channels[0]: invalid channel \"slack:#x\" (want "
            "slack://#channel, slack://@group or pagerduty://#service)");
  EXPECT_THAT(Only(d, "behavior.notify[0].severity"), HasSubstr("invalid severity \"loud\""));
  EXPECT_THAT(Only(d, "behavior.notify[0].config.duration"),
              HasSubstr("missing required field for sla_miss"));
  EXPECT_THAT(Only(d, "behavior.notify[1].on"), HasSubstr("unknown event \"finish\""));
  EXPECT_EQ(Only(d, "behavior.webhook[0].on"),
            "j/job.yaml:15:9: behavior.webhook[0].on: unknown event \"success\" (did you mean "
            "job_success?)");
  EXPECT_THAT(Only(d, "behavior.webhook[0].endpoints[0].url"),
              HasSubstr("invalid url \"ftp://x\""));
  EXPECT_EQ(d.ErrorCount(), 8);
}

TEST(JobSpecTest, DatesVersionDependenciesAndMetadataAreChecked) {
  Diagnostics d;
  JobSpec job = MustLoad("j/job.yaml",
                         "version: 4\n"
                         "name: j\n"
                         "owner: o\n"
                         "schedule: {start_date: '2024-02-30', end_date: 2023-01-01}\n"
                         "task: {name: bq2bq}\n"
                         "dependencies:\n"
                         "- job: a/b/c\n"
                         "- {}\n"
                         "- http: {name: h, url: nope}\n"
                         "- job: j\n"
                         "metadata: {resource: {limit: {cpu: lots}}}\n",
                         d);
  ValidateJob(job, FakeOptions(), d);
  EXPECT_EQ(Only(d, "version"), "j/job.yaml:1:10: version: unsupported version 4 (want 1, 2 or 3)");
  EXPECT_EQ(Only(d, "schedule.start_date"),
            "j/job.yaml:4:24: schedule.start_date: invalid date \"2024-02-30\" (want YYYY-MM-DD)");
  EXPECT_THAT(Only(d, "dependencies[0].job"), HasSubstr("invalid upstream \"a/b/c\""));
  EXPECT_THAT(Only(d, "dependencies[1]"),
              HasSubstr("needs `job` (name or project/name) or `http`"));
  EXPECT_THAT(Only(d, "dependencies[2].http.url"), HasSubstr("invalid url \"nope\""));
  EXPECT_THAT(Only(d, "dependencies[3].job"), HasSubstr("cannot depend on itself"));
  EXPECT_THAT(Only(d, "metadata.resource.limit.cpu"), HasSubstr("invalid quantity \"lots\""));
}

TEST(JobSpecTest, EndDateBeforeStartDate) {
  Diagnostics d;
  JobSpec job = MustLoad("j/job.yaml",
                         "version: 3\nname: j\nowner: o\nschedule: {start_date: '2024-02-01', "
                         "end_date: '2024-01-01'}\n"
                         "task: {name: bq2bq}\n",
                         d);
  ValidateJob(job, FakeOptions(), d);
  EXPECT_EQ(d.ToString(),
            "j/job.yaml:4:48: schedule.end_date: is before start_date \"2024-02-01\"\n");
}

TEST(JobSpecTest, WindowPresetMustExist) {
  std::map<std::string, Preset> presets;
  presets["yesterday"] = Preset{"yesterday", "d", Window{3, "1d"}, {}};
  JobValidationOptions options = FakeOptions();
  options.presets = &presets;
  Diagnostics d;
  JobSpec ok = MustLoad(
      "j/job.yaml",
      std::string(kValidHead) + "task: {name: bq2bq, window: {preset: '@YESTERDAY'}}\n", d);
  ValidateJob(ok, options, d);
  EXPECT_TRUE(d.empty()) << d.ToString();
  JobSpec bad =
      MustLoad("j/job.yaml",
               std::string(kValidHead) + "task: {name: bq2bq, window: {preset: lastweek}}\n", d);
  ValidateJob(bad, options, d);
  EXPECT_EQ(d.ToString(),
            "j/job.yaml:5:38: task.window.preset: unknown preset \"lastweek\" (the "
            "project has: yesterday)\n");
}

TEST(JobSpecTest, VersionSpecificWindowFieldsWarn) {
  Diagnostics d;
  JobSpec job = MustLoad(
      "j/job.yaml",
      std::string(kValidHead) + "task: {name: bq2bq, window: {size: 1d, offset: 1h}}\n", d);
  ValidateJob(job, FakeOptions(), d);
  EXPECT_EQ(d.ErrorCount(), 0);
  EXPECT_THAT(Only(d, "task.window.offset"),
              HasSubstr("warning: ignored for version 3 (use shift_by)"));
}

TEST(JobSpecTest, HookNamesAreUniqueAndAlertsChecked) {
  Diagnostics d;
  JobSpec job = MustLoad("j/job.yaml",
                         std::string(kValidHead) +
                             "task:\n  name: bq2bq\n  alert:\n    sla_miss: [{severity: INFO}]\n"
                             "    retry: [{count_threshold: 0}]\n"
                             "hooks:\n- name: predator\n- name: predator\n",
                         d);
  ValidateJob(job, FakeOptions(), d);
  EXPECT_THAT(Only(d, "hooks[1].name"), HasSubstr("hook \"predator\" is listed twice"));
  EXPECT_THAT(Only(d, "task.alert.sla_miss[0].duration_threshold"),
              HasSubstr("missing required field"));
  EXPECT_THAT(Only(d, "task.alert.retry[0].count_threshold"), HasSubstr("positive"));
}

TEST(JobSpecTest, DuplicateJobNamesNameBothFiles) {
  Diagnostics d;
  std::vector<JobSpec> jobs;
  jobs.push_back(MustLoad("jobs/ns1/a/job.yaml", "name: same\n", d));
  jobs.push_back(MustLoad("jobs/ns1/b/job.yaml", "name: other\n", d));
  jobs.push_back(MustLoad("jobs/ns2/c/job.yaml", "version: 3\nname: same\n", d));
  CheckUniqueJobNames(jobs, d);
  ASSERT_EQ(d.items().size(), 1u);
  EXPECT_EQ(d.items()[0].ToString(),
            "jobs/ns2/c/job.yaml:2:7: name: job name \"same\" is also used by jobs/ns1/a/job.yaml "
            "(job names must be unique in a project)");
}

TEST(JobSpecTest, GoDurations) {
  for (const char* ok : {"5s", "2m", "2h45m", "-1.5h", "0", "300ms", "1h0m0s"}) {
    EXPECT_TRUE(IsGoDuration(ok)) << ok;
  }
  for (const char* bad : {"", "5", "1d", "h", "5 m", "1M"}) EXPECT_FALSE(IsGoDuration(bad)) << bad;
}

TEST(JobSpecTest, EmptyDocumentLoadsAsEmptySpec) {
  Diagnostics d;
  JobSpec job = MustLoad("j/this.yaml", "", d);
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(job.version, 0);
}

TEST(JobSpecTest, DiagnosticWithoutLineHasNoNumbers) {
  Diagnostic diag{"x.yaml", 0, 0, "", "cannot open the file", Severity::kError};
  EXPECT_EQ(diag.ToString(), "x.yaml: cannot open the file");
}

}  // namespace
}  // namespace optimus::spec
