// Tests of the text/template engine: every construct, Go's semantics and error messages.
#include "optimus/template/template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace optimus::tmpl {
namespace {

using ::testing::HasSubstr;

Value Data() {
  return Value::MakeMap({
      {"a", 1},
      {"s", "str"},
      {"f", 2.5},
      {"t", true},
      {"no", false},
      {"empty", List{}},
      {"l", Value::MakeList({1, 2})},
      {"n", Value::MakeList({1, 2, 3, 4, 5})},
      {"words", Value::MakeList({"a", "b"})},
      {"m", Value::MakeMap({{"k", "v"}, {"b", "2"}, {"a", "1"}})},
      {"nested", Value::MakeMap({{"x", Value::MakeMap({{"y", "deep"}})},
                                 {"list", Value::MakeList({"p", "q"})}})},
      {"nil", Value()},
      {"name", "job"},
  });
}

// The output, or "ERROR: <message>" for a parse or execution error.
std::string Render(std::string_view text, const Value& data = Data(), FuncMap funcs = {}) {
  auto t = Parse("t", text, std::move(funcs));
  if (!t.ok()) return "ERROR: " + std::string(t.status().message());
  auto out = t->Execute(data);
  if (!out.ok()) return "ERROR: " + std::string(out.status().message());
  return *out;
}

TEST(TemplateText, PlainTextIsCopied) {
  EXPECT_EQ(Render(""), "");
  EXPECT_EQ(Render("select 1;\n  -- }} { {"), "select 1;\n  -- }} { {");
}

TEST(TemplateFields, FieldsAndMissingKeys) {
  EXPECT_EQ(Render("{{.a}} {{.s}} {{.f}} {{.t}}"), "1 str 2.5 true");
  EXPECT_EQ(Render("{{.missing}}"), "<no value>");
  EXPECT_EQ(Render("{{.missing.deeper.still}}"), "<no value>");
  EXPECT_EQ(Render("{{.nil}}"), "<no value>");
  EXPECT_EQ(Render("{{.nested.x.y}}"), "deep");
  EXPECT_EQ(Render("{{.l}} {{.m}} {{.empty}}"), "[1 2] map[a:1 b:2 k:v] []");
  EXPECT_EQ(Render("{{.}}", Value("top")), "top");
}

TEST(TemplateFields, FieldOfNonMapIsAnError) {
  EXPECT_EQ(Render("a\n {{.s.x}}"),
            "ERROR: template: t:2:4: executing \"t\" at <.s.x>: can't evaluate field x in type "
            "string");
  EXPECT_THAT(Render("{{.a 1}}"), HasSubstr("a is not a method but has arguments"));
  EXPECT_THAT(Render("{{1 | .s}}"), HasSubstr("s is not a method but has arguments"));
}

TEST(TemplateTrim, TrimMarkersEatAdjacentWhitespace) {
  EXPECT_EQ(Render("a  \n {{- .a -}} \n\t b"), "a1b");
  EXPECT_EQ(Render("a {{- .a}} b"), "a1 b");
  EXPECT_EQ(Render("a {{.a -}} b"), "a 1b");
  EXPECT_EQ(Render("{{-3}}"), "-3");  // A minus without a space is a number.
  EXPECT_EQ(Render("x\n{{- /* c */ -}}\ny"), "xy");
}

TEST(TemplateComments, CommentsProduceNothing) {
  EXPECT_EQ(Render("a{{/* a comment\n over lines */}}b"), "ab");
  EXPECT_EQ(Render("{{/* c */ .a}}"),
            "ERROR: template: t:1:10: comment ends before closing "
            "delimiter");
  EXPECT_EQ(Render("{{/* never closed"), "ERROR: template: t:1:1: unclosed comment");
}

TEST(TemplateLiterals, NumbersStringsAndConstants) {
  EXPECT_EQ(Render("{{0x1F}} {{1_000}} {{0o17}} {{017}} {{0b101}} {{'a'}} {{-7}}"),
            "31 1000 15 15 5 97 -7");
  EXPECT_EQ(Render("{{1.5}} {{1e3}} {{1e6}} {{1234567.0}} {{0.0001}} {{0.00001}}"),
            "1.5 1000 1e+06 1.234567e+06 0.0001 1e-05");
  EXPECT_EQ(Render(R"({{"a\tb\u00e9\x41"}})"),
            "a\tb\xC3\xA9"
            "A");
  EXPECT_EQ(Render("{{`raw\\n`}}"), "raw\\n");
  EXPECT_EQ(Render("{{true}} {{false}}"), "true false");
  EXPECT_EQ(Render("{{99999999999999999999}}"),
            "ERROR: template: t:1:3: 99999999999999999999 overflows int");
  EXPECT_EQ(Render("{{3k}}"), "ERROR: template: t:1:3: bad number syntax: \"3k\"");
  EXPECT_EQ(Render("{{nil}}"),
            "ERROR: template: t:1:3: executing \"t\" at <nil>: nil is not a "
            "command");
}

TEST(TemplatePipelines, FinalValueIsTheLastArgument) {
  EXPECT_EQ(Render(R"({{"x" | printf "%s-%s" "y"}})"), "y-x");
  EXPECT_EQ(Render(R"({{.s | printf "%v|%s" 1 | len}})"), "5");
  EXPECT_EQ(Render("{{(index .l 1)}} {{(.m).k}} {{(.nested.x).y}}"), "2 v deep");
  EXPECT_EQ(Render("{{1 2}}"),
            "ERROR: template: t:1:3: executing \"t\" at <1>: can't give "
            "argument to non-function 1");
  EXPECT_EQ(Render("{{.a | 3}}"),
            "ERROR: template: t:1:8: non executable command in pipeline "
            "stage 2");
}

TEST(TemplateVariables, DeclareAssignAndScope) {
  EXPECT_EQ(Render("{{$x := .a}}{{$x}}"), "1");
  EXPECT_EQ(Render("{{$x := 1}}{{$x = 2}}{{$x}}"), "2");
  EXPECT_EQ(Render("{{$x := 1}}{{if true}}{{$x = 3}}{{end}}{{$x}}"), "3");
  EXPECT_EQ(Render("{{if true}}{{$y := 1}}{{end}}{{$y}}"),
            "ERROR: template: t:1:32: undefined variable \"$y\"");
  EXPECT_EQ(Render("{{$z = 1}}"), "ERROR: template: t:1:3: undefined variable \"$z\"");
  EXPECT_EQ(Render("{{range .l}}{{$.name}}{{$.m.k}}{{end}}"), "jobvjobv");
  EXPECT_EQ(Render("{{$m := .m}}{{$m.k}}"), "v");
  EXPECT_EQ(Render("{{with $x := .s}}{{$x}}{{.}}{{end}}"), "strstr");
}

TEST(TemplateIf, ElseIfChains) {
  const std::string t = "{{if .c1}}one{{else if .c2}}two{{else}}none{{end}}";
  EXPECT_EQ(Render(t, Value::MakeMap({{"c1", 1}})), "one");
  EXPECT_EQ(Render(t, Value::MakeMap({{"c2", "x"}})), "two");
  EXPECT_EQ(Render(t, Value::MakeMap({})), "none");
  // Go's truth: empty strings, lists, maps, zero and nil are false.
  EXPECT_EQ(Render("{{if .empty}}y{{else}}n{{end}}{{if .l}}y{{end}}{{if 0.0}}y{{else}}n{{end}}"),
            "nyn");
  EXPECT_EQ(Render("{{if .nothing}}y{{else}}n{{end}}"), "n");
}

TEST(TemplateRange, ListsMapsIntsAndElse) {
  EXPECT_EQ(Render("{{range .l}}<{{.}}>{{end}}"), "<1><2>");
  EXPECT_EQ(Render("{{range $i, $v := .words}}{{$i}}={{$v}},{{end}}"), "0=a,1=b,");
  EXPECT_EQ(Render("{{range $v := .words}}{{$v}}{{end}}"), "ab");
  EXPECT_EQ(Render("{{range $k, $v := .m}}{{$k}}:{{$v}} {{end}}"), "a:1 b:2 k:v ");
  EXPECT_EQ(Render("{{range .empty}}x{{else}}none{{end}}"), "none");
  EXPECT_EQ(Render("{{range .missing}}x{{else}}none{{end}}"), "none");
  EXPECT_EQ(Render("{{range 3}}{{.}}{{end}}"), "012");
  EXPECT_THAT(Render("{{range .s}}{{end}}"), HasSubstr("range can't iterate over str"));
  EXPECT_EQ(Render("{{range $i, $v := 3}}{{end}}"),
            "ERROR: template: t:1:9: executing \"t\" at <$i, $v := 3>: can't use 3 to iterate "
            "over more than one variable");
}

TEST(TemplateRange, BreakAndContinue) {
  EXPECT_EQ(Render("{{range .n}}{{if eq . 2}}{{continue}}{{end}}{{if eq . 4}}{{break}}{{end}}"
                   "{{.}}{{end}}"),
            "13");
  EXPECT_EQ(Render("{{break}}"), "ERROR: template: t:1:3: {{break}} outside {{range}}");
  EXPECT_EQ(Render("{{range .n}}{{continue}}{{end}}{{continue}}"),
            "ERROR: template: t:1:34: {{continue}} outside {{range}}");
}

TEST(TemplateWith, DotRebindingAndElse) {
  EXPECT_EQ(Render("{{with .m}}{{.k}}{{end}}"), "v");
  EXPECT_EQ(Render("{{with .missing}}x{{else}}y{{end}}"), "y");
  EXPECT_EQ(Render("{{with .missing}}x{{else with .s}}{{.}}{{end}}"), "str");
}

TEST(TemplateDefine, DefineTemplateAndBlock) {
  EXPECT_EQ(Render(R"({{define "T"}}[{{.}}]{{end}}{{template "T" "x"}}{{template "T"}})"),
            "[x][<no value>]");
  EXPECT_EQ(Render(R"(a{{block "B" .s}}default {{.}}{{end}}b)"), "adefault strb");
  EXPECT_EQ(Render(R"({{define "a"}}1{{end}}{{define "a"}}2{{end}})"),
            "ERROR: template: t:1:43: template: multiple definition of template \"a\"");
  EXPECT_EQ(Render(R"({{template "nope"}})"),
            "ERROR: template: t:1:1: executing \"t\" at <{{template \"nope\"}}>: template \"nope\" "
            "not defined");
  // Variables do not cross into a called template; $ is its argument.
  EXPECT_EQ(Render(R"({{define "T"}}{{$}}{{end}}{{template "T" .s}})"), "str");
}

TEST(TemplateDefine, SetRedefinitionFollowsGo) {
  TemplateSet set;
  ASSERT_TRUE(set.Parse("main", R"(<{{block "part" .}}default{{end}}>)").ok());
  auto out = set.Execute("main", Value());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "<default>");
  ASSERT_TRUE(set.Parse("override", R"({{define "part"}}custom{{end}})").ok());
  EXPECT_EQ(*set.Execute("main", Value()), "<custom>");
  // An empty definition does not replace a non-empty one.
  ASSERT_TRUE(set.Parse("blank", R"({{define "part"}}  {{end}})").ok());
  EXPECT_EQ(*set.Execute("main", Value()), "<custom>");
  EXPECT_TRUE(set.Has("part"));
  EXPECT_THAT(set.Names(), ::testing::ElementsAre("blank", "main", "override", "part"));
  auto missing = set.Execute("other", Value());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("no template \"other\""));
}

