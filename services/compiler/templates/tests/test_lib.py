"""Unit tests of __lib.py (sensor decisions, event payloads, pods, wiring) on Airflow 2 and 3."""

from datetime import datetime, timedelta, timezone

import pytest
from airflow.exceptions import AirflowException

import __lib as lib

UTC = timezone.utc
P, NS, JOB = "sample-project", "ns1", "job_a"
UP_P, UP_NS, UP_JOB = "other-project", "dims", "dim_customers"
# A run of a daily-03:00 job whose logical date is 03-06T03:00 is triggered (scheduled) at 03-07T03:00.
LOGICAL = datetime(2024, 3, 6, 3, 0, tzinfo=UTC)
SCHEDULED = "2024-03-07T03:00:00Z"


def make_job(host, schedule="0 3 * * *"):
    return lib.OptimusJob(
        project=P,
        namespace=NS,
        job=JOB,
        host=host,
        schedule=schedule,
        task_name="bq2bq",
        init_image="optimus:test",
        run_input_host="runtime:9100",
    )


class FakeTI:
    def __init__(self, task_id, try_number=1, xcoms=None):
        self.task_id = task_id
        self.dag_id = JOB
        self.try_number = try_number
        self.max_tries = 3
        self.map_index = -1
        self.log_url = "http://airflow/log?task_id=" + task_id
        self.duration = 12.5
        self.state = "running"
        self.start_date = datetime(2024, 3, 7, 3, 0, 5, tzinfo=UTC)
        self.end_date = None
        self.xcoms = xcoms or {}

    def xcom_pull(self, task_ids=None, key="return_value"):
        return self.xcoms.get((task_ids, key))


class FakeDagRun:
    dag_id = JOB
    run_id = "scheduled__2024-03-06T03:00:00+00:00"
    logical_date = LOGICAL
    start_date = datetime(2024, 3, 7, 3, 0, 1, tzinfo=UTC)
    end_date = None


def context(task=None, ti=None, **extra):
    ctx = {
        "run_id": FakeDagRun.run_id,
        "logical_date": LOGICAL,
        "dag_run": FakeDagRun(),
        "task": task,
        "ti": ti,
        "task_instance": ti,
        "task_instance_key_str": "%s__%s__20240306" % (JOB, getattr(ti, "task_id", "")),
    }
    ctx.update(extra)
    return ctx


def upstream_sensor(runtime, job=None):
    return lib.OptimusUpstreamSensor(
        task_id="wait_" + UP_JOB,
        job=job or make_job(runtime.url),
        upstream_host=runtime.url,
        upstream_project=UP_P,
        upstream_namespace=UP_NS,
        upstream_job=UP_JOB,
    )


def serve_upstream(runtime, interval="0 2 * * *", state="enabled", runs=("success",), window=None):
    start, end = window or ("2024-03-06T00:00:00Z", "2024-03-07T00:00:00Z")
    runtime.routes[("GET", "/api/v1beta1/jobs")] = (200, {"jobSpecificationResponses": []})
    runtime.routes[("GET", "/api/v1beta1/project/%s/replay-details" % P)] = (200, {"replays": []})
    runtime.routes[("GET", "/api/v1beta1/project/%s/namespace/%s/job/%s" % (UP_P, UP_NS, UP_JOB))] = (
        200,
        {"spec": {"name": UP_JOB, "interval": interval, "schedulerState": state}},
    )
    runtime.routes[("GET", "/api/v1beta1/project/%s/job/%s/interval" % (P, JOB))] = (
        200,
        {"startTime": start, "endTime": end},
    )
    runtime.routes[("GET", "/api/v1beta1/project/%s/job/%s/run" % (UP_P, UP_JOB))] = (
        200,
        {"jobRuns": [{"state": s, "scheduledAt": "2024-03-06T02:00:00Z"} for s in runs], "message": ""},
    )


