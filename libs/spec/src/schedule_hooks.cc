// Cron and window checks for spec validation, from the schedule library.
#include "optimus/spec/schedule_hooks.h"

#include <string>

#include "optimus/schedule/cron.h"
#include "optimus/schedule/preset.h"
#include "optimus/schedule/window.h"
#include "optimus/template/optimus_funcs.h"
#include "optimus/template/template.h"

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

schedule::WindowSpec ToSpec(const Window& w, int version) {
  schedule::WindowSpec spec;
  spec.version = version;
  spec.size = w.size;
  spec.shift_by = w.shift_by;
  spec.offset = w.offset;
  spec.truncate_to = w.truncate_to;
  spec.location = w.location;
  return spec;
}

}  // namespace

absl::StatusOr<schedule::WindowSpec> JobWindow(const JobSpec& job,
                                               const std::map<std::string, Preset>& presets) {
  const Window& w = job.task.window;
  if (w.preset.empty()) return ToSpec(w, w.version != 0 ? w.version : job.version);
  const std::string name = schedule::NormalizePresetName(w.preset);
  auto it = presets.find(name);
  if (it == presets.end()) {
    return absl::NotFoundError("window preset \"" + w.preset + "\" is not defined in the project");
  }
  return ToSpec(it->second.window, 3);
}

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
  hooks.check_template = [](std::string_view name, std::string_view text) -> std::string {
    static const tmpl::FuncMap* funcs = new tmpl::FuncMap(tmpl::OptimusFuncMap({}));
    auto parsed = tmpl::Parse(name, text, *funcs);
    return parsed.ok() ? "" : std::string(parsed.status().message());
  };
  return hooks;
}

}  // namespace optimus::spec
