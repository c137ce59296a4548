// Config: declared keys, YAML + environment + overrides, and the errors users see.
#include "optimus/config/config.h"

#include <fstream>

#include "optimus/testing/testing.h"

namespace optimus::config {
namespace {

using ::testing::HasSubstr;

Schema TestSchema() {
  Schema schema;
  schema.Add({.name = "http.port",
              .type = Type::kInt,
              .default_value = "8080",
              .description = "REST port",
              .min = 0,
              .max = 65535});
  schema.Add({.name = "bus.kind",
              .type = Type::kString,
              .default_value = "embedded",
              .description = "which bus",
              .one_of = {"embedded", "kafka"}});
  schema.Add({.name = "bus.kafka.brokers", .type = Type::kStringList, .description = "brokers"});
  schema.Add({.name = "relay.idle",
              .type = Type::kDuration,
              .default_value = "1s",
              .description = "idle wait"});
  schema.Add({.name = "auth.token", .type = Type::kString, .description = "token", .secret = true});
  schema.Add({.name = "debug", .type = Type::kBool, .default_value = "false", .description = "d"});
  return schema;
}

std::string WriteFile(const testing::TempDir& dir, const std::string& text) {
  const std::string path = dir.File("config.yaml");
  std::ofstream(path) << text;
  return path;
}

TEST(ConfigTest, DefaultsApplyWithoutFile) {
  auto config = Load(TestSchema(), "", {});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->Int("http.port"), 8080);
  EXPECT_EQ(config->String("bus.kind"), "embedded");
  EXPECT_EQ(config->DurationMs("relay.idle"), 1000);
  EXPECT_FALSE(config->Bool("debug"));
  EXPECT_FALSE(config->Has("bus.kafka.brokers"));
  EXPECT_EQ(config->Origin("http.port"), "default");
}

TEST(ConfigTest, FileThenEnvironmentThenOverrides) {
  testing::TempDir dir;
  const std::string path = WriteFile(dir,
                                     "http:\n  port: 9000\n"
                                     "bus:\n  kind: kafka\n  kafka:\n    brokers: [a:1, b:2]\n"
                                     "relay:\n  idle: 250ms\n");
  auto config = Load(TestSchema(), path, {{"OPTIMUS_HTTP_PORT", "9100"}}, {{"debug", "yes"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->Int("http.port"), 9100);
  EXPECT_EQ(config->Origin("http.port"), "$OPTIMUS_HTTP_PORT");
  EXPECT_EQ(config->String("bus.kind"), "kafka");
  EXPECT_EQ(config->Origin("bus.kind"), path + ":4");
  EXPECT_EQ(config->StringList("bus.kafka.brokers"), (std::vector<std::string>{"a:1", "b:2"}));
  EXPECT_EQ(config->DurationMs("relay.idle"), 250);
  EXPECT_TRUE(config->Bool("debug"));
}

TEST(ConfigTest, YamlValuesKeepTheirStructureFromFileAndEnvironment) {
  Schema schema;
  schema.Add({.name = "plugins.providers", .type = Type::kYaml, .description = "providers"});
  testing::TempDir dir;
  const std::string path = WriteFile(
      dir, "plugins:\n  providers:\n  - name: web\n    type: http\n    url: http://x/p\n");
  auto config = Load(schema, path, {});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->Yaml("plugins.providers"), "[{name: web, type: http, url: http://x/p}]");
  EXPECT_EQ(config->Origin("plugins.providers"), path + ":2");
  auto from_env = Load(schema, "", {{"OPTIMUS_PLUGINS_PROVIDERS", R"([{"name": "disk"}])"}});
  ASSERT_TRUE(from_env.ok()) << from_env.status();
  EXPECT_EQ(from_env->Yaml("plugins.providers"), R"([{"name": "disk"}])");
  auto broken = Load(schema, "", {{"OPTIMUS_PLUGINS_PROVIDERS", "[{name: disk"}});
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(std::string(broken.status().message()), HasSubstr("must be YAML or JSON text"));
  EXPECT_EQ(Load(schema, "", {})->Yaml("plugins.providers"), "");
}

TEST(ConfigTest, UnknownKeyNamesTheKeyTheLineAndASuggestion) {
  testing::TempDir dir;
  const std::string path = WriteFile(dir, "http:\n  port: 1\nbus:\n  kafak:\n    brokers: x\n");
  auto config = Load(TestSchema(), path, {});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(std::string(config.status().message()),
            "unknown config key 'bus.kafak' at " + path + ":4");
  const std::string typo = WriteFile(dir, "http:\n  prot: 1\n");
  auto config2 = Load(TestSchema(), typo, {});
  EXPECT_THAT(
      std::string(config2.status().message()),
      HasSubstr("unknown config key 'http.prot' at " + typo + ":2 (did you mean 'http.port'?)"));
}

TEST(ConfigTest, WrongTypesAreAllReportedWithTheirOrigin) {
  auto config = Load(TestSchema(), "",
                     {{"OPTIMUS_HTTP_PORT", "eighty"},
                      {"OPTIMUS_BUS_KIND", "rabbit"},
                      {"OPTIMUS_RELAY_IDLE", "soon"},
                      {"OPTIMUS_DEBUG", "maybe"}});
  ASSERT_FALSE(config.ok());
  const std::string message(config.status().message());
  EXPECT_THAT(message, HasSubstr("config key 'http.port' must be an integer, got 'eighty' "
                                 "(from $OPTIMUS_HTTP_PORT)"));
  EXPECT_THAT(message, HasSubstr("'bus.kind' must be one of embedded, kafka, got 'rabbit'"));
  EXPECT_THAT(message, HasSubstr("'relay.idle' must be a duration"));
  EXPECT_THAT(message, HasSubstr("'debug' must be true or false, got 'maybe'"));
}

TEST(ConfigTest, BoundsAreChecked) {
  auto config = Load(TestSchema(), "", {{"OPTIMUS_HTTP_PORT", "70000"}});
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              HasSubstr("must be at most 65535, got 70000"));
}

TEST(ConfigTest, MapWhereScalarExpected) {
  testing::TempDir dir;
  const std::string path = WriteFile(dir, "http:\n  port:\n    x: 1\n");
  auto config = Load(TestSchema(), path, {});
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(
      std::string(config.status().message()),
      HasSubstr("config key 'http.port' must be an integer, got a map (from " + path + ":2)"));
}

TEST(ConfigTest, MalformedYamlGivesLineAndColumn) {
  testing::TempDir dir;
  const std::string path = WriteFile(dir, "http:\n  port: [1, 2\n");
  auto config = Load(TestSchema(), path, {});
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()), HasSubstr(path + ":"));
}

