// Spec validation with the real cron and window checks of libs/schedule.
#include "optimus/spec/schedule_hooks.h"

#include <gmock/gmock.h>

#include "optimus/spec/loaders.h"
#include "optimus/testing/testing.h"

namespace optimus::spec {
namespace {

TEST(ScheduleHooksTest, CronErrorsNameTheField) {
  ValidationHooks hooks = ScheduleValidationHooks();
  EXPECT_EQ(hooks.check_cron("0 2 * * *"), "");
  EXPECT_EQ(hooks.check_cron("@every 1h"), "");
  EXPECT_EQ(hooks.check_cron("0 25 * * *"), "cron \"0 25 * * *\": hour 25 out of range 0-23");
}

TEST(ScheduleHooksTest, WindowErrorsPointAtTheirField) {
  ValidationHooks hooks = ScheduleValidationHooks();
  Window ok;
  ok.version = 3;
  ok.size = "1d";
  ok.location = "Asia/Jakarta";
  EXPECT_EQ(hooks.check_window(ok), "");
  Window bad = ok;
  bad.size = "1x";
  const std::string message = hooks.check_window(bad);
  EXPECT_EQ(message.rfind("size: window size \"1x\"", 0), 0u) << message;
  Window zone = ok;
  zone.location = "Mars/Olympus";
  EXPECT_EQ(hooks.check_window(zone).rfind("location: ", 0), 0u) << hooks.check_window(zone);
  Window preset;
  preset.version = 3;
  preset.preset = "yesterday";
  EXPECT_EQ(hooks.check_window(preset), "");
}

// Templates are parsed when a job is validated (CLI and deploy), not first when it runs.
TEST(ScheduleHooksTest, TemplateErrorsFailValidationNamingTheFieldOrAsset) {
  Diagnostics d;
  auto job = LoadJobSpec("jobs/x/job.yaml",
                         "version: 3\nname: x\nowner: o\nschedule:\n  start_date: \"2024-01-01\"\n"
                         "  interval: \"0 0 * * *\"\ntask:\n  name: shell\n  config:\n    TABLE: "
                         "\"{{ .DSTART | nosuchfunc }}\"\n    OK: \"{{ .DSTART | Date }}\"\n"
                         "    PLAIN: \"no template\"\n",
                         d);
  ASSERT_TRUE(job.has_value());
  job->assets["query.sql"] = "select {{ if }} 1";
  job->assets["fine.sql"] = "select '{{ .DSTART }}' {{ template \"part.gtpl\" . }}";
  JobValidationOptions options;
  options.hooks = ScheduleValidationHooks();
  ValidateJob(*job, options, d);
  std::string all;
  for (const auto& item : d.items()) all += item.ToString() + "\n";
  EXPECT_THAT(all, ::testing::HasSubstr("task.config.TABLE: template: TABLE:1:14: function "
                                        "\"nosuchfunc\" not defined"));
  EXPECT_THAT(all, ::testing::HasSubstr("assets: template: query.sql:1"));
  EXPECT_THAT(all, ::testing::Not(::testing::HasSubstr("fine.sql")));
  EXPECT_THAT(all, ::testing::Not(::testing::HasSubstr("task.config.OK")));
}

}  // namespace
}  // namespace optimus::spec
