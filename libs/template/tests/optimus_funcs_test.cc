// Tests of the Optimus function map, CompileString and the two-pass CompileAssets.
#include "optimus/template/optimus_funcs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include "absl/time/civil_time.h"

namespace optimus::tmpl {
namespace {

using ::testing::HasSubstr;

absl::TimeZone Jakarta() {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone("Asia/Jakarta", &tz));
  return tz;
}

FuncContext Ctx(absl::TimeZone zone = absl::UTCTimeZone()) {
  FuncContext ctx;
  ctx.zone = zone;
  ctx.now = absl::FromUnixSeconds(1700000000);  // 2023-11-14T22:13:20Z
  return ctx;
}

Value Data() {
  absl::TimeZone utc = absl::UTCTimeZone();
  return Value::MakeMap({
      {"DSTART", "2023-03-07T00:00:00Z"},
      {"DEND", "2023-03-08T00:00:00+07:00"},
      {"EXECUTION_TIME", "2023-03-08 02:00:00"},
      {"t", GoTime{absl::FromCivil(absl::CivilSecond(2023, 3, 31, 10, 0, 0), utc), utc}},
      {"n", 42},
  });
}

std::string Compile(std::string_view text, const FuncContext& ctx = Ctx(),
                    const Value& data = Data()) {
  auto out = CompileString("t", text, data, ctx);
  if (!out.ok()) return "ERROR: " + std::string(out.status().message());
  return *out;
}

TEST(OptimusFuncs, ReferenceExamplePipeline) {
  const char* text =
      R"({{ .DSTART | Date | toDate "2006-01-02" | date_modify "-24h" | date "2006-01-02" }})";
  EXPECT_EQ(Compile(text), "2023-03-06");
  EXPECT_EQ(Compile(text, Ctx(Jakarta())), "2023-03-06");
}

TEST(OptimusFuncs, DateTakesRfc3339) {
  EXPECT_EQ(Compile("{{ Date .DSTART }} {{ Date .DEND }}"), "2023-03-07 2023-03-08");
  EXPECT_EQ(Compile(R"({{ Date "2023-03-07T10:00:00.123+07:00" }})"), "2023-03-07");
  EXPECT_EQ(Compile(R"({{ Date "2023-03-07" }})"),
            "ERROR: template: t:1:4: executing \"t\" at <Date \"2023-03-07\">: error calling "
            "Date: parsing time \"2023-03-07\" as \"2006-01-02T15:04:05Z07:00\": cannot parse "
            "\"\" as \"T\"");
}

TEST(OptimusFuncs, DateFormatsInTheLocalZone) {
  EXPECT_EQ(Compile(R"({{ date "2006-01-02 15:04" .t }})", Ctx(Jakarta())), "2023-03-31 17:00");
  EXPECT_EQ(Compile(R"({{ date "2006-01-02 15:04" .t }})"), "2023-03-31 10:00");
  // Not a time: "now" from the context; an int: Unix seconds.
  EXPECT_EQ(Compile(R"({{ date "2006-01-02T15:04:05" "x" }})"), "2023-11-14T22:13:20");
  EXPECT_EQ(Compile(R"({{ date "2006-01-02" 86400 }})"), "1970-01-02");
}

TEST(OptimusFuncs, ToDateDateModifyUnixEpoch) {
  EXPECT_EQ(Compile(R"({{ toDate "2006-01-02" "2023-03-07" | unixEpoch }})"), "1678147200");
  EXPECT_EQ(Compile(R"({{ toDate "2006-01-02" "2023-03-07" | unixEpoch }})", Ctx(Jakarta())),
            "1678122000");
  EXPECT_EQ(
      Compile(
          R"({{ toDate "2006-01-02 15:04:05" .EXECUTION_TIME | date_modify "1h30m" | date "15:04" }})"),
      "03:30");
  // Errors are swallowed as in Optimus: a bad date is Go's zero time, a bad duration is ignored.
  EXPECT_EQ(Compile(R"({{ toDate "2006-01-02" "garbage" | unixEpoch }})"), "-62135596800");
  EXPECT_EQ(Compile(R"({{ .t | date_modify "soon" | date "2006-01-02" }})"), "2023-03-31");
  EXPECT_THAT(Compile(R"({{ date_modify "1h" .DSTART }})"),
              HasSubstr("wrong type for value; expected time.Time; got string"));
  EXPECT_THAT(Compile(R"({{ unixEpoch .missing }})"),
              HasSubstr("invalid value; expected time.Time"));
}

TEST(OptimusFuncs, ReplaceTruncListJoin) {
  EXPECT_EQ(Compile(R"({{ replace "-" "_" "a-b-c" }} {{ "a.b" | replace "." "__dot__" }})"),
            "a_b_c a__dot__b");
  EXPECT_EQ(Compile(R"({{ replace "" "." "ab" }})"), ".a.b.");
  EXPECT_EQ(
      Compile(
          R"({{ trunc 3 "abcdef" }}|{{ trunc -1 "abc" }}|{{ trunc 10 "abc" }}|{{ trunc 0 "abc" }})"),
      "abc|abc|abc|");
  EXPECT_THAT(Compile(R"({{ trunc "3" "abc" }})"),
              HasSubstr("error calling trunc: wrong type for value; expected int; got string"));
  EXPECT_EQ(Compile(R"({{ list "a" "b" "c" | join "," }}|{{ join "-" (list) }})"), "a,b,c|");
  EXPECT_THAT(Compile(R"({{ list "a" 1 }})"), HasSubstr("expected string; got int"));
  EXPECT_THAT(Compile(R"({{ join "," "ab" }})"), HasSubstr("expected []string; got string"));
}

TEST(OptimusFuncs, DateFromRelativeAbsoluteAndNormalised) {
  auto d = [](const std::string& day, const std::string& month) {
    return Compile("{{ dateFrom \"" + day + "\" \"" + month +
                   "\" .t | date \"2006-01-02 15:04\" }}");
  };
  EXPECT_EQ(d("", ""), "2023-03-31 10:00");
  EXPECT_EQ(d("-1", ""), "2023-03-30 10:00");
  EXPECT_EQ(d("5", ""), "2023-03-05 10:00");
  EXPECT_EQ(d("1", "+1"), "2023-04-01 10:00");
  EXPECT_EQ(d("", "-1"), "2023-03-03 10:00");     // Feb 31 normalises to Mar 3, as in Go.
  EXPECT_EQ(d("0", ""), "2023-02-28 10:00");      // Day 0 is the last day of the month before.
  EXPECT_EQ(d("31", "+11"), "2024-03-02 10:00");  // Month 14 is February of the next year.
  EXPECT_EQ(d("+1", "12"), "2024-01-01 10:00");
  EXPECT_THAT(d("x", ""), HasSubstr("strconv.Atoi: parsing \"x\": invalid syntax"));
}

TEST(OptimusFuncs, DateFromStr) {
  EXPECT_EQ(Compile(R"({{ dateFromStr "-1" "" "2023-03-01T05:00:00+07:00" }})"), "2023-02-28");
  EXPECT_EQ(Compile(R"({{ dateFromStr "1" "-1" .DSTART }})"), "2023-02-01");
  EXPECT_THAT(Compile(R"({{ dateFromStr "1" "" "2023-03-01" }})"), HasSubstr("cannot parse"));
}

TEST(OptimusCompile, OutputIsTrimmedAndMissingKeysShow) {
  EXPECT_EQ(Compile("\n\n  select '{{.DSTART}}', '{{.NOPE}}'  \n\n"),
            "select '2023-03-07T00:00:00Z', '<no value>'");
}

TEST(OptimusCompile, AssetsResolveIncludesInTwoPasses) {
  std::map<std::string, std::string> files = {
      // Sorted before the partial it includes and the file that defines its macro.
      {"a_query.sql",
       "\n{{template \"z_columns.gtpl\" .}}\nfrom t where d = '{{template \"macro\" .DSTART}}'\n"},
      {"b_macros.sql", "{{define \"macro\"}}{{. | Date}}{{end}}  -- macros\n"},
      {"z_columns.gtpl", "select {{.n}} as n"},
      // Partials are parsed too (so they must be valid) but come back untouched.
      {"notes.j2", "{{/* jinja-ish, kept verbatim */}} {{.n}}"},
  };
  auto out = CompileAssets(files, Data(), Ctx());
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->at("a_query.sql"), "select 42 as n\nfrom t where d = '2023-03-07'");
  EXPECT_EQ(out->at("b_macros.sql"), "-- macros");
  EXPECT_EQ(out->at("z_columns.gtpl"), "select {{.n}} as n");
  EXPECT_EQ(out->at("notes.j2"), "{{/* jinja-ish, kept verbatim */}} {{.n}}");
  EXPECT_EQ(out->size(), 4u);
}