TEST(ConfigTest, MissingFileIsNotFound) {
  auto config = Load(TestSchema(), "/no/such/config.yaml", {});
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("/no/such/config.yaml"));
}

TEST(ConfigTest, RequiredKeysAndSecrets) {
  Schema schema = TestSchema();
  schema.Add({.name = "db.dsn", .type = Type::kString, .description = "dsn", .required = true});
  auto missing = Load(schema, "", {});
  EXPECT_THAT(
      std::string(missing.status().message()),
      HasSubstr("config key 'db.dsn' is required: set it in the config file or OPTIMUS_DB_DSN"));
  auto config = Load(schema, "", {{"OPTIMUS_DB_DSN", "x"}, {"OPTIMUS_AUTH_TOKEN", "hunter2"}});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->Redacted().at("auth.token"), "***");
  EXPECT_EQ(config->String("auth.token"), "hunter2");
}

TEST(ConfigTest, UnknownOverrideIsRefused) {
  auto config = Load(TestSchema(), "", {}, {{"http.prot", "1"}});
  EXPECT_THAT(std::string(config.status().message()),
              HasSubstr("unknown config key 'http.prot' in --set"));
}

TEST(ConfigTest, DescribeListsEveryKeyWithItsEnvironmentName) {
  const std::string text = TestSchema().Describe();
  EXPECT_THAT(text, HasSubstr("bus.kafka.brokers (list of strings)"));
  EXPECT_THAT(text, HasSubstr("env: OPTIMUS_BUS_KAFKA_BROKERS"));
}

}  // namespace
}  // namespace optimus::config
