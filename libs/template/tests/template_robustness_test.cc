// Random token soups through parse and execute: every input ends in a value or an error.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "optimus/template/optimus_funcs.h"
#include "optimus/template/template.h"

namespace optimus::tmpl {
namespace {

TEST(TemplateRobustness, RandomTokenSoupsNeverCrash) {
  const std::vector<std::string> pieces = {"{{",
                                           "}}",
                                           "{{- ",
                                           " -}}",
                                           "{{/*",
                                           "*/}}",
                                           ".",
                                           ".a",
                                           ".l",
                                           ".m.a",
                                           "$",
                                           "$x",
                                           " := ",
                                           " = ",
                                           "|",
                                           "(",
                                           ")",
                                           " ",
                                           "\n",
                                           "if ",
                                           "else ",
                                           "end",
                                           "range ",
                                           "with ",
                                           "define ",
                                           "template ",
                                           "block ",
                                           "break",
                                           "continue",
                                           "\"s\"",
                                           "`r`",
                                           "'c'",
                                           "1",
                                           "-2",
                                           "0x1f",
                                           "1.5e3",
                                           "nil",
                                           "true",
                                           "and ",
                                           "or ",
                                           "not ",
                                           "eq ",
                                           "lt ",
                                           "index ",
                                           "len ",
                                           "slice ",
                                           "printf ",
                                           "\"%d %s %v %q\"",
                                           "print ",
                                           "Date ",
                                           "toDate ",
                                           "date ",
                                           "date_modify ",
                                           "\"-24h\"",
                                           "dateFrom ",
                                           "list ",
                                           "join ",
                                           "replace ",
                                           "trunc ",
                                           "unixEpoch ",
                                           "text",
                                           ",",
                                           "\"2006-01-02\"",
                                           "\"T\""};
  std::mt19937 rng(12345);
  FuncContext ctx;
  TemplateSet probe(OptimusFuncMap(ctx));
  const Value data = Value::MakeMap(
      {{"a", 1}, {"l", Value::MakeList({1, "x", Value()})}, {"m", Value::MakeMap({{"a", "b"}})}});
  ExecuteOptions options;
  options.max_steps = 20000;
  options.max_output_bytes = 1 << 16;
  options.max_call_depth = 50;
  int parsed = 0, executed = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string text;
    int n = 1 + rng() % 25;
    for (int i = 0; i < n; ++i) text += pieces[rng() % pieces.size()];
    TemplateSet set(OptimusFuncMap(ctx));
    absl::Status s = set.Parse("soup", text);
    if (!s.ok()) {
      // Every parse error names the template and a position.
      ASSERT_EQ(std::string(s.message()).rfind("template: soup:", 0), 0u) << text << "\n" << s;
      continue;
    }
    ++parsed;
    for (const std::string& name : set.Names()) {
      auto out = set.Execute(name, data, options);
      if (out.ok()) ++executed;
    }
  }
  // The soup must exercise both paths, or the test proves nothing.
  EXPECT_GT(parsed, 500);
  EXPECT_GT(executed, 200);
}

}  // namespace
}  // namespace optimus::tmpl
