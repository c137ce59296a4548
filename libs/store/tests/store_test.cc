// SQLite runs the store contract with no server, plus SQLite-specific behaviour.
#include <gmock/gmock.h>

#include <atomic>
#include <future>
#include <thread>

#include "optimus/store/postgres_database.h"
#include "optimus/store/sqlite_database.h"
#include "optimus/testing/testing.h"
#include "store_contract.h"

namespace optimus::store {
namespace {

testing::TempDir& Dir() {
  static auto* dir = new testing::TempDir();
  return *dir;
}

std::unique_ptr<Database> FreshSqlite() {
  static int counter = 0;
  auto db = OpenSqlite({.path = Dir().File("db" + std::to_string(++counter) + ".sqlite")});
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? *std::move(db) : nullptr;
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreContractTest,
                         ::testing::Values(DatabaseFactory{"sqlite", FreshSqlite}),
                         [](const auto& info) { return info.param.name; });

TEST(SqliteTest, UnopenablePathNamesTheFile) {
  auto db = OpenSqlite({.path = "/nonexistent-dir/x/y.sqlite"});
  ASSERT_FALSE(db.ok());
  EXPECT_THAT(std::string(db.status().message()),
              ::testing::HasSubstr("/nonexistent-dir/x/y.sqlite"));
}

TEST(SqliteTest, DataSurvivesReopen) {
  testing::TempDir dir;
  {
    auto db = OpenSqlite({.path = dir.File("a.sqlite")});
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Execute("CREATE TABLE t (k TEXT)").ok());
    ASSERT_TRUE((*db)->Execute("INSERT INTO t VALUES ('kept')").ok());
  }
  auto db = OpenSqlite({.path = dir.File("a.sqlite")});
  ASSERT_TRUE(db.ok());
  EXPECT_EQ((*db)->Execute("SELECT k FROM t")->rows.at(0).Text(0), "kept");
}

TEST(SqliteTest, DollarInsideQuotesIsNotAParameter) {
  auto db = OpenSqlite({.path = ":memory:"});
  ASSERT_TRUE(db.ok());
  auto r = (*db)->Execute("SELECT '$1', $1", {std::string("x")});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows[0].Text(0), "$1");
  EXPECT_EQ(r->rows[0].Text(1), "x");
}

TEST(SqliteTest, ReadsGoOnWhileAWriteIsOpenAndSeeWhatCommitted) {
  testing::TempDir dir;
  auto db = OpenSqlite({.path = dir.File("r.sqlite")});
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE((*db)->Execute("CREATE TABLE t (v INTEGER)").ok());
  ASSERT_TRUE((*db)->Execute("INSERT INTO t (v) VALUES (1)").ok());
  std::atomic<bool> read_done{false};
  std::promise<void> writing;
  std::thread writer([&] {
    ASSERT_TRUE((*db)
                    ->InTransaction([&](Transaction& tx) -> absl::Status {
                      auto r = tx.Execute("INSERT INTO t (v) VALUES (2)");
                      if (!r.ok()) return r.status();
                      writing.set_value();
                      // The write stays open until the read finished (or a second passed).
                      for (int i = 0; i < 100 && !read_done; ++i) {
                        std::this_thread::sleep_for(std::chrono::milliseconds(10));
                      }
                      return absl::OkStatus();
                    })
                    .ok());
  });
  writing.get_future().wait();
  int64_t seen = -1;
  ASSERT_TRUE((*db)
                  ->InReadTransaction([&](Transaction& tx) -> absl::Status {
                    auto r = tx.Execute("SELECT count(*) FROM t");
                    if (!r.ok()) return r.status();
                    seen = r->rows[0].Int(0);
                    return absl::OkStatus();
                  })
                  .ok());
  read_done = true;
  writer.join();
  EXPECT_EQ(seen, 1) << "the read saw the committed row only, without waiting for the write";
  auto after = (*db)->Execute("SELECT count(*) FROM t");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->rows[0].Int(0), 2);
  // A read-only connection refuses writes.
  EXPECT_FALSE((*db)
                   ->InReadTransaction([&](Transaction& tx) {
                     return tx.Execute("INSERT INTO t (v) VALUES (3)").status();
                   })
                   .ok());
}

TEST(SqliteTest, CommitsFromManyThreadsAreSyncedTogetherAndAllSurvive) {
  testing::TempDir dir;
  {
    auto db = OpenSqlite({.path = dir.File("g.sqlite")});
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)->Execute("CREATE TABLE t (k INTEGER PRIMARY KEY)").ok());
    std::vector<std::thread> threads;
    std::atomic<int> failed{0};
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 50; ++i) {
          if (!(*db)->Execute("INSERT INTO t (k) VALUES ($1)", {int64_t{t * 1000 + i}}).ok()) {
            ++failed;
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failed.load(), 0);
  }
  auto db = OpenSqlite({.path = dir.File("g.sqlite")});
  ASSERT_TRUE(db.ok());
  auto n = (*db)->Execute("SELECT count(*) FROM t");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->rows[0].Int(0), 400);
}

TEST(PostgresDsnTest, PasswordsNeverReachMessages) {
  EXPECT_EQ(RedactedDsn("postgresql://optimus:s3cret@db:5432/optimus"),
            "postgresql://optimus:***@db:5432/optimus");
  EXPECT_EQ(RedactedDsn("postgresql://optimus@db/optimus?password=s3cret&sslmode=require"),
            "postgresql://optimus@db/optimus?password=***&sslmode=require");
  EXPECT_EQ(RedactedDsn("host=db password='se cret' user=optimus"),
            "host=db password=*** user=optimus");
  EXPECT_EQ(RedactedDsn("host=db password=s3cret"), "host=db password=***");
  EXPECT_EQ(RedactedDsn("host=db user=optimus"), "host=db user=optimus");
}

TEST(DialectTest, TokensExpandPerEngine) {
  EXPECT_EQ(ExpandDialect("id ${AUTO_ID}, b ${BLOB}", Dialect::kSqlite),
            "id INTEGER PRIMARY KEY AUTOINCREMENT, b BLOB");
  EXPECT_EQ(ExpandDialect("id ${AUTO_ID}, b ${BLOB}", Dialect::kPostgres),
            "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, b BYTEA");
}

}  // namespace
}  // namespace optimus::store
