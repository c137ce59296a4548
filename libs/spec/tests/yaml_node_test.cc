// Tests of the YAML tree the loaders read: kinds, places, anchors, merges and the guards
// against hostile documents.
#include "../src/yaml_node.h"

#include <gtest/gtest.h>

#include <string>

namespace optimus::spec::internal {
namespace {

YamlNode Parse(const std::string& text) {
  auto parsed = ParseYaml(text);
  if (auto* error = std::get_if<YamlError>(&parsed)) {
    ADD_FAILURE() << "parse error: " << error->message;
    return YamlNode();
  }
  return std::get<YamlNode>(std::move(parsed));
}

YamlError ParseError(const std::string& text) {
  auto parsed = ParseYaml(text);
  if (auto* error = std::get_if<YamlError>(&parsed)) return *error;
  ADD_FAILURE() << "parsed without error: " << text;
  return YamlError{};
}

TEST(YamlNodeTest, KindsPlacesAndLookups) {
  const YamlNode root = Parse("name: a\ntask:\n  config:\n    K: 1\nlist:\n- x\n- 'y'\n");
  ASSERT_TRUE(root.IsMap());
  EXPECT_EQ(root["name"].Scalar(), "a");
  EXPECT_EQ(root["name"].line(), 1);
  EXPECT_EQ(root["name"].column(), 7);
  const YamlNode& config = root["task"]["config"];
  EXPECT_TRUE(config.IsMap());
  EXPECT_EQ(config.line(), 4);
  EXPECT_EQ(config.column(), 5);
  EXPECT_EQ(config["K"].Scalar(), "1");
  EXPECT_FALSE(config["K"].quoted());
  const YamlNode& list = root["list"];
  ASSERT_TRUE(list.IsSequence());
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1].Scalar(), "y");
  EXPECT_TRUE(list[1].quoted());
  EXPECT_FALSE(list[2].IsDefined());
  EXPECT_FALSE(root["missing"].IsDefined());
  EXPECT_FALSE(root["name"]["deeper"].IsDefined());
}

TEST(YamlNodeTest, NullsAreOnlyPlainNullWords) {
  const YamlNode root = Parse("a:\nb: ~\nc: null\nd: 'null'\ne: \"\"\nf: NULL\n");
  EXPECT_TRUE(root["a"].IsNull());
  EXPECT_TRUE(root["b"].IsNull());
  EXPECT_TRUE(root["c"].IsNull());
  EXPECT_TRUE(root["d"].IsScalar());
  EXPECT_TRUE(root["e"].IsScalar());
  EXPECT_EQ(root["e"].Scalar(), "");
  EXPECT_TRUE(root["f"].IsNull());
}

TEST(YamlNodeTest, EmptyDocumentIsNull) {
  EXPECT_TRUE(Parse("").IsNull());
  EXPECT_TRUE(Parse("# only a comment\n").IsNull());
}

TEST(YamlNodeTest, BlockScalarsAreStrings) {
  const YamlNode root = Parse("q: |\n  select 1\n  from t\nr: >-\n  a\n  b\n");
  EXPECT_EQ(root["q"].Scalar(), "select 1\nfrom t\n");
  EXPECT_TRUE(root["q"].quoted());
  EXPECT_EQ(root["r"].Scalar(), "a b");
}

TEST(YamlNodeTest, AnchorsAliasesAndMergeKeys) {
  const YamlNode root = Parse(
      "base: &base\n  size: 24h\n  offset: 0\n"
      "job:\n  <<: *base\n  offset: 1h\n"
      "again: *base\n");
  EXPECT_EQ(root["job"]["size"].Scalar(), "24h");
  EXPECT_EQ(root["job"]["offset"].Scalar(), "1h");  // the map's own key wins over the merge
  EXPECT_EQ(root["job"].size(), 2u);
  EXPECT_EQ(root["again"]["offset"].Scalar(), "0");
}

TEST(YamlNodeTest, DuplicateKeysAreKeptForTheCallerToReport) {
  const YamlNode root = Parse("a: 1\na: 2\n");
  EXPECT_EQ(root.size(), 2u);
  EXPECT_EQ(root["a"].Scalar(), "1");
}

TEST(YamlNodeTest, OnlyTheFirstDocumentIsRead) {
  const YamlNode root = Parse("a: 1\n---\nb: 2\n");
  EXPECT_EQ(root["a"].Scalar(), "1");
  EXPECT_FALSE(root["b"].IsDefined());
}

TEST(YamlNodeTest, SyntaxErrorsHaveAPlace) {
  const YamlError error = ParseError("a: 1\nb: [1, 2\n");
  EXPECT_EQ(error.line, 3);
  EXPECT_NE(error.message.find("flow sequence"), std::string::npos) << error.message;
  EXPECT_NE(ParseError("a: *nowhere\n").message.find("unknown alias *nowhere"), std::string::npos);
}

TEST(YamlNodeTest, AliasBombsAndDeepNestingAreRefused) {
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev + ", " + prev +
            ", " + prev + ", " + prev + ", " + prev + ", " + prev + ", " + prev + ", " + prev +
            ", " + prev + ", " + prev + "]\n";
  }
  EXPECT_NE(ParseError(bomb).message.find("aliases expand to more than"), std::string::npos);
  EXPECT_NE(ParseError(std::string(5000, '[')).message.find("nested more than"), std::string::npos);
}

TEST(YamlNodeTest, DumpNamesNonScalarKeys) {
  const YamlNode root = Parse("? [a, b]\n: 1\n");
  ASSERT_EQ(root.size(), 1u);
  EXPECT_EQ(root.entries()[0].first.Dump(), "[a, b]");
}

}  // namespace
}  // namespace optimus::spec::internal
