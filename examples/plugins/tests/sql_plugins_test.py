#!/usr/bin/env python3
"""Tests of the sqlite2sqlite and pg2pg task plugins (examples/plugins/optimus-plugin-*.yaml).

Each test takes the plugin's entrypoint from its YAML and runs it as optimus-executor's local
runner does: `<shell> -c <script>` in the step's directory, with a clean environment holding the
task's config, DSTART/DEND, JOB_DIR (whose in/ holds query.sql, .env and .secret), SCHEDULED_AT,
PATH and HOME; then it looks at the real database.

Run from the repository root (needs python3 with PyYAML; pg2pg also needs psql):

    python3 examples/plugins/tests/sql_plugins_test.py -v

The sqlite2sqlite tests always run. The pg2pg tests need a PostgreSQL server whose URI is in
OPTIMUS_TEST_PG_URI; the dev server gives one:

    tools/dev/up postgres && eval "$(tools/dev/postgres env)"

Without OPTIMUS_TEST_PG_URI they are skipped, or fail when OPTIMUS_REQUIRE_INFRA=1. They work in a
schema of their own per run (t<pid>_<random>_*) and drop it afterwards.
"""
import os
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
import unittest
import urllib.parse

import yaml

PLUGINS = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
DSTART, DEND = "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"