// Plain text takes a short cut past the template engine; it must render exactly as the engine
// would: trimmed, except partials, which come back untouched.
TEST(OptimusCompile, TextWithoutActionsRendersAsTheEngineWould) {
  const std::string plain = "\n  select a, '}}' from t -- { {\n\n";
  auto fast = CompileString("t", plain, Data(), Ctx());
  ASSERT_TRUE(fast.ok());
  EXPECT_EQ(*fast, "select a, '}}' from t -- { {");
  // One action anywhere sends every file through the engine: compare both paths.
  std::map<std::string, std::string> files = {{"q.sql", plain}, {"p.gtpl", plain}};
  auto shortcut = CompileAssets(files, Data(), Ctx());
  files["x.sql"] = "{{.n}}";
  auto engine = CompileAssets(files, Data(), Ctx());
  ASSERT_TRUE(shortcut.ok() && engine.ok());
  EXPECT_EQ(shortcut->at("q.sql"), engine->at("q.sql"));
  EXPECT_EQ(shortcut->at("p.gtpl"), engine->at("p.gtpl"));
  EXPECT_EQ(shortcut->at("p.gtpl"), plain);
  EXPECT_EQ(engine->at("x.sql"), "42");
}

TEST(OptimusCompile, AssetErrorsNameTheFile) {
  auto out = CompileAssets({{"ok.sql", "x"}, {"bad.sql", "select\n{{ .a } }"}}, Data(), Ctx());
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(),
            "unable to parse asset bad.sql: template: bad.sql:2:7: unexpected \"}\" in operand");
  out = CompileAssets({{"run.sql", "{{template \"missing.gtpl\"}}"}}, Data(), Ctx());
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()),
              HasSubstr("unable to render asset run.sql: template: run.sql:1:1: executing "
                        "\"run.sql\" at <{{template \"missing....>: template \"missing.gtpl\" "
                        "not defined"));
}

