"""The published __lib.py and DAGs against a live runtime-context (optimus serve), in an Airflow
venv: callbacks record run states, the upstream sensor decides from recorded runs, and tokens of
another project are refused without recording anything.

Run by runtime_e2etest.sh, which deploys examples/sample-project and sets:
  OPTIMUS_LIVE_HTTP   http://127.0.0.1:<port> of optimus serve
  OPTIMUS_LIVE_DAGS   the published dags/ folder (holds __lib.py)
  OPTIMUS_E2E_TOKEN, OPTIMUS_E2E_OTHER_TOKEN, OPTIMUS_E2E_ADMIN_TOKEN
"""

import importlib.util
import json
import os
import sys
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

HTTP = os.environ["OPTIMUS_LIVE_HTTP"]
DAGS = os.environ["OPTIMUS_LIVE_DAGS"]
TOKEN = os.environ["OPTIMUS_E2E_TOKEN"]
OTHER = os.environ["OPTIMUS_E2E_OTHER_TOKEN"]
ADMIN = os.environ["OPTIMUS_E2E_ADMIN_TOKEN"]
PROJECT = "sample-project"
UPSTREAM = "sample-project.sales_raw.orders"  # daily at 01:00
DOWNSTREAM = "sample-project.sales_staging.orders"  # daily at 02:00, reads the upstream's table
UTC = timezone.utc
# Each Airflow version's run records its own year: runs recorded by one stay on the server.
YEAR = int(os.environ.get("OPTIMUS_E2E_YEAR", "2024"))

os.environ.setdefault("AIRFLOW_VAR_OPTIMUS_REQUEST_TIMEOUT_IN_SECS", "5")
os.environ.setdefault("AIRFLOW_VAR_BYPASS_DISABLED_JOBS", "True")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "services", "compiler", "templates", "tests"))
from offline_kube import use_unreachable_cluster  # noqa: E402

use_unreachable_cluster()  # building a pod asks whether it runs in a cluster
sys.path.insert(0, DAGS)

import __lib as lib  # noqa: E402  (the published copy, not the template source)


