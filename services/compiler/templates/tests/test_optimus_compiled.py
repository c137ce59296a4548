"""DAG files compiled by Optimus itself (testdata/optimus, in the shape of its dag.2.9 template) in
one DAG folder with ours: the folder loads with no import error, and the names those files import
from our __lib.py call our server the way Optimus's helper calls Optimus."""

import inspect
import os
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import __lib as lib

UTC = timezone.utc
TEMPLATES = Path(lib.__file__).resolve().parent
OPTIMUS_DAGS = TEMPLATES / "testdata" / "optimus"
OURS = TEMPLATES / "testdata" / ("airflow%d" % lib.AIRFLOW_MAJOR)
HOST = "http://optimus.example.com"
P, NS, JOB, UP_JOB = "legacy-project", "finance", "finance.invoices", "finance.payments"
# finance.invoices runs daily at 02:00: the run with logical date 03-06T02:00 is scheduled 03-07T02:00.
LOGICAL = datetime(2024, 3, 6, 2, 0, tzinfo=UTC)
SCHEDULED = "2024-03-07T02:00:00Z"


def load_folder(folder):
    """The DAG folder as Airflow's DAG processor loads it (a bundle on Airflow 3)."""
    try:
        from airflow.dag_processing.dagbag import BundleDagBag

        bag = BundleDagBag(str(folder), bundle_path=Path(folder))
    except ImportError:
        from airflow.models.dagbag import DagBag

        kwargs = {"include_examples": False} if "include_examples" in inspect.signature(DagBag.__init__).parameters else {}
        bag = DagBag(str(folder), **kwargs)
    return bag


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dags")
    shutil.copytree(OURS, folder, dirs_exist_ok=True, symlinks=False)
    shutil.copytree(OPTIMUS_DAGS / NS, folder / NS)
    (folder / "__lib.py").unlink(missing_ok=True)
    shutil.copy(lib.__file__, folder / "__lib.py")
    return folder


@pytest.fixture(scope="module")
def dags(mixed_folder):
    bag = load_folder(mixed_folder)
    assert bag.import_errors == {}
    return bag.dags


def test_a_mixed_folder_loads_with_no_import_error_and_serializes(dags):
    ours = {p.stem for p in OURS.rglob("*.py") if p.name != "__lib.py"}
    assert set(dags) == ours | {JOB, UP_JOB}
    try:  # Airflow 3
        from airflow.serialization.serialized_objects import DagSerialization as Serialization
    except ImportError:
        from airflow.serialization.serialized_objects import SerializedDAG as Serialization
    for dag in dags.values():
        assert dag.dag_id in str(Serialization.to_dict(dag))  # what the DAG processor stores
    invoices = dags[JOB]
    assert type(invoices.get_task("bq2bq")).__name__ == "SuperKubernetesPodOperator"
    assert isinstance(invoices.get_task("wait_finance.payments-bq2bq"), lib.OptimusUpstreamSensor)
    assert isinstance(invoices.get_task("wait_dex_finance.fx_rates"), lib.SuperExternal3rdPartyTaskSensor)
    assert sorted(invoices.get_task("bq2bq").downstream_task_ids) == ["hook_predator"]
    # The schedule keeps Airflow 2's meaning on Airflow 3: runs with data intervals.
    assert type(invoices.timetable).__name__ == "CronDataIntervalTimetable"
    assert lib._dag_cron(invoices) == "0 2 * * *"


class TI:
    def __init__(self, task_id):
        self.task_id, self.dag_id = task_id, JOB
        self.try_number, self.max_tries, self.map_index = 1, 3, -1
        self.log_url = "http://airflow/log?task_id=" + task_id
        self.duration, self.state = 3.0, "running"
        self.start_date, self.end_date = datetime(2024, 3, 7, 2, 0, 5, tzinfo=UTC), None

    def xcom_pull(self, task_ids=None, key="return_value"):
        return None


class DagRun:
    dag_id = JOB
    run_id = "scheduled__2024-03-06T02:00:00+00:00"
    logical_date = LOGICAL
    start_date = datetime(2024, 3, 7, 2, 0, 1, tzinfo=UTC)
    end_date = None

    def get_task_instances(self, state=None):
        return []


def context(dag, task, **extra):
    ti = TI(task.task_id)
    ctx = {
        "run_id": DagRun.run_id,
        "logical_date": LOGICAL,
        "dag_run": DagRun(),
        "dag": dag,
        "task": task,
        "ti": ti,
        "task_instance": ti,
        "params": {k: lib._param(dag.params, k) for k in ("project_name", "namespace", "job_name", "optimus_hostname")},
        "task_instance_key_str": "%s__%s__20240306" % (JOB, task.task_id),
    }
    ctx.update(extra)
    return ctx


