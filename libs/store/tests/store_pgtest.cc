// PostgreSQL runs the store contract against a real server (OPTIMUS_TEST_PG_DSN).
#include <gmock/gmock.h>

#include "optimus/store/postgres_database.h"
#include "optimus/testing/testing.h"
#include "store_contract.h"

namespace optimus::store {
namespace {

std::unique_ptr<Database> FreshSchema() {
  const std::string dsn = testing::InfraEnv("OPTIMUS_TEST_PG_DSN");
  if (dsn.empty()) {
    if (testing::InfraRequired()) ADD_FAILURE() << "OPTIMUS_TEST_PG_DSN is not set";
    return nullptr;
  }
  auto db = OpenPostgres({.dsn = dsn, .schema = "t_" + testing::UniqueSuffix()});
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? *std::move(db) : nullptr;
}

INSTANTIATE_TEST_SUITE_P(Postgres, StoreContractTest,
                         ::testing::Values(DatabaseFactory{"postgres", FreshSchema}),
                         [](const auto& info) { return info.param.name; });

TEST(PostgresTest, UnreachableServerIsOneLineNamingTheAddress) {
  auto db = OpenPostgres(
      {.dsn = "host=127.0.0.1 port=1 user=nobody dbname=x", .schema = "s", .connect_timeout_s = 2});
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), absl::StatusCode::kUnavailable);
  const std::string message(db.status().message());
  EXPECT_THAT(message, ::testing::HasSubstr("cannot reach PostgreSQL at \"host=127.0.0.1 port=1"));
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST(PostgresTest, SchemasKeepServicesApart) {
  OPTIMUS_REQUIRE_INFRA("OPTIMUS_TEST_PG_DSN");
  const std::string dsn = testing::InfraEnv("OPTIMUS_TEST_PG_DSN");
  auto a = OpenPostgres({.dsn = dsn, .schema = "a_" + testing::UniqueSuffix()});
  auto b = OpenPostgres({.dsn = dsn, .schema = "b_" + testing::UniqueSuffix()});
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->Execute("CREATE TABLE jobs (k TEXT)").ok());
  ASSERT_TRUE((*b)->Execute("CREATE TABLE jobs (k TEXT)").ok());
  ASSERT_TRUE((*a)->Execute("INSERT INTO jobs VALUES ('only in a')").ok());
  EXPECT_EQ((*b)->Execute("SELECT COUNT(*) FROM jobs")->rows[0].Int(0), 0);
}

TEST(PostgresTest, UriFormDsnWorks) {
  OPTIMUS_REQUIRE_INFRA("OPTIMUS_TEST_PG_URI");
  auto db = OpenDatabase(testing::InfraEnv("OPTIMUS_TEST_PG_URI"), "u_" + testing::UniqueSuffix());
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ((*db)->dialect(), Dialect::kPostgres);
  EXPECT_TRUE((*db)->Ping().ok());
}

TEST(OpenDatabaseTest, UnknownSchemeIsExplained) {
  auto db = OpenDatabase("mysql://x", "s");
  ASSERT_FALSE(db.ok());
  EXPECT_THAT(std::string(db.status().message()), ::testing::HasSubstr("neither sqlite:<path>"));
}

}  // namespace
}  // namespace optimus::store
