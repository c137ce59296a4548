// libFuzzer entry point: arbitrary bytes as a job.yaml (and as a recipe.json) must never crash
// the loaders or the validator.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "optimus/spec/inherit.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/validate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace optimus::spec;
  const std::string content(reinterpret_cast<const char*>(data), size);
  Diagnostics diagnostics;
  if (auto recipe = LoadRecipeSpec("fuzz/recipe.json", content, "fuzz", diagnostics)) {
    (void)recipe->Steps();
  }
  auto job = LoadJobSpec("fuzz/job.yaml", content, diagnostics);
  if (!job) return 0;
  // The same bytes as a parent exercise inheritance, including location copying.
  if (auto parent = LoadJobSpec("fuzz/this.yaml", content, diagnostics)) {
    InheritFrom(*job, *parent);
  }
  const std::set<std::string> plugins = {"bq2bq", "predator"};
  JobValidationOptions options;
  options.known_plugins = &plugins;
  options.hooks.check_window = [](const Window& w) {
    return w.size == "bad" ? std::string("size: invalid") : std::string();
  };
  ValidateJob(*job, options, diagnostics);
  for (const auto& d : diagnostics.items()) (void)d.ToString();
  return 0;
}