def runs_requests(runtime):
    return [r for r in runtime.requests if r["path"].endswith("/job/%s/run" % UP_JOB)]


# --- upstream sensor ---------------------------------------------------------------------------------


def test_upstream_sensor_passes_when_every_run_in_the_window_succeeded(runtime):
    serve_upstream(runtime, runs=("success", "success"))
    assert upstream_sensor(runtime).poke(context()) is True
    # The own window is asked for at the latest upstream tick <= the scheduled time (02:00 <= 03:00).
    interval = [r for r in runtime.requests if r["path"].endswith("/interval")]
    assert interval[0]["query"] == {"reference_time": "2024-03-07T02:00:00Z"}
    # Runs from the first upstream tick after the window start, to the window end (inclusive).
    assert runs_requests(runtime)[0]["query"] == {
        "start_date": "2024-03-06T02:00:00Z",
        "end_date": "2024-03-07T00:00:00Z",
        "downstream_project_name": P,
        "downstream_job_name": JOB,
    }


def test_upstream_sensor_reschedules_while_a_run_is_not_successful(runtime):
    serve_upstream(runtime, runs=("success", "running"))
    assert upstream_sensor(runtime).poke(context()) is False


def test_upstream_sensor_with_no_expected_runs_passes(runtime):
    serve_upstream(runtime, runs=())
    assert upstream_sensor(runtime).poke(context()) is True


def test_upstream_sensor_accepts_descriptors_and_nanosecond_timestamps(runtime):
    serve_upstream(runtime, interval="@daily", window=("2024-03-06T00:00:00.123456789Z", "2024-03-07T00:00:00Z"))
    assert upstream_sensor(runtime).poke(context()) is True
    assert runs_requests(runtime)[0]["query"]["start_date"] == "2024-03-07T00:00:00Z"
    interval = [r for r in runtime.requests if r["path"].endswith("/interval")]
    assert interval[0]["query"] == {"reference_time": "2024-03-07T00:00:00Z"}


def test_upstream_sensor_bypasses_a_disabled_upstream(runtime):
    serve_upstream(runtime, state="disabled", runs=("failed",))
    assert upstream_sensor(runtime).poke(context()) is True
    assert runs_requests(runtime) == []


def test_upstream_sensor_reschedules_when_the_upstream_cannot_be_read(runtime):
    serve_upstream(runtime)
    runtime.routes[("GET", "/api/v1beta1/project/%s/namespace/%s/job/%s" % (UP_P, UP_NS, UP_JOB))] = (
        500,
        {"message": "boom"},
    )
    sensor = upstream_sensor(runtime)
    assert sensor.poke(context()) is False
    assert "error while fetching upstream schedule" in sensor.scheduler_error
    assert "HTTP 500" in sensor.scheduler_error


def test_upstream_sensor_fails_the_try_when_runs_cannot_be_read(runtime):
    serve_upstream(runtime)
    runtime.routes[("GET", "/api/v1beta1/project/%s/job/%s/run" % (UP_P, UP_JOB))] = (503, {"message": "down"})
    with pytest.raises(AirflowException, match="fetching runs of dim_customers failed"):
        upstream_sensor(runtime).poke(context())


def test_upstream_sensor_bypasses_backfill_runs_without_asking(runtime):
    ctx = context(run_id="custom-backfill_0b7c__2024-03-06T03:00:00+00:00")
    assert upstream_sensor(runtime).poke(ctx) is True
    assert runtime.requests == []


def test_upstream_sensor_bypasses_when_a_replay_ignores_upstreams(runtime):
    serve_upstream(runtime, runs=("failed",))
    runtime.routes[("GET", "/api/v1beta1/project/%s/replay-details" % P)] = (
        200,
        {"replays": [{"replayConfig": {"jobConfig": {"IGNORE_UPSTREAM": "True"}}}]},
    )
    assert upstream_sensor(runtime).poke(context()) is True
    replay = [r for r in runtime.requests if r["path"].endswith("/replay-details")][0]
    assert replay["query"] == {"scheduled_at": SCHEDULED, "job_names": JOB, "status": "in progress"}
    assert runs_requests(runtime) == []


