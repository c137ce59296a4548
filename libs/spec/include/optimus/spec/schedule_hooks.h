// The validation hooks that check cron expressions and windows with libs/schedule, and
// templates with libs/template.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "optimus/schedule/window.h"
#include "optimus/spec/model.h"
#include "optimus/spec/validate.h"

namespace optimus::spec {

// check_cron parses with schedule::CronSchedule; check_window validates with
// schedule::ValidateWindow and reports "<field>: <why>" so the diagnostic points at
// task.window.<field>; check_template parses with the Optimus function map.
ValidationHooks ScheduleValidationHooks();

// The window a job's runs get: its task.window at the job's spec version, or, when it names a
// preset, that preset's window (version 3). NotFound for an unknown preset.
absl::StatusOr<schedule::WindowSpec> JobWindow(const JobSpec& job,
                                               const std::map<std::string, Preset>& presets);

}  // namespace optimus::spec