@pytest.fixture
def invoices(dags, runtime, monkeypatch):
    """finance.invoices with its hosts pointed at the fake server."""
    dag = dags[JOB]
    monkeypatch.setattr(dag, "params", type(dag.params)(dict(dag.params, optimus_hostname=runtime.url)))
    sensor = dag.get_task("wait_finance.payments-bq2bq")
    monkeypatch.setattr(sensor, "optimus_hostname", runtime.url)
    monkeypatch.setattr(sensor, "upstream_host", runtime.url)
    monkeypatch.setattr(dag.get_task("wait_dex_finance.fx_rates"), "optimus_hostname", runtime.url)
    return dag


def serve_upstream(runtime, states):
    runtime.routes.update(
        {
            ("GET", "/api/v1beta1/jobs"): (200, {"jobSpecificationResponses": []}),
            ("GET", "/api/v1beta1/project/%s/replay-details" % P): (200, {"replays": []}),
            ("GET", "/api/v1beta1/project/%s/namespace/%s/job/%s" % (P, NS, UP_JOB)): (
                200,
                {"spec": {"name": UP_JOB, "interval": "@daily", "schedulerState": "enabled"}},
            ),
            ("GET", "/api/v1beta1/project/%s/job/%s/interval" % (P, JOB)): (
                200,
                {"startTime": "2024-03-06T00:00:00Z", "endTime": "2024-03-07T00:00:00Z"},
            ),
            ("GET", "/api/v1beta1/project/%s/job/%s/run" % (P, UP_JOB)): (
                200,
                {"jobRuns": [{"state": s, "scheduledAt": "2024-03-07T00:00:00Z"} for s in states], "message": ""},
            ),
        }
    )


@pytest.mark.parametrize("states,passes", [(("success",), True), (("running",), False), (("failed",), False)])
def test_the_upstream_sensor_reads_the_upstream_runs_of_its_window(invoices, runtime, states, passes):
    serve_upstream(runtime, states)
    sensor = invoices.get_task("wait_finance.payments-bq2bq")
    assert sensor.poke(context(invoices, sensor)) is passes
    (interval,) = [r for r in runtime.requests if r["path"].endswith("/interval")]
    assert interval["query"] == {"reference_time": SCHEDULED.replace("02:00", "00:00")}
    (runs,) = [r for r in runtime.requests if r["path"].endswith("/run")]
    assert runs["query"]["downstream_project_name"] == P and runs["query"]["downstream_job_name"] == JOB
    assert (runs["query"]["start_date"], runs["query"]["end_date"]) == ("2024-03-07T00:00:00Z", "2024-03-07T00:00:00Z")


def events(runtime):
    path = "/api/v1beta1/project/%s/namespace/%s/job/%s/event" % (P, NS, JOB)
    return [r["body"]["event"] for r in runtime.requests if r["method"] == "POST" and r["path"] == path]


def test_the_callbacks_post_optimus_events_for_the_job_in_params(invoices, runtime):
    runtime.routes[("POST", "/api/v1beta1/project/%s/namespace/%s/job/%s/event" % (P, NS, JOB))] = (200, {})
    task = invoices.get_task("bq2bq")
    args = invoices.default_args
    args["on_execute_callback"](context(invoices, task))
    args["on_failure_callback"](context(invoices, task, exception=RuntimeError("pod failed")))
    invoices.on_success_callback(context(invoices, task))
    sensor = invoices.get_task("wait_finance.payments-bq2bq")
    args["on_success_callback"](context(invoices, sensor))
    posted = events(runtime)
    assert [e["type"] for e in posted] == ["TYPE_TASK_START", "TYPE_TASK_FAIL", "TYPE_JOB_SUCCESS", "TYPE_SENSOR_SUCCESS"]
    assert {e["value"]["scheduled_at"] for e in posted} == {SCHEDULED}
    assert posted[1]["value"]["exception"] == "pod failed"
    assert posted[2]["value"]["task_id"] == "bq2bq"


def test_the_sla_miss_callback_posts_the_missed_runs(invoices, runtime):
    runtime.routes[("POST", "/api/v1beta1/project/%s/namespace/%s/job/%s/event" % (P, NS, JOB))] = (200, {})

    class Sla:
        task_id, dag_id = "bq2bq", JOB
        execution_date = LOGICAL
        timestamp = datetime(2024, 3, 7, 4, 0, tzinfo=UTC)

    lib.optimus_sla_miss_notify(invoices, [], [], [Sla()], [])
    (event,) = events(runtime)
    assert event["type"] == "TYPE_SLA_MISS"
    assert event["value"]["slas"][0]["scheduled_at"] == SCHEDULED