TEST(TemplateDefine, RecursionIsBounded) {
  auto t = Parse("t", R"({{define "r"}}x{{template "r"}}{{end}}{{template "r"}})");
  ASSERT_TRUE(t.ok());
  ExecuteOptions options;
  options.max_call_depth = 50;
  auto out = t->Execute(Value(), options);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(), HasSubstr("exceeded maximum template depth (50)"));
}

TEST(TemplateLimits, OutputAndStepLimits) {
  auto t = Parse("t", "{{range 100000000}}xxxxxxxxxx{{end}}");
  ASSERT_TRUE(t.ok());
  ExecuteOptions options;
  options.max_output_bytes = 1000;
  auto out = t->Execute(Value(), options);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
  auto empty = Parse("t", "{{range 1000000000}}{{end}}");
  options.max_steps = 10000;
  out = empty->Execute(Value(), options);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(), HasSubstr("exceeds 10000 steps"));
}

TEST(TemplateLogic, AndOrShortCircuitAndReturnOperands) {
  EXPECT_EQ(Render("{{and 1 0 2}} {{and 1 2}} {{or 0 \"\" \"x\"}} {{or 0 \"\"}}"), "0 2 x ");
  // The second operand would fail; short-circuit never evaluates it.
  EXPECT_EQ(Render("{{or 1 (index .l 99)}} {{and 0 (index .l 99)}}"), "1 0");
  EXPECT_THAT(Render("{{and 1 (index .l 99)}}"), HasSubstr("index out of range: 99"));
  EXPECT_EQ(Render("{{not 0}} {{not .s}} {{not .missing}}"), "true false true");
  EXPECT_EQ(Render("{{.a | and 1}}"), "1");
  EXPECT_THAT(Render("{{and}}"), HasSubstr("wrong number of args for and: want at least 1 got 0"));
}