TEST(OptimusCompile, PartialAssetNames) {
  EXPECT_TRUE(IsPartialAsset("a.gtpl"));
  EXPECT_TRUE(IsPartialAsset("dir/b.j2"));
  EXPECT_TRUE(IsPartialAsset("c.tmpl"));
  EXPECT_TRUE(IsPartialAsset("d.tpl"));
  EXPECT_FALSE(IsPartialAsset("query.sql"));
  EXPECT_FALSE(IsPartialAsset("gtpl.sql"));
}

TEST(OptimusCompile, GuideExampleRenders) {
  // The "language in one screen" example of docs/templates.md.
  const char* text = R"(select * from `{{ .proj.PROJECT }}.{{ .proj.DATASET }}.events`
where d >= '{{ .DSTART | Date }}'
{{- /* a comment; the dash trims the whitespace before it */}}
{{ if .task.LIMIT }}limit {{ .task.LIMIT }}{{ else }}-- no limit{{ end }}
{{ range $i, $c := .countries }}{{ if $i }}, {{ end }}'{{ $c }}'{{ end }}
{{ with .secret.TOKEN }}token={{ . }}{{ else }}no token{{ end }}
{{ $d := .DSTART | Date }}{{ $d = printf "%s!" $d }}{{ $d }}
{{ define "cols" }}a, b, c{{ end }}select {{ template "cols" . }} from t)";
  Value data = Value::MakeMap({
      {"DSTART", "2023-03-07T00:00:00Z"},
      {"proj", Value::MakeMap({{"PROJECT", "p"}, {"DATASET", "d"}})},
      {"task", Value::MakeMap({{"LIMIT", "10"}})},
      {"countries", Value::MakeList({"ID", "SG"})},
  });
  EXPECT_EQ(Compile(text, Ctx(), data),
            "select * from `p.d.events`\n"
            "where d >= '2023-03-07'\n"
            "limit 10\n"
            "'ID', 'SG'\n"
            "no token\n"
            "2023-03-07!\n"
            "select a, b, c from t");
}

