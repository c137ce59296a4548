// YamlScalar must write every string so that it reads back unchanged.
#include "optimus/spec/yaml_text.h"

#include <gtest/gtest.h>

#include "optimus/spec/loaders.h"

namespace optimus::spec {
namespace {

TEST(YamlScalarTest, EveryTrickyStringReadsBackUnchanged) {
  const std::string values[] = {"plain",
                                "sample-project.dataset.table",
                                "",
                                "true",
                                "no",
                                "null",
                                "~",
                                "01",
                                "1.5e3",
                                "0x1F",
                                "1_000",
                                ".5",
                                "1e3",
                                "1d",
                                "-1d",
                                "12:30",
                                "a: b",
                                "a #b",
                                "#x",
                                "- item",
                                "{{.DSTART}}",
                                "event_ts >= \"{{.DSTART}}\"",
                                " leading",
                                "trailing ",
                                "line\nbreak",
                                "tab\there",
                                "back\\slash",
                                "'single'",
                                "\"double\"",
                                "[list]",
                                "a,b",
                                "ends:",
                                "@at",
                                "%pct",
                                "*star",
                                "&amp",
                                "!bang",
                                "|pipe",
                                ">gt",
                                "?q",
                                "gs://bucket/prefix",
                                "http://airflow:8080",
                                "0 2 * * *",
                                "ünïcødé"};
  for (const std::string& v : values) {
    Diagnostics d;
    const std::string text = "k: " + YamlScalar(v) + "\n";
    auto map = LoadStringMap("t.yaml", text, d);
    ASSERT_TRUE(map.has_value()) << text << d.ToString();
    EXPECT_TRUE(d.empty()) << text << d.ToString();
    EXPECT_EQ((*map)["k"], v) << "written as: " << text;
  }
}

TEST(YamlScalarTest, SafeStringsStayPlain) {
  EXPECT_EQ(YamlScalar("bq2bq"), "bq2bq");
  EXPECT_EQ(YamlScalar("sample-project.growth.t1"), "sample-project.growth.t1");
  EXPECT_EQ(YamlScalar("http://airflow:8080"), "http://airflow:8080");
  EXPECT_EQ(YamlScalar("true"), "\"true\"");
  EXPECT_EQ(YamlScalar("1d"), "1d");
  EXPECT_EQ(YamlScalar("-24h"), "-24h");
  EXPECT_EQ(YamlScalar("2.10"), "\"2.10\"");
  EXPECT_EQ(YamlScalar("0x1F"), "\"0x1F\"");
}

}  // namespace
}  // namespace optimus::spec