TEST(TemplateCompare, EqNeLtLeGtGe) {
  EXPECT_EQ(Render("{{eq 2 1 2}} {{eq 2 1 3}} {{eq .s \"str\"}} {{eq .missing .nil}}"),
            "true false true true");
  EXPECT_EQ(Render("{{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt 3 2}} {{ge 1 2}} {{lt \"a\" \"b\"}}"),
            "true true true true false true");
  EXPECT_EQ(Render("{{lt 1.5 2.5}} {{eq .missing 1}}"), "true false");
  EXPECT_EQ(Render("{{eq \"a\" 1}}"),
            "ERROR: template: t:1:3: executing \"t\" at <eq \"a\" 1>: error calling eq: "
            "incompatible types for comparison: string and int");
  EXPECT_THAT(Render("{{lt 1 2.0}}"), HasSubstr("incompatible types for comparison"));
  EXPECT_THAT(Render("{{lt true false}}"), HasSubstr("invalid type for comparison"));
  EXPECT_THAT(Render("{{eq .l .l}}"), HasSubstr("non-comparable type [1 2]: []interface {}"));
  EXPECT_THAT(Render("{{ne 1}}"), HasSubstr("wrong number of args for ne: want 2 got 1"));
}

TEST(TemplatePrintf, VerbsFlagsWidthPrecision) {
  EXPECT_EQ(
      Render(
          R"({{printf "%5.2f|%-4d|%04d|%q|%t|%x|%X|%v|%s|%+d|%8.3s|" 3.14159 7 42 "hi" true 255 "hi" .l "s" 5 "abcdef"}})"),
      " 3.14|7   |0042|\"hi\"|true|ff|6869|[1 2]|s|+5|     abc|");
  EXPECT_EQ(
      Render(
          R"({{printf "%e %g %.3g %v %o %b %c %#x %T %%" 1234.5678 0.000012 3.14159 1e21 8 5 65 255 .m}})"),
      "1.234568e+03 1.2e-05 3.14 1e+21 10 101 A 0xff map[string]interface {} %");
  EXPECT_EQ(
      Render(R"({{printf "%d" "x"}}|{{printf "%s %s" "a"}}|{{printf "a" 1}}|{{printf "%d" .l}})"),
      "%!d(string=x)|a %!s(MISSING)|a%!(EXTRA int=1)|[1 2]");
  EXPECT_EQ(Render(R"({{printf "%v %d" .missing .missing}})"), "<nil> %!d(<nil>)");
  EXPECT_EQ(Render(R"({{printf "%q" "a\"b\n"}})"), R"("a\"b\n")");
  EXPECT_THAT(Render(R"({{printf "%U" 1}})"), HasSubstr("printf: verb %U is not supported"));
  EXPECT_THAT(Render(R"({{printf "%x" 1.5}})"),
              HasSubstr("printf: %x of a float64 is not supported"));
  EXPECT_EQ(Render(R"({{printf "%05s|%z|%!" "ab" 1}})"), "000ab|%!z(int=1)|%!!(MISSING)");
  EXPECT_EQ(Render(R"({{printf "%6.2e|%-8v|%08.3f|%+.1f|% d|%5t|%.0f|%10.4v|%.3d|%6.3d|%3c")"
                   R"( 12345.678 "ab" 3.14159 2.55 5 true 2.5 3.14159265 7 -7 65}})"),
            "1.23e+04|ab      |0003.142|+2.5| 5| true|2|     3.142|007|  -007|  A");
  EXPECT_THAT(Render(R"({{printf 1}})"),
              HasSubstr("error calling printf: wrong type for value; expected string; got int"));
}

