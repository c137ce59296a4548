// Window presets: named v3 windows from the project's presets file (reference §3.6).
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "optimus/schedule/window.h"

namespace optimus::schedule {

// One entry of `presets:`; `window` uses the v3 fields (size, shift_by, truncate_to, location).
struct Preset {
  std::string name;
  std::string description;
  WindowSpec window;
};

// Presets keyed by their lower-case name.
using PresetMap = std::map<std::string, Preset>;

// The lookup key Optimus uses for a preset reference: a leading "@" stripped, lower-cased.
std::string NormalizePresetName(std::string_view name);

// Checks a preset: lower-case name, a description, and a valid v3 window without a preset of
// its own.
absl::Status ValidatePreset(const Preset& preset);

// Adds `preset` to `presets` after validating it; a duplicate name is an error.
absl::Status AddPreset(PresetMap& presets, Preset preset);

// The preset named `name` ("yesterday", "@Yesterday"); the error lists the known names.
absl::StatusOr<Preset> LookupPreset(const PresetMap& presets, std::string_view name);

// If `spec.preset` is set, returns the preset's window as a version-3 spec (Optimus computes
// preset windows with the v3 engine whatever the job's version); otherwise returns `spec`.
absl::StatusOr<WindowSpec> ResolveWindow(const WindowSpec& spec, const PresetMap& presets);

}  // namespace optimus::schedule
