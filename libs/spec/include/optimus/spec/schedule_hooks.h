// The validation hooks that check cron expressions and windows with libs/schedule.
#pragma once

#include "optimus/spec/validate.h"

namespace optimus::spec {

// check_cron parses with schedule::CronSchedule; check_window validates with
// schedule::ValidateWindow and reports "<field>: <why>" so the diagnostic points at
// task.window.<field>.
ValidationHooks ScheduleValidationHooks();

}  // namespace optimus::spec