TEST(TemplateCache, RendersAsTheUncachedCompilersWithEachCallsContext) {
  TemplateCache cache(100);
  const std::string text = R"({{ date "2006-01-02 15:04" .t }} {{ .DSTART | Date }})";
  for (const FuncContext& ctx : {Ctx(), Ctx(Jakarta()), Ctx()}) {
    auto cached = cache.CompileString("t", text, Data(), ctx);
    ASSERT_TRUE(cached.ok()) << cached.status();
    EXPECT_EQ(*cached, Compile(text, ctx)) << "each render reads its own zone";
  }
  EXPECT_EQ(cache.size(), 1u) << "parsed once";
  EXPECT_EQ(*cache.CompileString("t", "  plain  ", Data(), Ctx()), "plain");
  EXPECT_EQ(cache.size(), 1u) << "plain text is not kept";

  auto broken = cache.CompileString("KEY", "{{ .x ", Data(), Ctx());
  EXPECT_FALSE(broken.ok());
  EXPECT_EQ(broken.status().message(),
            CompileString("KEY", "{{ .x ", Data(), Ctx()).status().message())
      << "a text that does not parse fails the same way, every time";
  EXPECT_FALSE(cache.CompileString("KEY", "{{ .x ", Data(), Ctx()).ok());

  const std::map<std::string, std::string> files = {
      {"query.sql", R"(select {{ template "cols.gtpl" }} where d = "{{ .DSTART | Date }}")"},
      {"cols.gtpl", "a, b"}};
  auto assets = cache.CompileAssets(files, Data(), Ctx());
  ASSERT_TRUE(assets.ok()) << assets.status();
  EXPECT_EQ(*assets, *CompileAssets(files, Data(), Ctx()));
  EXPECT_EQ(assets->at("query.sql"), R"(select a, b where d = "2023-03-07")");

  // Past its bound it starts afresh and still answers.
  for (int i = 0; i < 150; ++i) {
    ASSERT_TRUE(cache.CompileString("k" + std::to_string(i), "{{ .n }}", Data(), Ctx()).ok());
  }
  EXPECT_LE(cache.size(), 100u);

  // A byte budget too: texts larger than it render but are not kept.
  TemplateCache small(100, 64);
  const std::string big = "{{ .n }}" + std::string(100, ' ');
  EXPECT_EQ(*small.CompileString("k", big, Data(), Ctx()), "42");
  EXPECT_EQ(small.size(), 0u);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(*small.CompileString("k" + std::to_string(i), "{{ .n }} {{ .n }}", Data(), Ctx()),
              "42 42");
  }
  EXPECT_LE(small.size(), 3u) << "about 22 bytes a key within 64";
}

TEST(TemplateCache, ManyThreadsRenderTheSameTextsAtOnce) {
  TemplateCache cache;
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      const FuncContext ctx = t % 2 == 0 ? Ctx() : Ctx(Jakarta());
      const std::string want = t % 2 == 0 ? "2023-03-31 10:00" : "2023-03-31 17:00";
      for (int i = 0; i < 500; ++i) {
        auto out = cache.CompileString("t" + std::to_string(i % 7),
                                       R"({{ date "2006-01-02 15:04" .t }})", Data(), ctx);
        if (!out.ok() || *out != want) wrong.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(cache.size(), 7u);
}

}  // namespace
}  // namespace optimus::tmpl