def test_upstream_sensor_bypasses_dry_run_jobs(runtime):
    serve_upstream(runtime, runs=("failed",))
    runtime.routes[("GET", "/api/v1beta1/jobs")] = (
        200,
        {"jobSpecificationResponses": [{"job": {"config": [{"name": "DRY_RUN", "value": " Yes "}]}}]},
    )
    assert upstream_sensor(runtime).poke(context()) is True
    assert runtime.requests[0]["query"] == {"project_name": P, "job_name": JOB}


def test_unscheduled_job_is_scheduled_at_its_logical_date(runtime):
    serve_upstream(runtime)
    job = make_job(runtime.url, schedule="")
    assert lib.format_ts(job.scheduled_at(context())) == "2024-03-06T03:00:00Z"
    # Airflow 3 runs triggered without a logical date: the run-after time.
    run = FakeDagRun()
    run.logical_date = None
    run.run_after = datetime(2024, 3, 9, 8, 30, tzinfo=UTC)
    assert lib.format_ts(job.scheduled_at(context(logical_date=None, dag_run=run))) == "2024-03-09T08:30:00Z"


# --- HTTP sensor -------------------------------------------------------------------------------------


def http_sensor(runtime, path="/ready"):
    return lib.OptimusHttpSensor(
        task_id="wait_vendor_ready",
        job=make_job(runtime.url),
        url=runtime.url + path,
        headers={"X-Token": "abc"},
        query_params={"date": "2024-03-06"},
    )


def test_http_sensor_passes_on_2xx_with_headers_and_params(runtime):
    runtime.routes[("GET", "/ready")] = (204, {})
    assert http_sensor(runtime).poke(context()) is True
    request = runtime.requests[0]
    assert request["query"] == {"date": "2024-03-06"}
    assert request["headers"]["X-Token"] == "abc"


def test_http_sensor_reschedules_on_errors_and_unreachable_hosts(runtime):
    runtime.routes[("GET", "/ready")] = (503, {})
    assert http_sensor(runtime).poke(context()) is False
    assert http_sensor(runtime, "/missing").poke(context()) is False
    sensor = http_sensor(runtime)
    sensor.url = "http://127.0.0.1:9/ready"  # nothing listens on the discard port
    assert sensor.poke(context()) is False


def test_http_sensor_fields_are_templated():
    assert set(lib.OptimusHttpSensor.template_fields) == {"url", "headers", "query_params"}


# --- callbacks ---------------------------------------------------------------------------------------


def event_route(runtime, status=200):
    path = "/api/v1beta1/project/%s/namespace/%s/job/%s/event" % (P, NS, JOB)
    runtime.routes[("POST", path)] = (status, {})
    return path


def posted_events(runtime):
    return [r["body"]["event"] for r in runtime.requests if r["method"] == "POST"]


def pod_task(job, task_id="bq2bq", instance_type="task", hook_type="after"):
    return lib.OptimusPodOperator(
        job=job,
        task_id=task_id,
        instance_type=instance_type,
        instance_name=task_id.replace("hook_", ""),
        hook_type=hook_type,
        image="plugin:1",
        shell="/bin/bash",
        script="echo run",
    )