TEST(TemplatePrint, PrintAndPrintln) {
  EXPECT_EQ(Render(R"({{print 1 2 "a" 3 "b" "c"}})"), "1 2a3bc");
  EXPECT_EQ(Render(R"({{println 1 "a"}})"), "1 a\n");
  EXPECT_EQ(Render(R"({{print nil .l}})"), "<nil> [1 2]");
}

TEST(TemplateIndex, IndexLenSlice) {
  EXPECT_EQ(
      Render(R"({{index .l 1}} {{index .m "k"}} {{index .nested "list" 0}} {{index .m "zz"}})"),
      "2 v p <no value>");
  EXPECT_EQ(Render("{{index .l 5}}"),
            "ERROR: template: t:1:3: executing \"t\" at <index .l 5>: "
            "error calling index: index out of range: 5");
  EXPECT_THAT(Render("{{index .m 1}}"), HasSubstr("value has type int; should be string"));
  EXPECT_THAT(Render("{{index .a 1}}"), HasSubstr("can't index item of type int"));
  EXPECT_THAT(Render("{{index .missing 1}}"), HasSubstr("index of untyped nil"));
  EXPECT_EQ(Render("{{index .s 0}}"), "115");
  EXPECT_EQ(Render("{{len .l}} {{len .m}} {{len \"h\xC3\xA9\"}} {{len .empty}}"), "2 3 3 0");
  EXPECT_THAT(Render("{{len .a}}"), HasSubstr("error calling len: len of type int"));
  EXPECT_THAT(Render("{{len}}"), HasSubstr("at <len>: wrong number of args for len: want 1 got 0"));
  EXPECT_EQ(Render(R"({{slice "abcdef" 1 3}} {{slice .n 3}} {{slice .n 1 2}})"), "bc [4 5] [2]");
  EXPECT_THAT(Render(R"({{slice "abc" 2 1}})"), HasSubstr("invalid slice index: 2 > 1"));
}

