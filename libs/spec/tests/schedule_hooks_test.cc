// Spec validation with the real cron and window checks of libs/schedule.
#include "optimus/spec/schedule_hooks.h"

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

}  // namespace
}  // namespace optimus::spec
