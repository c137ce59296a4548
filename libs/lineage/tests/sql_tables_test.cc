// The SQL table extractor on the shapes real BigQuery jobs have.
#include "optimus/lineage/sql_tables.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace optimus::lineage {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> Names(const std::vector<TableRef>& refs) {
  std::vector<std::string> out;
  for (const auto& r : refs) out.push_back(r.ToString());
  return out;
}

std::vector<std::string> Sources(std::string_view sql) {
  return Names(ExtractSqlTables(sql).sources);
}

TEST(SqlTablesTest, FromAndJoinsAtEveryDepth) {
  EXPECT_THAT(Sources("SELECT * FROM `p.d.a` a JOIN p.d.b b ON a.id = b.id "
                      "LEFT OUTER JOIN `p`.`d`.`c` USING (id) CROSS JOIN p.d.e"),
              ElementsAre("p.d.a", "p.d.b", "p.d.c", "p.d.e"));
  EXPECT_THAT(Sources("select x from (select x from (select x from `p.d.deep`)) t "
                      "where x in (select y from p.d.sub) and exists (select 1 from p.d.ex)"),
              ElementsAre("p.d.deep", "p.d.ex", "p.d.sub"));
}

TEST(SqlTablesTest, CommaListsInFromButNotInSelectOrFunctions) {
  EXPECT_THAT(Sources("SELECT a, b, COUNT(c, d) FROM p.d.t1, p.d.t2 AS x, `p.d.t3` y "
                      "WHERE a IN (1, 2) GROUP BY a, b"),
              ElementsAre("p.d.t1", "p.d.t2", "p.d.t3"));
}

TEST(SqlTablesTest, CommentsAndStringsNeverCount) {
  const char* sql = R"(
    -- FROM p.d.line_comment
    # FROM p.d.hash_comment
    /* FROM p.d.block_comment */
    SELECT 'FROM p.d.single', "FROM p.d.double", '''FROM p.d.triple''', r"FROM p.d.raw\",
           b'FROM p.d.bytes', 'it\'s FROM p.d.escaped'
    FROM p.d.real -- trailing FROM p.d.after
  )";
  EXPECT_THAT(Sources(sql), ElementsAre("p.d.real"));
}

TEST(SqlTablesTest, CteNamesAreNotTables) {
  EXPECT_THAT(Sources("WITH a AS (SELECT * FROM p.d.src1), b AS (SELECT * FROM a JOIN p.d.src2 "
                      "USING (k)) SELECT * FROM b, a"),
              ElementsAre("p.d.src1", "p.d.src2"));
  EXPECT_THAT(Sources("WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r) "
                      "SELECT * FROM r"),
              IsEmpty());
}

TEST(SqlTablesTest, UnnestFunctionsAndCorrelatedArraysAreNotTables) {
  EXPECT_THAT(Sources("SELECT * FROM p.d.orders o, UNNEST(o.items) AS item "
                      "CROSS JOIN UNNEST([1, 2]) WITH OFFSET AS pos, o.lines"),
              ElementsAre("p.d.orders"));
  EXPECT_THAT(Sources("SELECT * FROM ML.PREDICT(MODEL `p.d.model`, (SELECT * FROM p.d.input))"),
              ElementsAre("p.d.input"));
}

TEST(SqlTablesTest, FromInsideExpressionsIsNotATableList) {
  EXPECT_THAT(Sources("SELECT EXTRACT(DATE FROM t.created_at), SUBSTRING(s FROM 2), "
                      "TRIM(BOTH ' ' FROM name) FROM p.d.t t"),
              ElementsAre("p.d.t"));
}

TEST(SqlTablesTest, WildcardTablesAndDashedProjects) {
  EXPECT_THAT(Sources("SELECT * FROM `my-proj.analytics.events_*` WHERE _TABLE_SUFFIX > '1' "
                      "UNION ALL SELECT * FROM my-proj.analytics.sessions_*"),
              ElementsAre("my-proj.analytics.events_*", "my-proj.analytics.sessions_*"));
}