def load_plugin(name):
    with open(os.path.join(PLUGINS, "optimus-plugin-%s.yaml" % name), encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    assert spec["version"] == 2 and spec["name"] == name, spec.get("name")
    default = spec["plugin_versions"]["default"]
    entry = default["entrypoint"]
    return {
        "shell": entry.get("shell") or "/bin/sh",
        "script": entry["script"],
        "defaults": {k: str(v) for k, v in (spec.get("default_config") or {}).items()},
        "spec": spec,
    }


class Run:
    def __init__(self, proc):
        self.status = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def __repr__(self):
        return "exit %d, stdout %r, stderr %r" % (self.status, self.out, self.err)


class PluginCase(unittest.TestCase):
    PLUGIN = None

    @classmethod
    def setUpClass(cls):
        cls.plugin = load_plugin(cls.PLUGIN)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="optimus-%s-test-" % self.PLUGIN)
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.job_dir = os.path.join(self.tmp, "step")
        os.makedirs(os.path.join(self.job_dir, "in"))

    def base_config(self):
        return {}

    def run_plugin(self, query, **config):
        """Runs the plugin's entrypoint on query.sql with the job's config, as the executor does."""
        with open(os.path.join(self.job_dir, "in", "query.sql"), "w", encoding="utf-8") as f:
            f.write(query)
        values = dict(self.plugin["defaults"])
        values.update(self.base_config())
        values.update({"DSTART": DSTART, "DEND": DEND, "EXECUTION_TIME": DEND})
        values.update(config)
        values = {k: v for k, v in values.items() if v is not None}
        with open(os.path.join(self.job_dir, "in", ".env"), "w") as f:
            f.writelines("%s='%s'\n" % (k, v) for k, v in values.items())
        with open(os.path.join(self.job_dir, "in", ".secret"), "w") as f:
            pass
        os.chmod(os.path.join(self.job_dir, "in", ".secret"), 0o600)
        env = dict(values)
        env.update({
            "JOB_DIR": self.job_dir,
            "SCHEDULED_AT": DEND,
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/"),
        })
        proc = subprocess.run([self.plugin["shell"], "-c", self.plugin["script"]], cwd=self.job_dir, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
        return Run(proc)

    def assertOk(self, run, summary=None):
        self.assertEqual(run.status, 0, run)
        self.assertEqual(run.err, "", run)
        lines = run.out.splitlines()
        self.assertEqual(len(lines), 1, run)
        if summary is not None:
            self.assertEqual(lines[0], summary)

    def assertFails(self, run, *fragments, status=None):
        self.assertNotEqual(run.status, 0, run)
        if status is not None:
            self.assertEqual(run.status, status, run)
        self.assertEqual(run.out, "", run)
        lines = run.err.splitlines()
        self.assertEqual(len(lines), 1, "want one line on stderr: %r" % run)
        self.assertTrue(lines[0].startswith(self.PLUGIN + ": "), run)
        for fragment in fragments:
            self.assertIn(fragment, lines[0])


DAILY = """
-- the window's orders per day
WITH o AS (
  SELECT day, amount FROM raw.orders
  WHERE day >= '{{start}}' AND day < '{{end}}'
)
SELECT day AS order_date, count(*) AS orders, sum(amount) AS amount
FROM o GROUP BY day ORDER BY day;  -- a trailing semicolon and comment
"""


def daily_query(start="2024-01-01", end="2024-01-02"):
    return DAILY.replace("{{start}}", start).replace("{{end}}", end)


class SqliteTest(PluginCase):
    PLUGIN = "sqlite2sqlite"

    def setUp(self):
        super().setUp()
        self.dir = os.path.join(self.tmp, "db")
        os.makedirs(self.dir)
        self.sql("raw", """
            CREATE TABLE orders (id INTEGER, day TEXT, customer TEXT, amount REAL);
            INSERT INTO orders VALUES (1, '2024-01-01', 'ann', 10), (2, '2024-01-01', 'bob', 5),
                                      (3, '2024-01-02', 'ann', 7), (4, '2023-12-31', 'cy', 1);""")

    def base_config(self):
        return {"SQLITE_DIR": self.dir, "SCHEMA": "sales", "TABLE": "daily"}

    def sql(self, schema, script):
        con = sqlite3.connect(os.path.join(self.dir, schema + ".db"))
        try:
            con.executescript(script)
            con.commit()
        finally:
            con.close()

    def rows(self, schema, query):
        con = sqlite3.connect(os.path.join(self.dir, schema + ".db"))
        try:
            return con.execute(query).fetchall()
        finally:
            con.close()

    def seed_daily(self):
        self.sql("sales", """
            CREATE TABLE daily (order_date TEXT, orders INTEGER, amount REAL);
            INSERT INTO daily VALUES ('2023-12-31', 9, 9), ('2024-01-01', 99, 99), ('2024-01-01', 98, 98),
                                     ('2024-01-02', 7, 7);""")

    def test_loads_the_plugin_yaml(self):
        spec = self.plugin["spec"]
        self.assertEqual(spec["destination_urn_template"], "sqlite://<SCHEMA>.<TABLE>")
        self.assertEqual(spec["asset_parsers"], {"sqlite": [{"filepath": "./query.sql"}]})
        self.assertEqual(self.plugin["defaults"], {"LOAD_METHOD": "APPEND"})
        self.assertTrue(spec["plugin_versions"]["default"]["image"])
        self.assertTrue(spec["plugin_versions"]["default"]["tag"])

    def test_append_twice_doubles_the_rows(self):
        query = "SELECT id, day, amount FROM raw.orders;"
        self.assertOk(self.run_plugin(query, TABLE="orders_copy"),
                      "loaded 4 rows into sales.orders_copy (APPEND; created the table)")
        self.assertOk(self.run_plugin(query, TABLE="orders_copy", LOAD_METHOD="append"),
                      "loaded 4 rows into sales.orders_copy (APPEND)")
        self.assertEqual(self.rows("sales", "SELECT count(*), sum(amount) FROM orders_copy"), [(8, 46.0)])
        self.assertEqual(self.rows("sales", "SELECT id, count(*) FROM orders_copy GROUP BY id ORDER BY id"),
                         [(1, 2), (2, 2), (3, 2), (4, 2)])

    def test_replace_by_partition_replaces_only_the_window(self):
        self.seed_daily()
        self.assertOk(self.run_plugin(daily_query(), LOAD_METHOD="REPLACE", PARTITION_COLUMN="order_date"),
                      "loaded 1 row into sales.daily (REPLACE of 2024-01-01 .. 2024-01-02 by order_date; 2 rows deleted)")
        self.assertEqual(self.rows("sales", "SELECT * FROM daily ORDER BY order_date"),
                         [("2023-12-31", 9, 9.0), ("2024-01-01", 2, 15.0), ("2024-01-02", 7, 7.0)])
        # Again: the same result (idempotent), not twice the rows.
        self.assertOk(self.run_plugin(daily_query(), LOAD_METHOD="replace", PARTITION_COLUMN="order_date"))
        self.assertEqual(self.rows("sales", "SELECT count(*) FROM daily"), [(3,)])

    def test_replace_by_timestamp_partition(self):
        self.sql("sales", """
            CREATE TABLE events (ts TEXT, n INTEGER);
            INSERT INTO events VALUES ('2023-12-31T23:59:59Z', 1), ('2024-01-01 00:00:00', 2),
                                      ('2024-01-01T12:00:00+00:00', 3), ('2024-01-02T00:00:00Z', 4);""")
        query = "SELECT '2024-01-01T06:00:00Z' AS ts, 10 AS n UNION ALL SELECT '2024-01-01T07:00:00+01:00', 11"
        self.assertOk(self.run_plugin(query, TABLE="events", LOAD_METHOD="REPLACE", PARTITION_COLUMN="ts",
                                      PARTITION_TYPE="timestamp"),
                      "loaded 2 rows into sales.events (REPLACE of %s .. %s by ts; 2 rows deleted)" % (DSTART, DEND))
        self.assertEqual(self.rows("sales", "SELECT n FROM events ORDER BY n"), [(1,), (4,), (10,), (11,)])

    def test_replace_by_partition_refuses_rows_outside_the_window(self):
        self.seed_daily()
        before = self.rows("sales", "SELECT * FROM daily ORDER BY rowid")
        run = self.run_plugin(daily_query("2024-01-01", "2024-01-03"), LOAD_METHOD="REPLACE",
                              PARTITION_COLUMN="order_date")
        self.assertFails(run, "1 row whose order_date is outside the run's window 2024-01-01 .. 2024-01-02", status=1)
        self.assertEqual(self.rows("sales", "SELECT * FROM daily ORDER BY rowid"), before)

    def test_replace_without_partition_replaces_the_whole_table(self):
        self.seed_daily()
        self.assertOk(self.run_plugin(daily_query("2023-01-01", "2025-01-01"), LOAD_METHOD="REPLACE"),
                      "loaded 3 rows into sales.daily (REPLACE of the whole table; 4 rows deleted)")
        self.assertEqual(self.rows("sales", "SELECT * FROM daily ORDER BY order_date"),
                         [("2023-12-31", 1, 1.0), ("2024-01-01", 2, 15.0), ("2024-01-02", 1, 7.0)])

    def test_merge_upserts_on_the_keys(self):
        first = "SELECT 1 AS id, 'a' AS name, 10 AS score UNION ALL SELECT 2, 'b', 20"
        self.assertOk(self.run_plugin(first, TABLE="people", LOAD_METHOD="MERGE", MERGE_KEYS="id"),
                      "loaded 2 rows into sales.people (MERGE on id: 0 updated, 2 inserted; created the table)")
        index = self.rows("sales", "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'people'")
        self.assertEqual(len(index), 1)
        self.assertIn("UNIQUE", index[0][0].upper())
        second = "SELECT 2 AS id, 'B' AS name, 21 AS score UNION ALL SELECT 3, 'c', 30"
        self.assertOk(self.run_plugin(second, TABLE="people", LOAD_METHOD="merge", MERGE_KEYS=" id "),
                      "loaded 2 rows into sales.people (MERGE on id: 1 updated, 1 inserted)")
        self.assertEqual(self.rows("sales", "SELECT * FROM people ORDER BY id"),
                         [(1, "a", 10), (2, "B", 21), (3, "c", 30)])

    def test_merge_on_two_keys_and_repeated_keys(self):
        query = "SELECT day, customer, sum(amount) AS amount FROM raw.orders GROUP BY day, customer"
        self.assertOk(self.run_plugin(query, TABLE="spend", LOAD_METHOD="MERGE", MERGE_KEYS="day,customer"))
        self.sql("raw", "INSERT INTO orders VALUES (5, '2024-01-01', 'ann', 1), (6, '2024-01-03', 'dee', 2)")
        self.assertOk(self.run_plugin(query, TABLE="spend", LOAD_METHOD="MERGE", MERGE_KEYS="day,customer"),
                      "loaded 5 rows into sales.spend (MERGE on day, customer: 4 updated, 1 inserted)")
        self.assertEqual(self.rows("sales", "SELECT amount FROM spend WHERE day = '2024-01-01' AND customer = 'ann'"),
                         [(11.0,)])
        before = self.rows("sales", "SELECT * FROM spend ORDER BY 1, 2")
        run = self.run_plugin("SELECT day, customer, amount FROM raw.orders", TABLE="spend", LOAD_METHOD="MERGE",
                              MERGE_KEYS="day,customer")
        self.assertFails(run, "merge key (day, customer) = ('2024-01-01', 'ann') more than once")
        self.assertEqual(self.rows("sales", "SELECT * FROM spend ORDER BY 1, 2"), before)

    def test_reads_other_schemas_through_attach(self):
        self.sql("ref", """CREATE TABLE customers (name TEXT, city TEXT);
                           INSERT INTO customers VALUES ('ann', 'Oslo'), ('bob', 'Rome'), ('cy', 'Oslo');""")
        query = """
            SELECT c.city, count(*) AS orders, sum(o.amount) AS amount
            FROM "raw".orders AS o JOIN ref.customers AS c ON c.name = o.customer
            GROUP BY c.city ORDER BY c.city;
        """
        self.assertOk(self.run_plugin(query, TABLE="by_city"),
                      "loaded 2 rows into sales.by_city (APPEND; created the table)")
        self.assertEqual(self.rows("sales", "SELECT * FROM by_city"), [("Oslo", 3, 18.0), ("Rome", 1, 5.0)])
        # The sources were only read.
        self.assertEqual(self.rows("raw", "SELECT count(*) FROM orders"), [(4,)])

    def test_sql_error_fails_and_leaves_the_table_unchanged(self):
        self.seed_daily()
        before = self.rows("sales", "SELECT * FROM daily ORDER BY rowid")
        run = self.run_plugin("SELECT day AS order_date FROM raw.nope", LOAD_METHOD="REPLACE")
        self.assertFails(run, "no such table: raw.nope", "in query.sql", status=1)
        # An error after the DELETE: the query's column `extra` is not in the table.
        run = self.run_plugin("SELECT '2024-01-01' AS order_date, 1 AS extra", LOAD_METHOD="REPLACE")
        self.assertFails(run, "has no column named extra", "loading sales.daily (REPLACE)", status=1)
        self.assertEqual(self.rows("sales", "SELECT * FROM daily ORDER BY rowid"), before)

    def test_query_file_names_the_asset_to_run(self):
        with open(os.path.join(self.job_dir, "in", "weekly.sql"), "w", encoding="utf-8") as f:
            f.write(daily_query())
        # query.sql holds something else: QUERY_FILE wins.
        self.assertOk(self.run_plugin("SELECT 1 AS nothing", QUERY_FILE="weekly.sql", TABLE="weekly"))
        self.assertEqual(self.rows("sales", "SELECT order_date, orders FROM weekly"), [("2024-01-01", 2)])
        self.assertFails(self.run_plugin("SELECT 1 AS a", QUERY_FILE="missing.sql"), "cannot read missing.sql", status=1)
        self.assertFails(self.run_plugin("SELECT 1 AS a", QUERY_FILE="../etc/passwd"), "config QUERY_FILE", status=2)
        with open(os.path.join(self.job_dir, "in", "bad.sql"), "w", encoding="utf-8") as f:
            f.write("SELECT nope FROM raw.orders")
        self.assertFails(self.run_plugin("SELECT 1 AS a", QUERY_FILE="bad.sql"), "no such column: nope", "in bad.sql", status=1)

    def test_runs_writing_each_others_sources_at_once_do_not_wait_for_each_other(self):
        # Each query is slow enough that the two runs overlap, and each reads the database the
        # other writes: read locks kept to the commit would make each commit wait for the other.
        self.sql("sales", "CREATE TABLE seed (n INTEGER); INSERT INTO seed VALUES (1);")
        slow = "WITH RECURSIVE t(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM t WHERE i < 3000000) "
        runs = []
        for schema, table, source in (("raw", "from_sales", "sales.seed"), ("sales", "from_raw", "raw.orders")):
            job_dir = os.path.join(self.tmp, "step-" + schema)
            os.makedirs(os.path.join(job_dir, "in"))
            with open(os.path.join(job_dir, "in", "query.sql"), "w") as f:
                f.write(slow + "SELECT (SELECT max(i) FROM t) AS n, (SELECT count(*) FROM %s) AS c" % source)
            env = {"SQLITE_DIR": self.dir, "SCHEMA": schema, "TABLE": table, "DSTART": DSTART, "DEND": DEND,
                   "JOB_DIR": job_dir, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": job_dir}
            runs.append(subprocess.Popen([self.plugin["shell"], "-c", self.plugin["script"]], cwd=job_dir, env=env,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True))
        for proc in runs:
            out, err = proc.communicate(timeout=60)
            self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(self.rows("raw", "SELECT n FROM from_sales"), [(3000000,)])
        self.assertEqual(self.rows("sales", "SELECT n FROM from_raw"), [(3000000,)])

    def test_query_must_be_one_select(self):
        for query, message in [
            ("SELECT 1 AS a; SELECT 2 AS b", "more than one statement"),
            ("DELETE FROM raw.orders", "must be one SELECT (or WITH ... SELECT), not DELETE"),
            ("  -- nothing\n", "query.sql is empty"),
            ("SELECT count(*) FROM raw.orders", "column named 'count(*)'"),
            ("SELECT 1 AS a, 2 AS a", "the column a twice"),
        ]:
            self.assertFails(self.run_plugin(query), message, status=1)
        # Semicolons inside strings, quoted names and comments are not statement ends; a keyword
        # as a column's name is quoted.
        self.assertOk(self.run_plugin("SELECT 'a;b' AS \"order\" FROM (SELECT 1 AS \"x;\") /* ; */ ;\n-- ; done", TABLE="semi"))
        self.assertEqual(self.rows("sales", "SELECT \"order\" FROM semi"), [("a;b",)])

    def test_bad_config_is_a_clear_error(self):
        query = daily_query()
        for config, message in [
            ({"LOAD_METHOD": "UPSERT"}, "config LOAD_METHOD: 'UPSERT' is not APPEND, REPLACE or MERGE"),
            ({"TABLE": "daily;drop"}, "config TABLE: 'daily;drop' is not a valid name"),
            ({"SCHEMA": "1sales"}, "config SCHEMA: '1sales' is not a valid name"),
            ({"TABLE": None}, "config TABLE is required"),
            ({"TABLE": ""}, "config TABLE is required"),
            ({"SQLITE_DIR": None}, "config SQLITE_DIR is required"),
            ({"LOAD_METHOD": "MERGE"}, "config MERGE_KEYS is required for LOAD_METHOD MERGE"),
            ({"LOAD_METHOD": "MERGE", "MERGE_KEYS": "id,na-me"}, "config MERGE_KEYS: 'na-me' is not a valid name"),
            ({"LOAD_METHOD": "REPLACE", "PARTITION_COLUMN": "a b"}, "config PARTITION_COLUMN: 'a b' is not a valid name"),
            ({"LOAD_METHOD": "REPLACE", "PARTITION_COLUMN": "order_date", "PARTITION_TYPE": "HOUR"},
             "config PARTITION_TYPE: 'HOUR' is not DATE or TIMESTAMP"),
            ({"LOAD_METHOD": "REPLACE", "PARTITION_COLUMN": "order_date", "DSTART": "yesterday"},
             "DSTART: 'yesterday' is not an RFC3339 time"),
        ]:
            with self.subTest(config=config):
                self.assertFails(self.run_plugin(query, **config), message, status=2)
        self.assertFails(self.run_plugin(query, LOAD_METHOD="MERGE", MERGE_KEYS="id"),
                         "config MERGE_KEYS: id is not a column of query.sql's result (order_date, orders, amount)")
        # Nothing was created (the destination's file may be, empty: it is attached before the query runs).
        if os.path.exists(os.path.join(self.dir, "sales.db")):
            self.assertEqual(self.rows("sales", "SELECT name FROM sqlite_master"), [])


class PgTest(PluginCase):
    PLUGIN = "pg2pg"

    @classmethod
    def setUpClass(cls):
        cls.uri = os.environ.get("OPTIMUS_TEST_PG_URI", "")
        if not cls.uri:
            why = "OPTIMUS_TEST_PG_URI is not set (tools/dev/up postgres; eval \"$(tools/dev/postgres env)\")"
            if os.environ.get("OPTIMUS_REQUIRE_INFRA") == "1":
                raise AssertionError(why + " and OPTIMUS_REQUIRE_INFRA=1")
            raise unittest.SkipTest(why)
        super().setUpClass()
        if not shutil.which("psql"):
            raise AssertionError("psql is not on PATH")
        prefix = "t%d_%s" % (os.getpid(), secrets.token_hex(3))
        cls.raw, cls.sales = prefix + "_raw", prefix + "_sales"
        cls.psql("""
            CREATE SCHEMA {raw};
            CREATE TABLE {raw}.orders (id int, day date, customer text, amount numeric);
            INSERT INTO {raw}.orders VALUES (1, '2024-01-01', 'ann', 10), (2, '2024-01-01', 'bob', 5),
                                            (3, '2024-01-02', 'ann', 7), (4, '2023-12-31', 'cy', 1);""".format(raw=cls.raw))

    @classmethod
    def tearDownClass(cls):
        cls.psql("DROP SCHEMA IF EXISTS %s CASCADE; DROP SCHEMA IF EXISTS %s CASCADE;" % (cls.raw, cls.sales))

    @classmethod
    def psql(cls, script):
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1", "-d", cls.uri],
                           input="SET client_min_messages = warning;\n" + script, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
        if p.returncode != 0:
            raise AssertionError("psql: %s" % p.stderr)
        return [tuple(line.split("|")) for line in p.stdout.splitlines() if line]

    def base_config(self):
        return {"PG_DSN": self.uri, "SCHEMA": self.sales, "TABLE": "daily"}

    def setUp(self):
        super().setUp()
        self.psql("DROP SCHEMA IF EXISTS %s CASCADE;" % self.sales)

    def q(self, sql):
        return sql.replace("{raw}", self.raw).replace("{sales}", self.sales)

    def rows(self, sql):
        return self.psql(self.q(sql))

    def daily(self, start="2024-01-01", end="2024-01-02"):
        return daily_query(start, end).replace("raw.", self.raw + ".")

    def seed_daily(self):
        self.psql(self.q("""
            CREATE SCHEMA {sales};
            CREATE TABLE {sales}.daily (order_date date, orders bigint, amount numeric);
            INSERT INTO {sales}.daily VALUES ('2023-12-31', 9, 9), ('2024-01-01', 99, 99), ('2024-01-01', 98, 98),
                                             ('2024-01-02', 7, 7);"""))

    def test_loads_the_plugin_yaml(self):
        spec = self.plugin["spec"]
        self.assertEqual(spec["destination_urn_template"], "postgresql://<SCHEMA>.<TABLE>")
        self.assertEqual(spec["asset_parsers"], {"postgres": [{"filepath": "./query.sql"}]})
        self.assertEqual(self.plugin["defaults"], {"LOAD_METHOD": "APPEND"})

    def test_append_twice_doubles_the_rows(self):
        query = self.q("SELECT id, day, amount FROM {raw}.orders;")
        self.assertOk(self.run_plugin(query, TABLE="orders_copy"),
                      "loaded 4 rows into %s.orders_copy (APPEND; created the table)" % self.sales)
        self.assertOk(self.run_plugin(query, TABLE="orders_copy", LOAD_METHOD="append"),
                      "loaded 4 rows into %s.orders_copy (APPEND)" % self.sales)
        self.assertEqual(self.rows("SELECT count(*), sum(amount) FROM {sales}.orders_copy"), [("8", "46")])
        # The table has the query's column types.
        self.assertEqual(self.rows("SELECT column_name, data_type FROM information_schema.columns "
                                   "WHERE table_schema = '{sales}' AND table_name = 'orders_copy' ORDER BY ordinal_position"),
                         [("id", "integer"), ("day", "date"), ("amount", "numeric")])

    def test_replace_by_partition_replaces_only_the_window(self):
        self.seed_daily()
        self.assertOk(self.run_plugin(self.daily(), LOAD_METHOD="REPLACE", PARTITION_COLUMN="order_date"),
                      "loaded 1 row into %s.daily (REPLACE of 2024-01-01 .. 2024-01-02 by order_date; 2 rows deleted)"
                      % self.sales)
        self.assertEqual(self.rows("SELECT * FROM {sales}.daily ORDER BY order_date"),
                         [("2023-12-31", "9", "9"), ("2024-01-01", "2", "15"), ("2024-01-02", "7", "7")])
        self.assertOk(self.run_plugin(self.daily(), LOAD_METHOD="replace", PARTITION_COLUMN="order_date"))
        self.assertEqual(self.rows("SELECT count(*) FROM {sales}.daily"), [("3",)])

    def test_replace_by_timestamp_partition(self):
        self.psql(self.q("""
            CREATE SCHEMA {sales};
            CREATE TABLE {sales}.events (ts timestamptz, n int);
            INSERT INTO {sales}.events VALUES ('2023-12-31T23:59:59Z', 1), ('2024-01-01T00:00:00Z', 2),
                                              ('2024-01-01T12:00:00+00:00', 3), ('2024-01-02T00:00:00Z', 4);"""))
        query = "SELECT timestamptz '2024-01-01T06:00:00Z' AS ts, 10 AS n UNION ALL SELECT '2024-01-01T07:00:00+01:00', 11"
        self.assertOk(self.run_plugin(query, TABLE="events", LOAD_METHOD="REPLACE", PARTITION_COLUMN="ts",
                                      PARTITION_TYPE="TIMESTAMP"),
                      "loaded 2 rows into %s.events (REPLACE of %s .. %s by ts; 2 rows deleted)" % (self.sales, DSTART, DEND))
        self.assertEqual(self.rows("SELECT n FROM {sales}.events ORDER BY n"), [("1",), ("4",), ("10",), ("11",)])

    def test_replace_by_partition_refuses_rows_outside_the_window(self):
        self.seed_daily()
        before = self.rows("SELECT * FROM {sales}.daily ORDER BY 1, 2")
        run = self.run_plugin(self.daily("2024-01-01", "2024-01-03"), LOAD_METHOD="REPLACE", PARTITION_COLUMN="order_date")
        self.assertFails(run, "query.sql returned 1 row whose order_date is outside the run's window 2024-01-01 .. 2024-01-02",
                         status=1)
        self.assertEqual(self.rows("SELECT * FROM {sales}.daily ORDER BY 1, 2"), before)

    def test_replace_without_partition_replaces_the_whole_table(self):
        self.seed_daily()
        self.assertOk(self.run_plugin(self.daily("2023-01-01", "2025-01-01"), LOAD_METHOD="REPLACE"),
                      "loaded 3 rows into %s.daily (REPLACE of the whole table; 4 rows deleted)" % self.sales)
        self.assertEqual(self.rows("SELECT * FROM {sales}.daily ORDER BY order_date"),
                         [("2023-12-31", "1", "1"), ("2024-01-01", "2", "15"), ("2024-01-02", "1", "7")])

    def test_merge_upserts_on_the_keys(self):
        first = "SELECT 1 AS id, 'a' AS name, 10 AS score UNION ALL SELECT 2, 'b', 20"
        self.assertOk(self.run_plugin(first, TABLE="people", LOAD_METHOD="MERGE", MERGE_KEYS="id"),
                      "loaded 2 rows into %s.people (MERGE on id: 0 updated, 2 inserted; created the table)" % self.sales)
        index = self.rows("SELECT indexdef FROM pg_indexes WHERE schemaname = '{sales}' AND tablename = 'people'")
        self.assertEqual(len(index), 1)
        self.assertIn("UNIQUE INDEX", index[0][0])
        self.assertIn("(id)", index[0][0])
        second = "SELECT 2 AS id, 'B' AS name, 21 AS score UNION ALL SELECT 3, 'c', 30;"
        self.assertOk(self.run_plugin(second, TABLE="people", LOAD_METHOD="merge", MERGE_KEYS="id"),
                      "loaded 2 rows into %s.people (MERGE on id: 1 updated, 1 inserted)" % self.sales)
        self.assertEqual(self.rows("SELECT * FROM {sales}.people ORDER BY id"),
                         [("1", "a", "10"), ("2", "B", "21"), ("3", "c", "30")])
        run = self.run_plugin("SELECT 3 AS id, 'x' AS name, 1 AS score UNION ALL SELECT 3, 'y', 2", TABLE="people",
                              LOAD_METHOD="MERGE", MERGE_KEYS="id")
        self.assertFails(run, "query.sql returned 2 rows whose merge key (id) is not unique")
        run = self.run_plugin("SELECT NULL::int AS id, 'x' AS name, 1 AS score", TABLE="people",
                              LOAD_METHOD="MERGE", MERGE_KEYS="id")
        self.assertFails(run, "query.sql returned 1 row with a NULL merge key (id)")
        self.assertEqual(self.rows("SELECT count(*) FROM {sales}.people"), [("3",)])

    def test_sql_error_fails_and_leaves_the_table_unchanged(self):
        self.seed_daily()
        before = self.rows("SELECT * FROM {sales}.daily ORDER BY 1, 2")
        run = self.run_plugin(self.q("SELECT day AS order_date\nFROM {raw}.nope"), LOAD_METHOD="REPLACE")
        self.assertFails(run, 'relation "%s.nope" does not exist' % self.raw, "in query.sql (line 2)", status=1)
        run = self.run_plugin("SELECT 1 / (2 - 2) AS orders", LOAD_METHOD="REPLACE")
        self.assertFails(run, "division by zero", "in query.sql", status=1)
        # An error after the DELETE: 'x' is not a date.
        run = self.run_plugin("SELECT 'x'::text AS order_date", LOAD_METHOD="REPLACE")
        self.assertFails(run, 'column "order_date" is of type date but expression is of type text',
                         "loading %s.daily (REPLACE)" % self.sales, status=1)
        self.assertEqual(self.rows("SELECT * FROM {sales}.daily ORDER BY 1, 2"), before)

    def test_query_lexer_and_keyword_names(self):
        self.assertFails(self.run_plugin("SELECT 1 AS a; SELECT 2 AS b"), "more than one statement", status=1)
        # Dollar quotes, E'' strings and nested comments hold semicolons; a keyword is quoted.
        query = "SELECT $q$a;b$q$ AS \"order\", E'it\\'s;' AS y /* /* ; */ ; */ ; -- done;\n"
        self.assertOk(self.run_plugin(query, TABLE="lexed"),
                      "loaded 1 row into %s.lexed (APPEND; created the table)" % self.sales)
        self.assertEqual(self.rows('SELECT "order", y FROM {sales}.lexed'), [("a;b", "it's;")])

    def test_keyword_dsn(self):
        u = urllib.parse.urlsplit(self.uri)
        dsn = "host=%s port=%s dbname=%s" % (u.hostname, u.port or 5432, u.path.lstrip("/") or "postgres")
        if u.username:
            dsn += " user=%s" % urllib.parse.unquote(u.username)
        if u.password:
            dsn += " password='%s'" % urllib.parse.unquote(u.password).replace("\\", "\\\\").replace("'", "\\'")
        self.assertOk(self.run_plugin("SELECT 1 AS one", TABLE="one", PG_DSN=dsn),
                      "loaded 1 row into %s.one (APPEND; created the table)" % self.sales)

    def test_bad_config_and_connection_are_clear_errors(self):
        for config, message in [
            ({"LOAD_METHOD": "upsert"}, "config LOAD_METHOD: 'upsert' is not APPEND, REPLACE or MERGE"),
            ({"SCHEMA": "sales-x"}, "config SCHEMA: 'sales-x' is not a valid name"),
            ({"TABLE": None}, "config TABLE is required"),
            ({"PG_DSN": None}, "config PG_DSN is required"),
        ]:
            with self.subTest(config=config):
                self.assertFails(self.run_plugin("SELECT 1 AS one", **config), message, status=2)
        self.assertFails(self.run_plugin("SELECT 1 AS one", PG_DSN="postgresql://127.0.0.1:1/postgres"),
                         "cannot connect: ", status=1)


if __name__ == "__main__":
    unittest.main()
