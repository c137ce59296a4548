"""Runs a DAG of Optimus sensors with Airflow's own dag.test(): real task contexts, Jinja rendering,
reschedules and callbacks, against a loopback runtime-context. Needs the metadata DB, which the
`airflow_db` fixture creates in the throw-away AIRFLOW_HOME."""

import inspect
import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest

import __lib as lib

UTC = timezone.utc


@pytest.fixture(scope="session")
def airflow_db():
    home = os.environ.get("AIRFLOW_HOME", "")
    assert home.startswith("/tmp"), "run through tools/dev/airflow, which gives a throw-away AIRFLOW_HOME"
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)


DAG_FILE = """
import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
try:
    from airflow.sdk import DAG
except ImportError:
    from airflow.models.dag import DAG
from __lib import OptimusHttpSensor, OptimusJob, OptimusUpstreamSensor, dag_schedule, utc_date

JOB = OptimusJob(project="p", namespace="ns", job="run_test", host="%(host)s", schedule="0 3 * * *", task_name="t")
default_args = {
    "start_date": utc_date("2024-01-01"),
    "retries": 0,
    "on_execute_callback": JOB.on_operator_start,
    "on_success_callback": JOB.on_operator_success,
    "on_retry_callback": JOB.on_operator_retry,
    "on_failure_callback": JOB.on_operator_failure,
}
with DAG(
    dag_id="run_test",
    schedule=dag_schedule("0 3 * * *"),
    default_args=default_args,
    catchup=False,
    on_success_callback=JOB.on_job_success,
    on_failure_callback=JOB.on_job_failure,
) as dag:
    upstream = OptimusUpstreamSensor(
        job=JOB,
        task_id="wait_dim",
        upstream_host="%(host)s",
        upstream_project="op",
        upstream_namespace="dims",
        upstream_job="dim",
    )
    http = OptimusHttpSensor(
        job=JOB,
        task_id="wait_ready",
        url="%(host)s/ready",
        headers={"X-Run": "{{ run_id }}"},
        query_params={"date": "{{ ds }}"},
    )
    upstream >> http
"""


def load_dags(folder):
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:
        from airflow.models.dagbag import DagBag
    kwargs = {"include_examples": False} if "include_examples" in inspect.signature(DagBag.__init__).parameters else {}
    bag = DagBag(folder, **kwargs)
    assert bag.import_errors == {}
    return bag.dags


def test_sensors_reschedule_then_pass_and_report_events(runtime, airflow_db, monkeypatch):
    polls = []

    def upstream_runs(request):
        polls.append(request["query"])
        return 200, {"jobRuns": [{"state": "success" if len(polls) > 2 else "running"}], "message": ""}

    runtime.routes.update(
        {
            ("GET", "/api/v1beta1/jobs"): (200, {"jobSpecificationResponses": []}),
            ("GET", "/api/v1beta1/project/p/replay-details"): (200, {"replays": []}),
            ("GET", "/api/v1beta1/project/op/namespace/dims/job/dim"): (
                200,
                {"spec": {"interval": "0 2 * * *", "schedulerState": "enabled"}},
            ),
            ("GET", "/api/v1beta1/project/p/job/run_test/interval"): (
                200,
                {"startTime": "2024-03-06T00:00:00Z", "endTime": "2024-03-07T00:00:00Z"},
            ),
            ("GET", "/api/v1beta1/project/op/job/dim/run"): upstream_runs,
            ("GET", "/ready"): (200, {}),
            ("POST", "/api/v1beta1/project/p/namespace/ns/job/run_test/event"): (200, {}),
        }
    )
    # Airflow 3 runs only DAGs it parsed from its DAG folder: write the file there, and load it back.
    folder = os.environ["AIRFLOW__CORE__DAGS_FOLDER"]
    os.makedirs(os.path.join(folder, "ns"), exist_ok=True)
    if not os.path.exists(os.path.join(folder, "__lib.py")):
        os.symlink(lib.__file__, os.path.join(folder, "__lib.py"))
    with open(os.path.join(folder, "ns", "run_test.py"), "w") as f:
        f.write(DAG_FILE % {"host": runtime.url})
    monkeypatch.setenv("AIRFLOW_VAR_SENSOR_POKE_INTERVAL_IN_SECS", "1")
    dag = load_dags(folder)["run_test"]
    logical = datetime(2024, 3, 6, 3, tzinfo=UTC)
    key = "logical_date" if "logical_date" in inspect.signature(dag.test).parameters else "execution_date"
    run = dag.test(**{key: logical})

    assert str(getattr(run.state, "value", run.state)) == "success"
    assert len(polls) == 3  # two reschedules, then success
    assert polls[0]["start_date"] == "2024-03-06T02:00:00Z"
    ready = [r for r in runtime.requests if r["path"] == "/ready"][0]
    assert ready["query"] == {"date": "2024-03-06"}  # Jinja-rendered by Airflow
    assert ready["headers"]["X-Run"] not in ("", "{{ run_id }}")
    events = [
        (r["body"]["event"]["type"], r["body"]["event"]["value"]["task_id"])
        for r in runtime.requests
        if r["method"] == "POST"
    ]
    assert events[:4] == [
        ("TYPE_SENSOR_START", "wait_dim"),
        ("TYPE_SENSOR_SUCCESS", "wait_dim"),
        ("TYPE_SENSOR_START", "wait_ready"),
        ("TYPE_SENSOR_SUCCESS", "wait_ready"),
    ]
    assert events[4][0] == "TYPE_JOB_SUCCESS"
    for request in runtime.requests:
        if request["method"] == "POST":
            assert request["body"]["event"]["value"]["scheduled_at"] == "2024-03-07T03:00:00Z"