def load_dag(job):
    """The published DAG file of `job`, imported as Airflow's DAG processor would."""
    for root, _, files in os.walk(DAGS):
        if job + ".py" in files:
            path = os.path.join(root, job + ".py")
            spec = importlib.util.spec_from_file_location("dag_" + job.replace(".", "_"), path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module.dag
    raise AssertionError("no published DAG for " + job)


@pytest.fixture(autouse=True)
def token(monkeypatch):
    monkeypatch.setenv(lib.AUTH_TOKEN_ENV, TOKEN)


class TI:
    def __init__(self, task_id, dag_id, try_number=1):
        self.task_id = task_id
        self.dag_id = dag_id
        self.try_number = try_number
        self.max_tries = 3
        self.map_index = -1
        self.log_url = "http://airflow/log?task_id=" + task_id
        self.duration = 3.0
        self.state = "running"
        self.start_date = datetime.now(UTC)
        self.end_date = None

    def xcom_pull(self, task_ids=None, key="return_value"):
        return None


class DagRun:
    def __init__(self, dag_id, logical):
        self.dag_id = dag_id
        self.logical_date = logical
        self.run_id = "scheduled__" + logical.isoformat()
        self.start_date = datetime.now(UTC)
        self.end_date = None

    def get_task_instances(self, state=None):
        return []


def context(dag, task, logical):
    ti = TI(task.task_id, dag.dag_id)
    run = DagRun(dag.dag_id, logical)
    return {
        "run_id": run.run_id,
        "logical_date": logical,
        "dag_run": run,
        "dag": dag,
        "task": task,
        "ti": ti,
        "task_instance": ti,
        "task_instance_key_str": "%s__%s" % (dag.dag_id, task.task_id),
    }


def runs(job, start, end, token=ADMIN):
    query = urllib.parse.urlencode({"start_date": start, "end_date": end})
    request = urllib.request.Request(
        "%s/api/v1beta1/project/%s/job/%s/run?%s" % (HTTP, PROJECT, job, query),
        headers={"Authorization": "Bearer " + token},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return {r["scheduledAt"]: r["state"] for r in json.load(response)["jobRuns"]}


def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_published_dags_carry_the_live_host_and_the_upstream_sensor():
    dag = load_dag(DOWNSTREAM)
    sensor = dag.get_task("wait_" + UPSTREAM)
    assert isinstance(sensor, lib.OptimusUpstreamSensor)
    assert sensor.optimus_job.host == HTTP
    assert sensor.upstream_project == PROJECT and sensor.upstream_job == UPSTREAM


def test_callbacks_record_the_run_states_the_sensor_reads():
    dag = load_dag(UPSTREAM)
    task = next(t for t in dag.tasks if isinstance(t, lib.OptimusPodOperator) and t.optimus_kind == lib.KIND_TASK)
    job = task.optimus_job
    logical = datetime(YEAR, 5, 1, 1, 0, tzinfo=UTC)  # runs at 05-02T01:00
    scheduled = ts(job.scheduled_at({"logical_date": logical}))
    assert scheduled == "%d-05-02T01:00:00Z" % YEAR
    window = ("%d-05-02T00:00:00Z" % YEAR, "%d-05-02T23:00:00Z" % YEAR)
    assert runs(UPSTREAM, *window) == {scheduled: "pending"}

    job.on_operator_start(context(dag, task, logical))
    assert runs(UPSTREAM, *window) == {scheduled: "running"}
    job.on_operator_success(context(dag, task, logical))
    assert runs(UPSTREAM, *window) == {scheduled: "running"}, "the job ends with its DAG run"
    job.on_job_success(context(dag, task, logical))
    assert runs(UPSTREAM, *window) == {scheduled: "success"}

    # A failed run of the next day.
    logical2 = logical + timedelta(days=1)
    job.on_operator_start(context(dag, task, logical2))
    job.on_operator_failure(dict(context(dag, task, logical2), exception=RuntimeError("pod failed")))
    job.on_job_failure(dict(context(dag, task, logical2), reason="task_failure"))
    assert runs(UPSTREAM, "%d-05-03T00:00:00Z" % YEAR, "%d-05-03T23:00:00Z" % YEAR) == {"%d-05-03T01:00:00Z" % YEAR: "failed"}


def sensor_and_context(logical):
    dag = load_dag(DOWNSTREAM)
    sensor = dag.get_task("wait_" + UPSTREAM)
    return sensor, context(dag, sensor, logical)


def succeed_upstream(scheduled):
    dag = load_dag(UPSTREAM)
    task = next(t for t in dag.tasks if isinstance(t, lib.OptimusPodOperator) and t.optimus_kind == lib.KIND_TASK)
    logical = scheduled - timedelta(days=1)
    task.optimus_job.on_operator_start(context(dag, task, logical))
    task.optimus_job.on_job_success(context(dag, task, logical))


def test_upstream_sensor_waits_for_the_upstream_run_of_its_window_then_passes():
    # The downstream run scheduled 06-11T02:00 needs the upstream's runs inside its window.
    sensor, ctx = sensor_and_context(datetime(YEAR, 6, 10, 2, 0, tzinfo=UTC))
    scheduled = sensor.optimus_job.scheduled_at(ctx)
    assert ts(scheduled) == "%d-06-11T02:00:00Z" % YEAR
    start, end = sensor.window(scheduled, sensor.upstream_schedule()[0])
    needed = runs(UPSTREAM, start, end)
    assert needed and set(needed.values()) == {"pending"}, needed
    assert sensor.poke(ctx) is False, "no upstream run yet"
    ticks = sorted(needed)
    for tick in ticks[:-1]:
        succeed_upstream(datetime.strptime(tick, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC))
    if len(ticks) > 1:
        assert sensor.poke(ctx) is False, "one upstream run of the window is still missing"
    succeed_upstream(datetime.strptime(ticks[-1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC))
    assert sensor.poke(ctx) is True
    assert set(runs(UPSTREAM, start, end).values()) == {"success"}


def test_upstream_sensor_keeps_waiting_on_a_failed_upstream_run():
    sensor, ctx = sensor_and_context(datetime(YEAR, 7, 10, 2, 0, tzinfo=UTC))
    scheduled = sensor.optimus_job.scheduled_at(ctx)
    start, end = sensor.window(scheduled, sensor.upstream_schedule()[0])
    dag = load_dag(UPSTREAM)
    task = next(t for t in dag.tasks if isinstance(t, lib.OptimusPodOperator) and t.optimus_kind == lib.KIND_TASK)
    for tick in runs(UPSTREAM, start, end):
        logical = datetime.strptime(tick, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) - timedelta(days=1)
        task.optimus_job.on_job_failure(dict(context(dag, task, logical), reason="task_failure"))
    assert set(runs(UPSTREAM, start, end).values()) == {"failed"}
    assert sensor.poke(ctx) is False


def test_a_token_of_another_project_records_nothing_and_reads_nothing(monkeypatch):
    dag = load_dag(UPSTREAM)
    task = next(t for t in dag.tasks if isinstance(t, lib.OptimusPodOperator) and t.optimus_kind == lib.KIND_TASK)
    logical = datetime(YEAR, 8, 1, 1, 0, tzinfo=UTC)
    window = ("%d-08-02T00:00:00Z" % YEAR, "%d-08-02T23:00:00Z" % YEAR)
    monkeypatch.setenv(lib.AUTH_TOKEN_ENV, OTHER)
    monkeypatch.setattr(lib.time, "sleep", lambda s: None)
    task.optimus_job.on_operator_start(context(dag, task, logical))  # refused, logged, never raises
    task.optimus_job.on_job_success(context(dag, task, logical))
    with pytest.raises(lib.OptimusRequestError) as refused:
        lib.http_json("GET", "%s/api/v1beta1/project/%s/job/%s/run" % (HTTP, PROJECT, UPSTREAM),
                      params={"start_date": window[0], "end_date": window[1]})
    assert refused.value.status == 403
    monkeypatch.setenv(lib.AUTH_TOKEN_ENV, "")
    with pytest.raises(lib.OptimusRequestError) as missing:
        lib.http_json("GET", "%s/api/v1beta1/project/%s/job/%s/run" % (HTTP, PROJECT, UPSTREAM),
                      params={"start_date": window[0], "end_date": window[1]})
    assert missing.value.status == 401
    assert runs(UPSTREAM, *window) == {"%d-08-02T01:00:00Z" % YEAR: "pending"}, "nothing was recorded"

    sensor, ctx = sensor_and_context(datetime(YEAR, 8, 1, 2, 0, tzinfo=UTC))
    monkeypatch.setenv(lib.AUTH_TOKEN_ENV, OTHER)
    assert sensor.poke(ctx) is False
    assert "403" in sensor.scheduler_error


def test_the_init_container_takes_its_token_from_a_kubernetes_secret(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_OPTIMUS_AUTH_TOKEN_SECRET", "optimus-task-token:value")
    dag = load_dag(DOWNSTREAM)
    task = next(t for t in dag.tasks if isinstance(t, lib.OptimusPodOperator) and t.optimus_kind == lib.KIND_TASK)
    ctx = context(dag, task, datetime(YEAR, 6, 10, 2, 0, tzinfo=UTC))
    pod = task.build_pod_request_obj(ctx)
    (init,) = [c for c in pod.spec.init_containers if c.name == lib.RUN_INPUT_CONTAINER]
    env = {e.name: e for e in init.env}
    ref = env[lib.AUTH_TOKEN_ENV].value_from.secret_key_ref
    assert (ref.name, ref.key) == ("optimus-task-token", "value")
    assert env["SCHEDULED_AT"].value == "%d-06-11T02:00:00Z" % YEAR


# --- a DAG file compiled by Optimus itself, in the same folder, on our __lib.py ---------------------


def load_optimus_compiled(tmp_path):
    """testdata/optimus's finance.invoices (Optimus's compiled shape) rewritten as the sample
    project's DOWNSTREAM on this server, with its upstream sensor on UPSTREAM."""
    fixture = os.path.join(ROOT, "services", "compiler", "templates", "testdata", "optimus", "finance", "finance.invoices.py")
    with open(fixture) as f:
        text = f.read()
    for old, new in (
        ("http://optimus.example.com", HTTP),
        ("legacy-project", PROJECT),
        ("finance.invoices", DOWNSTREAM),
        ("finance.payments", UPSTREAM),
    ):
        text = text.replace('"%s"' % old, '"%s"' % new).replace("'%s'" % old, "'%s'" % new)
    text = text.replace('"namespace": "finance"', '"namespace": "sales"')
    text = text.replace('upstream_optimus_namespace="finance"', 'upstream_optimus_namespace="sales"')
    path = tmp_path / "optimus_compiled.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("optimus_compiled_" + tmp_path.name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def test_an_optimus_compiled_dag_waits_for_its_upstream_then_records_its_run(tmp_path):
    dag = load_optimus_compiled(tmp_path)
    sensor = dag.get_task("wait_finance.payments-bq2bq")
    logical = datetime(YEAR, 9, 10, 2, 0, tzinfo=UTC)  # scheduled 09-11T02:00
    ctx = context(dag, sensor, logical)
    assert sensor.poke(ctx) is False, "no upstream run yet"
    start, end = sensor.window(sensor.optimus_job.scheduled_at(ctx), sensor.upstream_schedule()[0])
    for tick in sorted(runs(UPSTREAM, start, end)):
        succeed_upstream(datetime.strptime(tick, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC))
    assert sensor.poke(ctx) is True

    task = dag.get_task("bq2bq")
    scheduled = "%d-09-11T02:00:00Z" % YEAR
    dag.default_args["on_execute_callback"](context(dag, task, logical))
    assert runs(DOWNSTREAM, scheduled, scheduled) == {scheduled: "running"}
    dag.on_success_callback(context(dag, task, logical))
    assert runs(DOWNSTREAM, scheduled, scheduled) == {scheduled: "success"}