TEST(TemplateEscapers, HtmlJsUrlquery) {
  EXPECT_EQ(Render(R"({{html "<a href='x'>&\"</a>"}})"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&#34;&lt;/a&gt;");
  EXPECT_EQ(Render(R"({{urlquery "a b&c=d/é"}})"), "a+b%26c%3Dd%2F%C3%A9");
  EXPECT_EQ(Render(R"({{js "it's <b>"}})"), "it\\'s \\u003Cb\\u003E");
}

TEST(TemplateFuncs, UserFunctionsAndErrors) {
  FuncMap funcs;
  funcs["upper"] = {[](std::span<const Value> a) -> absl::StatusOr<Value> {
                      std::string s = a[0].is_string() ? a[0].as_string() : "";
                      for (char& c : s) c = static_cast<char>(std::toupper(c));
                      return Value(s);
                    },
                    1, 1};
  funcs["fail"] = {[](std::span<const Value>) -> absl::StatusOr<Value> {
                     return absl::InvalidArgumentError("boom");
                   },
                   0, 0};
  EXPECT_EQ(Render("{{.s | upper}} {{upper \"x\"}}", Data(), funcs), "STR X");
  EXPECT_EQ(Render("\n\n  {{fail}}", Data(), funcs),
            "ERROR: template: t:3:5: executing \"t\" at <fail>: error calling fail: boom");
  EXPECT_EQ(Render("{{upper 1 2}}", Data(), funcs),
            "ERROR: template: t:1:3: executing \"t\" at <upper>: wrong number of args for upper: "
            "want 1 got 2");
  EXPECT_EQ(Render("{{nofunc 1}}"), "ERROR: template: t:1:3: function \"nofunc\" not defined");
}

TEST(TemplateParseErrors, NameLineAndColumn) {
  auto t = Parse("query.sql", "select *\nfrom t\nwhere {{ .a } }");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(), "template: query.sql:3:13: unexpected \"}\" in operand");
  EXPECT_EQ(Render("{{if}}x{{end}}"), "ERROR: template: t:1:5: missing value for if");
  EXPECT_EQ(Render("a{{end}}"), "ERROR: template: t:1:2: unexpected {{end}}");
  EXPECT_EQ(Render("{{else}}"), "ERROR: template: t:1:1: unexpected {{else}}");
  EXPECT_EQ(Render("{{if .a}}x"), "ERROR: template: t:1:11: unexpected EOF");
  EXPECT_EQ(Render("ab {{.a"), "ERROR: template: t:1:4: unclosed action");
  EXPECT_EQ(Render("{{\"abc}}"), "ERROR: template: t:1:3: unterminated quoted string");
  EXPECT_EQ(Render("{{.a)}}"), "ERROR: template: t:1:5: unexpected right paren");
  EXPECT_EQ(Render("{{(.a}}"), "ERROR: template: t:1:6: unclosed left paren");
  EXPECT_EQ(Render("{{$x}}"), "ERROR: template: t:1:3: undefined variable \"$x\"");
  EXPECT_EQ(Render("{{template .a}}"),
            "ERROR: template: t:1:12: unexpected \".a\" in template "
            "clause");
  EXPECT_EQ(Render("{{range .l}}{{else}}{{else}}{{end}}"),
            "ERROR: template: t:1:21: expected end; found {{else}}");
  EXPECT_EQ(Render("{{.a # }}"), "ERROR: template: t:1:6: unexpected \"#\" in operand");
  EXPECT_EQ(Render("{{\"x\".y}}"), "ERROR: template: t:1:3: unexpected . after term \"\\\"x\\\"\"");
  EXPECT_EQ(Render("{{$a, $b := .l}}"),
            "ERROR: template: t:1:3: too many declarations in "
            "command");
}

TEST(TemplateParseErrors, DeepNestingIsRejectedNotCrashing) {
  std::string deep(5000, '(');
  deep = "{{" + deep + "1" + std::string(5000, ')') + "}}";
  EXPECT_THAT(Render(deep), HasSubstr("nesting is too deep"));
  std::string ifs;
  for (int i = 0; i < 5000; ++i) ifs += "{{if 1}}";
  EXPECT_THAT(Render(ifs), HasSubstr("nesting is too deep"));
  std::string chain = "{{if 0}}";
  for (int i = 0; i < 5000; ++i) chain += "{{else if 0}}";
  EXPECT_THAT(Render(chain + "{{end}}"), HasSubstr("nesting is too deep"));
  // Within the limit, a long chain works and picks the right branch.
  chain = "{{if 0}}";
  for (int i = 1; i < 60; ++i)
    chain += "{{else if eq .a " + std::to_string(i) + "}}" + std::to_string(i);
  EXPECT_EQ(Render(chain + "{{end}}"), "1");
}

}  // namespace
}  // namespace optimus::tmpl