def test_the_pod_operator_gives_optimus_init_container_the_run_identity(invoices, monkeypatch):
    task = invoices.get_task("bq2bq")
    monkeypatch.setattr(task, "in_cluster", False)  # compiled for a cluster; this test runs outside one
    pod = task.build_pod_request_obj(context(invoices, task))
    (init,) = pod.spec.init_containers
    env = {e.name: e.value for e in init.env}
    assert env["SCHEDULED_AT"] == SCHEDULED and env["DAG_RUN_ID"] == DagRun.run_id
    assert env["INSTANCE_NAME"] == "bq2bq" and env["PROJECT"] == P


DEX = "/api/v1beta1/project/%s/job/%s/third-party-sensor" % (P, JOB)


@pytest.mark.parametrize(
    "mode,answer,max_minutes,passes",
    [
        ("", (500, {"message": "never asked"}), "", True),  # unset: skipped
        ("OFF", (500, {"message": "never asked"}), "", True),
        ("ON", (200, {"dexSensorResponse": {"isComplete": True, "log": []}}), "", True),
        ("ON", (200, {"dexSensorResponse": {"isComplete": False, "log": []}}), "", False),
        ("ON", (503, {"message": "no completeness source"}), "", False),
        ("SOFT", (200, {"dexSensorResponse": {"isComplete": False}}), "", True),  # no limit: bypass
        ("SOFT", (200, {"dexSensorResponse": {"isComplete": False}}), "999999", False),
        ("SOFT", (200, {"dexSensorResponse": {"isComplete": False}}), "0", True),
        ("SOFT_5XX", (200, {"dexSensorResponse": {"isComplete": False}}), "0", False),
        ("SOFT_5XX", (503, {"message": "down"}), "0", True),
    ],
)
def test_the_third_party_sensor_follows_its_toggle(invoices, runtime, monkeypatch, mode, answer, max_minutes, passes):
    runtime.routes[("PUT", DEX)] = answer
    monkeypatch.setenv("AIRFLOW_VAR_THIRD_PARTY_SENSOR_TOGGLE", mode)
    monkeypatch.setenv("AIRFLOW_VAR_THIRD_PARTY_SENSOR_MAX_TIME_MINUTES", max_minutes)
    sensor = invoices.get_task("wait_dex_finance.fx_rates")
    run = DagRun()
    run.start_date = datetime.now(UTC) - timedelta(minutes=5)
    assert sensor.poke(context(invoices, sensor, dag_run=run)) is passes
    asked = [r for r in runtime.requests if r["path"] == DEX]
    if mode in ("", "OFF"):
        assert asked == []
    else:
        assert asked[0]["method"] == "PUT"
        assert asked[0]["body"] == {
            "scheduled_at": SCHEDULED,
            "third_party_type": "dex",
            "dex_sensor_request": {"resource_urn": "bigquery://example-gcp:finance.fx_rates"},
        }


def test_the_third_party_sensor_skips_listed_jobs_and_backfills(invoices, runtime, monkeypatch):
    runtime.routes[("PUT", DEX)] = (200, {"dexSensorResponse": {"isComplete": False}})
    monkeypatch.setenv("AIRFLOW_VAR_THIRD_PARTY_SENSOR_TOGGLE", "ON")
    sensor = invoices.get_task("wait_dex_finance.fx_rates")
    assert sensor.poke(context(invoices, sensor, run_id="custom-backfill_1__2024-03-06")) is True
    monkeypatch.setenv("AIRFLOW_VAR_THIRD_PARTY_BLACKLISTEDJOBS", "other.job, %s" % JOB)
    assert sensor.poke(context(invoices, sensor)) is True
    assert runtime.requests == []


def test_the_http_sensor_of_optimus_passes_on_2xx(runtime):
    runtime.routes[("GET", "/ready")] = (204, {})
    sensor = lib.ExternalHttpSensor(
        task_id="wait_ready", endpoint=runtime.url + "/ready", headers={"X-Key": "k"}, request_params={"d": "1"}
    )
    assert sensor.poke({}) is True
    assert runtime.requests[0]["query"] == {"d": "1"} and runtime.requests[0]["headers"]["X-Key"] == "k"
    runtime.routes[("GET", "/ready")] = (404, {})
    assert sensor.poke({}) is False