def test_task_start_event_payload(runtime):
    event_route(runtime)
    job = make_job(runtime.url)
    task = pod_task(job)
    job.on_operator_start(context(task=task, ti=FakeTI("bq2bq")))
    (event,) = posted_events(runtime)
    assert event["type"] == "TYPE_TASK_START"
    value = event["value"]
    assert value["status"] == "running"
    assert value["task_id"] == "bq2bq"
    assert value["attempt"] == 1
    assert value["scheduled_at"] == SCHEDULED
    assert isinstance(value["event_time"], float)
    assert value["event_type"] == "TYPE_TASK_START"
    assert value["log_url"].endswith("task_id=bq2bq")
    ec = value["event_context"]
    assert ec["operator_type"] == "TASK"
    assert ec["event_type"] == "operator_start"
    assert ec["dag_run"] == {
        "dag_id": JOB,
        "scheduled_at": SCHEDULED,
        "execution_date": "2024-03-06T03:00:00Z",
        "run_id": FakeDagRun.run_id,
        "start_date": "2024-03-07T03:00:01Z",
        "end_date": None,
    }
    assert ec["task_instance"]["max_tries"] == 3
    assert ec["task_instance"]["start_date"] == "2024-03-07T03:00:05Z"


def test_hook_failure_event_carries_exception_and_pushed_errors(runtime):
    event_route(runtime)
    job = make_job(runtime.url)
    hook = pod_task(job, "hook_predator", "hook")
    ti = FakeTI("hook_predator", try_number=2, xcoms={("hook_predator", "error"): "quota exceeded"})
    job.on_operator_failure(context(task=hook, ti=ti, exception=ValueError("pod failed")))
    (event,) = posted_events(runtime)
    assert event["type"] == "TYPE_HOOK_FAIL"
    assert event["value"]["status"] == "failed"
    assert event["value"]["attempt"] == 2
    assert event["value"]["exception"] == "pod failed"
    assert event["value"]["message"] == "quota exceeded"


def test_sensor_start_is_sent_on_the_first_poke_only(runtime):
    event_route(runtime)
    job = make_job(runtime.url)
    sensor = upstream_sensor(runtime, job)
    ti = FakeTI("wait_" + UP_JOB)
    job.on_operator_start(context(task=sensor, ti=ti, task_reschedule_count=2))
    assert posted_events(runtime) == []
    job.on_operator_start(context(task=sensor, ti=ti, task_reschedule_count=0))
    job.on_operator_retry(context(task=sensor, ti=ti))
    assert [e["type"] for e in posted_events(runtime)] == ["TYPE_SENSOR_START", "TYPE_SENSOR_RETRY"]
    assert posted_events(runtime)[1]["value"]["status"] == "retried"


def test_sensor_failure_reports_the_scheduler_error(runtime):
    event_route(runtime)
    job = make_job(runtime.url)
    sensor = upstream_sensor(runtime, job)
    sensor.scheduler_error = "error while fetching upstream schedule :: HTTP 500"
    job.on_operator_failure(context(task=sensor, ti=FakeTI(sensor.task_id)))
    (event,) = posted_events(runtime)
    assert event["type"] == "TYPE_SENSOR_FAIL"
    assert event["value"]["scheduler_error"] == sensor.scheduler_error


def test_job_success_event_reports_monitoring(runtime):
    event_route(runtime)
    job = make_job(runtime.url)
    ti = FakeTI("hook_predator", xcoms={("bq2bq", "return_value"): {"monitoring": {"slot_millis": 42}}})
    job.on_job_success(context(ti=ti, reason="success"))
    (event,) = posted_events(runtime)
    assert event["type"] == "TYPE_JOB_SUCCESS"
    assert event["value"]["status"] == "success"
    assert event["value"]["monitoring"] == {"slot_millis": 42}
    assert event["value"]["event_context"]["event_reason"] == "success"


def test_job_failure_event_names_the_first_failed_task(runtime):
    event_route(runtime)
    job = make_job(runtime.url)

    class RunWithFailure(FakeDagRun):
        def get_task_instances(self, state=None):
            return [FakeTI("bq2bq")] if state == ["failed"] else []

    job.on_job_failure(context(ti=FakeTI("hook_predator"), dag_run=RunWithFailure(), reason="task_failure"))
    (event,) = posted_events(runtime)
    assert event["type"] == "TYPE_FAILURE"
    assert event["value"]["task_id"] == "bq2bq"
    assert event["value"]["status"] == "failed"


