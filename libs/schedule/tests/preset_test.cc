// Tests for window presets: validation, lookup by "@Name", and resolution to a v3 window.
#include "optimus/schedule/preset.h"

#include <gtest/gtest.h>

#include "optimus/schedule/time_util.h"

namespace optimus::schedule {
namespace {

Preset MakePreset(std::string name, std::string size, std::string truncate_to = "",
                  std::string description = "a window") {
  Preset p;
  p.name = std::move(name);
  p.description = std::move(description);
  p.window.size = std::move(size);
  p.window.truncate_to = std::move(truncate_to);
  return p;
}

PresetMap Presets() {
  PresetMap m;
  EXPECT_TRUE(AddPreset(m, MakePreset("yesterday", "1d")).ok());
  EXPECT_TRUE(AddPreset(m, MakePreset("last_month", "1M", "M")).ok());
  return m;
}

TEST(Preset, NormalisesNames) {
  EXPECT_EQ(NormalizePresetName("@Yesterday"), "yesterday");
  EXPECT_EQ(NormalizePresetName("LAST_MONTH"), "last_month");
}

TEST(Preset, ResolvesToAVersion3Window) {
  WindowSpec job;
  job.version = 1;  // preset windows use the v3 engine whatever the job version
  job.preset = "@Yesterday";
  job.offset = "-24h";
  auto resolved = ResolveWindow(job, Presets());
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->version, 3);
  EXPECT_EQ(resolved->size, "1d");
  EXPECT_TRUE(resolved->preset.empty());
  EXPECT_TRUE(resolved->offset.empty());
  auto v = Compute(*resolved, *ParseRfc3339("2023-03-07T02:00:00Z"));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->dstart, "2023-03-06T00:00:00Z");
  EXPECT_EQ(v->dend, "2023-03-07T00:00:00Z");

  WindowSpec monthly;
  monthly.preset = "last_month";
  auto m = Compute(*ResolveWindow(monthly, Presets()), *ParseRfc3339("2023-03-07T02:00:00Z"));
  EXPECT_EQ(m->dstart, "2023-02-01T00:00:00Z");
  EXPECT_EQ(m->dend, "2023-03-01T00:00:00Z");
}

TEST(Preset, WithoutPresetTheSpecIsUnchanged) {
  WindowSpec job;
  job.version = 2;
  job.size = "24h";
  auto r = ResolveWindow(job, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->version, 2);
  EXPECT_EQ(r->size, "24h");
}

TEST(Preset, UnknownNameListsKnownOnes) {
  WindowSpec job;
  job.preset = "tomorrow";
  auto r = ResolveWindow(job, Presets());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(),
            "window preset \"tomorrow\" is not defined in the project presets (known: last_month, "
            "yesterday)");
  EXPECT_NE(ResolveWindow(job, {}).status().message().find("preset_path"), std::string::npos);
}

TEST(Preset, Validation) {
  PresetMap m;
  EXPECT_EQ(AddPreset(m, MakePreset("Yesterday", "1d")).message(),
            "preset \"Yesterday\": names must be lower-case");
  EXPECT_EQ(AddPreset(m, MakePreset("x", "1d", "", "")).message(),
            "preset \"x\": description is required");
  EXPECT_NE(AddPreset(m, MakePreset("zero", "0")).message().find("window size \"0\""),
            std::string::npos);
  EXPECT_TRUE(AddPreset(m, MakePreset("zero", "0d")).ok());
  EXPECT_EQ(AddPreset(m, MakePreset("zero", "1d")).code(), absl::StatusCode::kAlreadyExists);
  Preset nested = MakePreset("nested", "");
  nested.window.preset = "zero";
  EXPECT_FALSE(AddPreset(m, nested).ok());
}

}  // namespace
}  // namespace optimus::schedule
