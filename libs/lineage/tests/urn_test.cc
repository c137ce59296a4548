// Destination URN templates and the URNs of tables read.
#include "optimus/lineage/urn.h"

#include <gtest/gtest.h>

namespace optimus::lineage {
namespace {

TEST(UrnTest, TemplateTakesConfigValues) {
  auto urn = RenderUrnTemplate("bigquery://<PROJECT>:<DATASET>.<TABLE>",
                               {{"PROJECT", "p"}, {"DATASET", "d"}, {"TABLE", "t"}});
  ASSERT_TRUE(urn.ok()) << urn.status();
  EXPECT_EQ(*urn, "bigquery://p:d.t");
}

TEST(UrnTest, MissingOrEmptyConfigIsNamed) {
  auto missing = RenderUrnTemplate("bigquery://<PROJECT>:<DATASET>.<TABLE>", {{"PROJECT", "p"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "destination_urn_template \"bigquery://<PROJECT>:<DATASET>.<TABLE>\" needs task "
            "config DATASET, which the job does not set");
  auto empty = RenderUrnTemplate("x://<A>", {{"A", ""}});
  EXPECT_NE(empty.status().message().find("which is empty"), std::string::npos);
  EXPECT_FALSE(RenderUrnTemplate("x://<A", {{"A", "a"}}).ok());
}

TEST(UrnTest, TableUrnsPerParser) {
  EXPECT_EQ(TableUrn("bq", TableRef{{"p", "d", "t"}}, "x"), "bigquery://p:d.t");
  EXPECT_EQ(TableUrn("bq", TableRef{{"d", "t"}}, "x"), "bigquery://x:d.t");
  EXPECT_EQ(TableUrn("sqlite", TableRef{{"raw", "orders"}}, "x"), "sqlite://raw.orders");
  EXPECT_EQ(TableUrn("sqlite", TableRef{{"orders"}}, "x"), std::nullopt);
  EXPECT_EQ(TableUrn("sqlite", TableRef{{"a", "b", "c"}}, "x"), std::nullopt);
  EXPECT_EQ(TableUrn("postgres", TableRef{{"raw", "orders"}}, ""), "postgresql://raw.orders");
  EXPECT_EQ(TableUrn("postgres", TableRef{{"db", "raw", "orders"}}, ""), "postgresql://raw.orders");
  EXPECT_EQ(TableUrn("postgres", TableRef{{"orders"}}, ""), std::nullopt);
  EXPECT_EQ(TableUrn("bq", TableRef{{"d", "t"}}, ""), std::nullopt);
  EXPECT_EQ(TableUrn("bq", TableRef{{"t"}}, "x"), std::nullopt);
  EXPECT_EQ(TableUrn("maxcompute", TableRef{{"p", "s", "t"}}, ""), "maxcompute://p.s.t");
  EXPECT_EQ(TableUrn("maxcompute", TableRef{{"p", "t"}}, ""), "maxcompute://p.t");
}

}  // namespace
}  // namespace optimus::lineage
