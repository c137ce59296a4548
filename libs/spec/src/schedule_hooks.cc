// Cron and window checks for spec validation, from the schedule library.
#include "optimus/spec/schedule_hooks.h"

#include <string>

#include "optimus/schedule/cron.h"
#include "optimus/schedule/window.h"

namespace optimus::spec {
namespace {

// schedule says `window [vN ]size "1x": why`; spec wants `size: window size "1x": why` so that
// the diagnostic lands on the field.
std::string FieldFirst(const std::string& message) {
  static constexpr std::string_view kFields[] = {"size",        "shift_by", "offset",
                                                 "truncate_to", "location", "preset"};
  std::string_view rest(message);
  if (rest.rfind("window ", 0) != 0) return message;
  rest.remove_prefix(7);
  if (rest.size() > 1 && rest[0] == 'v' && rest[1] >= '0' && rest[1] <= '9') {
    const size_t space = rest.find(' ');
    if (space == std::string_view::npos) return message;
    rest.remove_prefix(space + 1);
  }
  for (std::string_view field : kFields) {
    if (rest.rfind(field, 0) == 0 && rest.size() > field.size() &&
        (rest[field.size()] == ' ' || rest[field.size()] == ':')) {
      return std::string(field) + ": " + message;
    }
  }
  return message;
}

}  // namespace

ValidationHooks ScheduleValidationHooks() {
  ValidationHooks hooks;
  hooks.check_cron = [](std::string_view cron) -> std::string {
    auto parsed = schedule::CronSchedule::Parse(cron);
    return parsed.ok() ? "" : std::string(parsed.status().message());
  };
  hooks.check_window = [](const Window& w) -> std::string {
    // A preset window is checked where the preset is defined (ValidatePresets) and looked up
    // against the project's presets by ValidateJob.
    if (!w.preset.empty()) return "";
    schedule::WindowSpec spec;
    spec.version = w.version;
    spec.size = w.size;
    spec.shift_by = w.shift_by;
    spec.offset = w.offset;
    spec.truncate_to = w.truncate_to;
    spec.location = w.location;
    spec.preset = w.preset;
    absl::Status status = schedule::ValidateWindow(spec);
    return status.ok() ? "" : FieldFirst(std::string(status.message()));
  };
  return hooks;
}

}  // namespace optimus::spec