def test_job_failure_without_context_still_reports(runtime):
    """Airflow 3 may call a DAG callback with only dag, run_id and reason."""
    event_route(runtime)
    job = make_job(runtime.url)
    job.on_job_failure({"run_id": FakeDagRun.run_id, "reason": "timed out"})
    (event,) = posted_events(runtime)
    assert event["value"]["task_id"] == "bq2bq"
    assert event["value"]["scheduled_at"] == SCHEDULED


def test_callbacks_retry_5xx_and_never_raise(runtime, monkeypatch):
    monkeypatch.setattr(lib.time, "sleep", lambda s: None)
    event_route(runtime, status=502)
    job = make_job(runtime.url)
    job.on_operator_success(context(task=pod_task(job), ti=FakeTI("bq2bq")))
    assert len(posted_events(runtime)) == 3
    event_route(runtime, status=400)
    job.on_operator_success(context(task=pod_task(job), ti=FakeTI("bq2bq")))
    assert len(posted_events(runtime)) == 4  # a 4xx is not retried


def test_event_path_segments_are_escaped(runtime):
    job = lib.OptimusJob(project="p 1", namespace="n/s", job="a.b", host=runtime.url + "/", schedule="", task_name="t")
    assert job.event_url() == runtime.url + "/api/v1beta1/project/p%201/namespace/n%2Fs/job/a.b/event"


def test_sla_miss_event(runtime):
    event_route(runtime)
    job = make_job(runtime.url)

    class Sla:
        task_id, dag_id = "bq2bq", JOB
        execution_date = LOGICAL
        timestamp = datetime(2024, 3, 7, 5, 0, tzinfo=UTC)

    class Dag:
        dag_id = JOB

    job.on_sla_miss(Dag(), [], [], [Sla()], [])
    (event,) = posted_events(runtime)
    assert event["type"] == "TYPE_SLA_MISS"
    assert event["value"]["slas"] == [
        {
            "task_id": "bq2bq",
            "dag_id": JOB,
            "scheduled_at": SCHEDULED,
            "airflow_execution_time": "2024-03-06T03:00:00Z",
            "timestamp": "2024-03-07T05:00:00Z",
        }
    ]


# --- pods, DAG arguments, wiring -------------------------------------------------------------------


def test_pod_gets_run_input_init_container_with_scheduled_time(runtime):
    job = make_job(runtime.url)
    job.resources = lib.pod_resources("250m", "", "1", "1Gi")
    op = lib.OptimusPodOperator(
        job=job,
        task_id="bq2bq",
        instance_type="task",
        instance_name="bq2bq",
        image="plugin:1",
        shell="/bin/bash",
        script="test ${#TABLE} -gt 0",
        container_resources=job.resources,
    )
    assert "arguments" not in op.template_fields and "cmds" not in op.template_fields

    class Dag:
        dag_id = JOB

    pod = op.build_pod_request_obj(context(ti=FakeTI("bq2bq"), dag=Dag()))
    (init,) = pod.spec.init_containers
    env = {e.name: e.value for e in init.env}
    assert env == {
        "JOB_NAME": JOB,
        "PROJECT": P,
        "NAMESPACE": NS,
        "JOB_DIR": "/data",
        "INSTANCE_TYPE": "task",
        "INSTANCE_NAME": "bq2bq",
        "OPTIMUS_HOST": "runtime:9100",
        "SCHEDULED_AT": SCHEDULED,
        "DAG_RUN_ID": FakeDagRun.run_id,
    }
    assert init.image == "optimus:test"
    assert "optimus job run-input" in init.command[-1]
    main = pod.spec.containers[0]
    assert main.command == ["/bin/bash", "-c"]
    assert main.args[0].endswith("\ntest ${#TABLE} -gt 0")
    assert '. "$JOB_DIR/in/.env"' in main.args[0]
    assert main.resources.requests == {"cpu": "250m"}
    assert main.resources.limits == {"cpu": "1", "memory": "1Gi"}
    assert [m.mount_path for m in main.volume_mounts] == ["/data"]
    assert pod.metadata.name.startswith("job-a-bq2bq")


