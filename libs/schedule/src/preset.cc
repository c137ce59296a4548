// Window presets: validation and lookup of named v3 windows.
#include "optimus/schedule/preset.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace optimus::schedule {

std::string NormalizePresetName(std::string_view name) {
  if (!name.empty() && name[0] == '@') name.remove_prefix(1);
  return absl::AsciiStrToLower(absl::string_view(name.data(), name.size()));
}

absl::Status ValidatePreset(const Preset& preset) {
  if (preset.name.empty()) return absl::InvalidArgumentError("preset has an empty name");
  if (preset.name != absl::AsciiStrToLower(preset.name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("preset \"", preset.name, "\": names must be lower-case"));
  }
  if (preset.description.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("preset \"", preset.name, "\": description is required"));
  }
  if (!preset.window.preset.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "preset \"", preset.name, "\": a preset window cannot refer to another preset"));
  }
  WindowSpec w = preset.window;
  w.version = 3;
  if (absl::Status s = ValidateWindow(w); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("preset \"", preset.name, "\": ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status AddPreset(PresetMap& presets, Preset preset) {
  if (absl::Status s = ValidatePreset(preset); !s.ok()) return s;
  preset.window.version = 3;
  const std::string key = preset.name;
  if (!presets.emplace(key, std::move(preset)).second) {
    return absl::AlreadyExistsError(absl::StrCat("preset \"", key, "\" is defined twice"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Preset> LookupPreset(const PresetMap& presets, std::string_view name) {
  const std::string key = NormalizePresetName(name);
  if (key.empty()) return absl::InvalidArgumentError("window preset name is empty");
  auto it = presets.find(key);
  if (it == presets.end()) {
    std::vector<std::string> names;
    for (const auto& [n, unused] : presets) names.push_back(n);
    return absl::NotFoundError(absl::StrCat(
        "window preset \"", std::string(name), "\" is not defined in the project presets",
        names.empty() ? std::string(" (the project has none; set project.preset_path)")
                      : absl::StrCat(" (known: ", absl::StrJoin(names, ", "), ")")));
  }
  return it->second;
}

absl::StatusOr<WindowSpec> ResolveWindow(const WindowSpec& spec, const PresetMap& presets) {
  if (spec.preset.empty()) return spec;
  auto preset = LookupPreset(presets, spec.preset);
  if (!preset.ok()) return preset.status();
  WindowSpec out = preset->window;
  out.version = 3;
  out.preset.clear();
  out.offset.clear();
  return out;
}

}  // namespace optimus::schedule