// Issue 17: in a MERGE whose source is a subquery, `JOIN ... USING (col)` lists columns; only
// the MERGE's own USING names its source.
TEST(SqlTablesTest, AJoinsUsingColumnsInsideAMergeSourceAreNotTables) {
  EXPECT_THAT(Sources("MERGE `p.d.target` T USING (SELECT a.id, b.v FROM `p.d.a` a "
                      "JOIN `p.d.b` b USING (id) LEFT JOIN p.d.c USING (id, v)) S "
                      "ON T.id = S.id WHEN MATCHED THEN UPDATE SET v = S.v"),
              ElementsAre("p.d.a", "p.d.b", "p.d.c"));
  EXPECT_THAT(Sources("MERGE INTO p.d.t USING p.d.src ON FALSE WHEN NOT MATCHED THEN INSERT ROW; "
                      "SELECT * FROM p.d.x JOIN p.d.y USING (k)"),
              ElementsAre("p.d.src", "p.d.x", "p.d.y"));
}

TEST(SqlTablesTest, WrittenTablesAreTargetsNotSources) {
  const SqlTables t = ExtractSqlTables(
      "INSERT INTO p.d.out (a) SELECT a FROM p.d.in1;\n"
      "MERGE p.d.merged T USING p.d.staging S ON T.id = S.id "
      "WHEN MATCHED THEN UPDATE SET v = S.v WHEN NOT MATCHED THEN INSERT (id) VALUES (S.id);\n"
      "DELETE FROM p.d.gone WHERE id IN (SELECT id FROM p.d.in2);\n"
      "CREATE OR REPLACE TEMP TABLE tmp AS SELECT * FROM p.d.in3;\n"
      "CREATE TABLE IF NOT EXISTS p.d.copy CLONE p.d.original;\n"
      "UPDATE p.d.upd u SET x = s.x FROM p.d.in4 s WHERE u.id = s.id;\n"
      "TRUNCATE TABLE p.d.trunc; DROP TABLE IF EXISTS p.d.dropped;");
  EXPECT_THAT(Names(t.sources), ElementsAre("p.d.in1", "p.d.in2", "p.d.in3", "p.d.in4",
                                            "p.d.original", "p.d.staging"));
  EXPECT_THAT(Names(t.targets), ElementsAre("p.d.copy", "p.d.dropped", "p.d.gone", "p.d.merged",
                                            "p.d.out", "p.d.trunc", "p.d.upd", "tmp"));
}

TEST(SqlTablesTest, IgnoreUpstreamMarksTheNextTable) {
  const SqlTables t = ExtractSqlTables(
      "SELECT * FROM /* @ignoreupstream */ p.d.skipped JOIN\n"
      "-- @ignoreupstream\n"
      "`p.d.skipped_too` USING (id) JOIN p.d.kept USING (id)");
  EXPECT_THAT(Names(t.sources), ElementsAre("p.d.kept"));
  EXPECT_THAT(Names(t.ignored), ElementsAre("p.d.skipped", "p.d.skipped_too"));
}

TEST(SqlTablesTest, PartialNamesAreKeptForTheResolverToJudge) {
  EXPECT_THAT(Sources("SELECT * FROM dataset.table JOIN lonely USING (id)"),
              ElementsAre("dataset.table", "lonely"));
}

TEST(SqlTablesTest, ParenthesisedJoinsAndSetOperations) {
  EXPECT_THAT(Sources("SELECT * FROM (p.d.a JOIN p.d.b ON a.x = b.x) "
                      "UNION DISTINCT (SELECT * FROM p.d.c) EXCEPT DISTINCT SELECT * FROM p.d.d"),
              ElementsAre("p.d.a", "p.d.b", "p.d.c", "p.d.d"));
}

TEST(SqlTablesTest, ParametersScriptingAndTemplatesDoNotConfuseIt) {
  EXPECT_THAT(Sources("DECLARE d DATE DEFAULT @run_date;\n"
                      "SELECT * FROM `p.d.t` WHERE dt >= '{{.DSTART}}' AND x = @@session.id "
                      "FOR SYSTEM_TIME AS OF TIMESTAMP '{{.DEND}}'"),
              ElementsAre("p.d.t"));
}

TEST(SqlTablesTest, BrokenSqlStillAnswers) {
  EXPECT_THAT(Sources("SELECT * FROM `p.d.unclosed"), ElementsAre("p.d.unclosed"));
  EXPECT_THAT(Sources("SELECT 'unclosed FROM p.d.x"), IsEmpty());
  EXPECT_THAT(Sources("))) FROM p.d.x WHERE ((("), ElementsAre("p.d.x"));
  EXPECT_THAT(Sources(""), IsEmpty());
  EXPECT_THAT(Sources("FROM"), IsEmpty());
}

}  // namespace
}  // namespace optimus::lineage