def test_wire_orders_sensors_hooks_and_fail_hooks():
    try:
        from airflow.sdk import DAG
    except ImportError:
        from airflow.models.dag import DAG
    job = make_job("http://runtime")
    with DAG(dag_id="wired", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC)) as dag:
        task = pod_task(job)
        before = pod_task(job, "hook_before", "hook", "before")
        after = pod_task(job, "hook_after", "hook", "after")
        fail = pod_task(job, "hook_fail", "hook", "fail")
        sensor = lib.OptimusHttpSensor(task_id="wait_x", job=job, url="http://x")
        lib.wire(sensors=[sensor], task=task, hooks=[before, after, fail])
    down = {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}
    assert down == {
        "wait_x": ["hook_before"],
        "hook_before": ["bq2bq"],
        "bq2bq": ["hook_after", "hook_fail", "optimus_run_guard"],
        "hook_after": ["hook_fail", "optimus_run_guard"],
        "hook_fail": [],
        "optimus_run_guard": [],
    }
    assert getattr(fail.trigger_rule, "value", fail.trigger_rule) == "one_failed"
    guard = dag.get_task("optimus_run_guard")
    assert guard.on_execute_callback in (None, [])


def test_wire_chains_a_recipes_tasks_in_order():
    try:
        from airflow.sdk import DAG
    except ImportError:
        from airflow.models.dag import DAG
    job = make_job("http://runtime")
    with DAG(dag_id="recipe", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC)) as dag:
        first = pod_task(job, "load_1")
        then = [pod_task(job, "load_2"), pod_task(job, "mail_1")]
        after = pod_task(job, "hook_after", "hook", "after")
        fail = pod_task(job, "hook_fail", "hook", "fail")
        sensor = lib.OptimusHttpSensor(task_id="wait_x", job=job, url="http://x")
        lib.wire(sensors=[sensor], task=first, hooks=[after, fail], then=then)
    down = {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}
    assert down == {
        "wait_x": ["load_1"],
        "load_1": ["hook_fail", "load_2", "optimus_run_guard"],
        "load_2": ["hook_fail", "mail_1", "optimus_run_guard"],
        "mail_1": ["hook_after", "hook_fail", "optimus_run_guard"],
        "hook_after": ["hook_fail", "optimus_run_guard"],
        "hook_fail": [],
        "optimus_run_guard": [],
    }


def test_cron_with_a_zone_ticks_in_that_zone():
    assert lib.split_cron_zone("CRON_TZ=America/Los_Angeles 0 3 * * 1") == ("America/Los_Angeles", "0 3 * * 1")
    assert lib.split_cron_zone("0 3 * * *") == (None, "0 3 * * *")
    # 03:00 in Los Angeles is 11:00 UTC in winter (PST) and 10:00 UTC in summer (PDT).
    winter = lib.cron_next("CRON_TZ=America/Los_Angeles 0 3 * * *", datetime(2024, 1, 10, 12, tzinfo=UTC))
    assert winter == datetime(2024, 1, 11, 11, tzinfo=UTC)
    summer = lib.cron_latest("CRON_TZ=America/Los_Angeles 0 3 * * *", datetime(2024, 7, 10, 12, tzinfo=UTC))
    assert summer == datetime(2024, 7, 10, 10, tzinfo=UTC)
    timetable = lib.dag_schedule("CRON_TZ=Asia/Jakarta 0 6 * * *")
    zone = getattr(timetable, "_timezone", None) or getattr(timetable, "timezone", None)
    assert "Asia/Jakarta" in str(getattr(zone, "name", zone))


