// libFuzzer entry point: parse and execute arbitrary text; any input must give a value or an
// error, never a crash, hang or unbounded allocation.
//
// Build with clang: -fsanitize=fuzzer,address,undefined, include dir libs/template/include, the
// sources libs/template/src/*.cc and the abseil libraries optimus::template links.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "optimus/template/optimus_funcs.h"
#include "optimus/template/template.h"

namespace {

const optimus::tmpl::Value& FuzzData() {
  using optimus::tmpl::Value;
  static const Value* data = new Value(Value::MakeMap({
      {"DSTART", "2023-03-07T00:00:00Z"},
      {"DEND", "2023-03-08T00:00:00Z"},
      {"n", 3},
      {"f", 1.5},
      {"s", "text"},
      {"l", Value::MakeList({1, "two", 3.0, Value()})},
      {"m", Value::MakeMap({{"a", 1}, {"b", Value::MakeList({"x"})}})},
      {"t", optimus::tmpl::GoTime{absl::FromUnixSeconds(1678147200), absl::UTCTimeZone()}},
  }));
  return *data;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(bytes), size);
  optimus::tmpl::FuncContext ctx;
  ctx.now = absl::FromUnixSeconds(1700000000);
  optimus::tmpl::TemplateSet set(optimus::tmpl::OptimusFuncMap(ctx));
  if (!set.Parse("fuzz", text).ok()) return 0;
  optimus::tmpl::ExecuteOptions options;
  options.max_output_bytes = 1 << 20;
  options.max_steps = 100000;
  options.max_call_depth = 200;
  for (const std::string& name : set.Names()) (void)set.Execute(name, FuzzData(), options);
  return 0;
}