def test_dag_argument_helpers(monkeypatch):
    assert lib.dag_schedule("") is None
    assert type(lib.dag_schedule("@daily")).__name__ == "CronDataIntervalTimetable"
    assert lib.dag_tags("ns1", {"b": "2", "a": "x" * 120}) == ["ns1", ("a:" + "x" * 120)[:100], "b:2"]
    assert lib.utc_date("2024-01-31") == datetime(2024, 1, 31, tzinfo=UTC)
    assert lib.access_control("") is None
    role = lib.access_control("ns1")["ns1"]
    assert (role["DAGs"] if lib.AIRFLOW_MAJOR >= 3 else role) == {"can_read", "can_edit"}
    assert lib.job_retries(2) == 2 and lib.job_retries(0) == 3
    assert lib.job_retry_delay(0) == timedelta(seconds=300)
    assert lib.pool_for("sensor", "") == "default_pool"
    monkeypatch.setenv("AIRFLOW_VAR_SENSOR_POOL", "sensors")
    assert lib.pool_for("sensor", "") == "sensors"
    assert lib.pool_for("sensor", "payments") == "payments"
    assert lib.pod_resources() is None
    assert lib.pod_name("Sample.Project_Job", "BQ2BQ") == "sample-project-job-bq2bq"


# --- bearer token ------------------------------------------------------------------------------------


def test_requests_carry_the_bearer_token_from_the_environment(runtime, monkeypatch):
    event_route(runtime)
    serve_upstream(runtime)
    job = make_job(runtime.url)
    monkeypatch.delenv(lib.AUTH_TOKEN_ENV, raising=False)
    monkeypatch.delenv("AIRFLOW_VAR_OPTIMUS_AUTH_BEARER_TOKEN", raising=False)
    job.on_job_success(context(ti=FakeTI("bq2bq")))
    assert "Authorization" not in runtime.requests[-1]["headers"], "no token configured: none sent"

    monkeypatch.setenv("AIRFLOW_VAR_OPTIMUS_AUTH_BEARER_TOKEN", "from-variable")
    job.on_job_success(context(ti=FakeTI("bq2bq")))
    assert runtime.requests[-1]["headers"]["Authorization"] == "Bearer from-variable"

    monkeypatch.setenv(lib.AUTH_TOKEN_ENV, "opt_worker")
    assert upstream_sensor(runtime, job).poke(context()) is True
    assert {r["headers"].get("Authorization") for r in runtime.requests[2:]} == {"Bearer opt_worker"}, (
        "the worker's environment wins over the Variable, on every call"
    )


def test_init_container_token_comes_from_the_named_kubernetes_secret(runtime, monkeypatch):
    class Dag:
        dag_id = JOB

    job = make_job(runtime.url)
    task = pod_task(job)
    monkeypatch.delenv("AIRFLOW_VAR_OPTIMUS_AUTH_TOKEN_SECRET", raising=False)
    pod = task.build_pod_request_obj(context(task=task, ti=FakeTI("bq2bq"), dag=Dag()))
    (init,) = pod.spec.init_containers
    assert lib.AUTH_TOKEN_ENV not in {e.name for e in init.env}

    monkeypatch.setenv("AIRFLOW_VAR_OPTIMUS_AUTH_TOKEN_SECRET", "optimus-token")
    pod = task.build_pod_request_obj(context(task=task, ti=FakeTI("bq2bq"), dag=Dag()))
    (init,) = pod.spec.init_containers
    (env,) = [e for e in init.env if e.name == lib.AUTH_TOKEN_ENV]
    assert env.value is None
    assert (env.value_from.secret_key_ref.name, env.value_from.secret_key_ref.key) == ("optimus-token", "token")
    assert lib.AUTH_TOKEN_ENV not in {e.name for e in pod.spec.containers[0].env or []}, "only the init container"
