"""Contract tests of the REST routes Optimus's own DAG helper (ext/scheduler/airflow/__lib.py in
goto/optimus) calls, against a live optimus serve: each request is made the way that helper makes it
(method, path, query or body, no JSON content type where it sends none) with `requests`, and each
answer is parsed the way it parses it. A failure here is a DAG compiled by Optimus whose sensor or
callback would break against this server.

The helper sends no token; this server has tokens on in the e2e, so the session adds the project's
token, as our __lib.py does for Optimus's DAG files in a shared DAG folder.

Run by runtime_e2etest.sh with OPTIMUS_LIVE_HTTP, OPTIMUS_E2E_TOKEN and OPTIMUS_E2E_YEAR.
"""

import json
import os
from datetime import datetime, timedelta

import pytest
import requests

HOST = os.environ["OPTIMUS_LIVE_HTTP"]
TOKEN = os.environ["OPTIMUS_E2E_TOKEN"]
PROJECT, NAMESPACE = "sample-project", "sales"
UPSTREAM = "sample-project.sales_raw.orders"  # daily at 01:00, writes sample-project:sales_raw.orders
DOWNSTREAM = "sample-project.sales_staging.orders"  # daily at 02:00
UPSTREAM_URN = "bigquery://sample-project:sales_raw.orders"
# Apart from the years test_live_lib.py records runs in.
YEAR = int(os.environ.get("OPTIMUS_E2E_YEAR", "2024")) + 10
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
TIMEOUT = 10


@pytest.fixture
def http():
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + TOKEN
    return session


def ok(response):
    """The helper's _raise_error_if_request_failed: non-200 logs response.json() and fails."""
    assert response.status_code == 200, (response.status_code, response.text)
    return response.json()


def test_a_failed_request_answers_json_the_helper_can_log(http):
    response = http.get("%s/api/v1beta1/project/%s/job/no-such-job/interval?reference_time=2024-03-07T02:00:00Z"
                        % (HOST, PROJECT), timeout=TIMEOUT)
    assert response.status_code == 404
    assert "no-such-job" in response.json()["message"]


def test_replay_details_as_get_job_replay_config_reads_them(http):
    response = http.get(
        "%s/api/v1beta1/project/%s/replay-details" % (HOST, PROJECT),
        params={"scheduled_at": "%d-03-07T02:00:00Z" % YEAR, "job_names": DOWNSTREAM, "status": "in progress"},
        timeout=TIMEOUT,
    )
    replay_config = ok(response)
    assert "replays" in replay_config.keys()
    for config in replay_config["replays"]:
        if "replayConfig" in config.keys() and "jobConfig" in config["replayConfig"].keys():
            assert isinstance(config["replayConfig"]["jobConfig"], dict)


def test_the_job_as_get_upstream_job_information_reads_it(http):
    job_metadata = ok(
        http.get("%s/api/v1beta1/project/%s/namespace/%s/job/%s" % (HOST, PROJECT, NAMESPACE, UPSTREAM), timeout=TIMEOUT)
    )
    assert job_metadata["spec"]["interval"] == "0 1 * * *"
    assert job_metadata["spec"]["schedulerState"] == "enabled"


def test_the_jobs_list_as_check_dry_run_config_reads_it(http):
    response = ok(
        http.get("%s/api/v1beta1/jobs?project_name=%s&job_name=%s" % (HOST, PROJECT, DOWNSTREAM), timeout=TIMEOUT)
    )
    job_specs = response.get("jobSpecificationResponses")
    assert isinstance(job_specs, list) and len(job_specs) == 1
    job = job_specs[0].get("job")
    assert isinstance(job, dict) and job["name"] == DOWNSTREAM
    config_list = job.get("config")
    assert isinstance(config_list, list) and config_list
    for item in config_list:
        assert isinstance(item.get("name"), str) and isinstance(item.get("value"), str)
    assert "DRY_RUN" not in {item["name"] for item in config_list}


def test_the_interval_as_job_spec_task_window_reads_it(http):
    scheduled_at = "%d-03-07T02:00:00Z" % YEAR
    url = "%s/api/v1beta1/project/%s/job/%s/interval?reference_time=%s" % (HOST, PROJECT, DOWNSTREAM, scheduled_at)
    api_response = ok(http.get(url, timeout=TIMEOUT))
    start = datetime.strptime(api_response["startTime"], TIMESTAMP_FORMAT)
    end = datetime.strptime(api_response["endTime"], TIMESTAMP_FORMAT)
    assert end - start == timedelta(days=1)


def test_job_runs_as_are_all_job_runs_successful_reads_them(http):
    api_response = ok(
        http.get(
            "%s/api/v1beta1/project/%s/job/%s/run" % (HOST, PROJECT, UPSTREAM),
            params={
                "start_date": "%d-03-06T01:00:00Z" % YEAR,
                "end_date": "%d-03-07T01:00:00Z" % YEAR,
                "downstream_project_name": PROJECT,
                "downstream_job_name": DOWNSTREAM,
            },
            timeout=TIMEOUT,
        )
    )
    assert api_response["message"] == ""
    assert [job_run["state"] for job_run in api_response["jobRuns"]] == ["pending", "pending"]


def test_run_input_as_get_job_run_input_asks_for_it(http):
    response = http.post(
        url="%s/api/v1beta1/project/%s/job/%s/run_input" % (HOST, PROJECT, DOWNSTREAM),
        json={"scheduled_at": "%d-03-07T02:00:00Z" % YEAR, "instance_name": "bq2bq", "instance_type": "TYPE_TASK"},
        timeout=TIMEOUT,
    )
    answer = ok(response)
    assert answer["envs"]["JOB_DESTINATION"]
    assert "query.sql" in answer["files"]


def notify_event(http, job, event):
    """OptimusAPIClient.notify_event: the body is sent as data, with no JSON content type."""
    url = "%s/api/v1beta1/project/%s/namespace/%s/job/%s/event" % (HOST, PROJECT, NAMESPACE, job)
    return http.post(url, data=json.dumps({"event": event}), timeout=TIMEOUT)


def optimus_notify_value(event_type, status, scheduled_at, execution_date, task_id="bq2bq"):
    """The value optimus_notify posts: its message, with the event meta merged in."""
    return {
        "log_url": "http://airflow/log?task_id=" + task_id,
        "task_id": task_id,
        "attempt": 1,
        "duration": "3.2",  # str(task_instance.duration)
        "exception": "",
        "message": "",
        "scheduled_at": scheduled_at,
        "event_time": datetime.now().timestamp(),
        "event_context": {
            "task_instance": {
                "max_tries": 3,
                "task_id": task_id,
                "task_instance_key_str": "%s__%s__x" % (UPSTREAM, task_id),
                "attempt": 1,
                "log_url": "http://airflow/log",
                "state": "running",
                "start_date": scheduled_at,
                "end_date": None,
            },
            "dag_run": {
                "dag_id": UPSTREAM,
                "scheduled_at": scheduled_at,
                "execution_date": execution_date,
                "run_id": "scheduled__" + execution_date,
                "start_date": scheduled_at,
                "end_date": None,
            },
            "task": {"downstream_task_ids": []},
            "operator_type": "TASK",
            "event_type": "operator_start",
            "event_reason": "",
        },
        "event_type": event_type,
        "status": status,
    }


def runs_of(http, job, start, end):
    answer = ok(
        http.get(
            "%s/api/v1beta1/project/%s/job/%s/run" % (HOST, PROJECT, job),
            params={"start_date": start, "end_date": end},
            timeout=TIMEOUT,
        )
    )
    return [r["state"] for r in answer["jobRuns"]]


def test_events_as_optimus_notify_posts_them_record_the_run(http):
    scheduled, logical = "%d-04-02T01:00:00Z" % YEAR, "%d-04-01T01:00:00Z" % YEAR
    for event_type, status in (("TYPE_TASK_START", "running"), ("TYPE_TASK_SUCCESS", "success"), ("TYPE_JOB_SUCCESS", "success")):
        value = optimus_notify_value(event_type, status, scheduled, logical)
        assert notify_event(http, UPSTREAM, {"type": event_type, "value": value}).status_code == 200
    assert runs_of(http, UPSTREAM, scheduled, scheduled) == ["success"]


def test_sla_misses_as_optimus_sla_miss_notify_posts_them(http):
    slas = [
        {"task_id": "bq2bq", "dag_id": UPSTREAM, "scheduled_at": "%d-04-03T01:00:00Z" % YEAR, "timestamp": "%d-04-04T03:00:00Z" % YEAR}
    ]
    message = {"slas": slas, "job_url": "http://airflow/tree?dag_id=" + UPSTREAM}
    assert notify_event(http, UPSTREAM, {"type": "TYPE_SLA_MISS", "value": message}).status_code == 200
    empty = notify_event(http, UPSTREAM, {"type": "TYPE_SLA_MISS", "value": dict(message, slas=[])})
    assert empty.status_code == 400 and "slas" in empty.json()["message"]


def test_the_third_party_sensor_as_execute_third_party_sensor_asks(http):
    url = "%s/api/v1beta1/project/%s/job/%s/third-party-sensor" % (HOST, PROJECT, DOWNSTREAM)
    scheduled_at = "%d-05-07T02:00:00Z" % YEAR

    def ask(resource_urn):
        payload = {"scheduled_at": scheduled_at, "third_party_type": "dex", "dex_sensor_request": {"resource_urn": resource_urn}}
        return http.put(url, json=payload, timeout=TIMEOUT)

    def is_complete(response):
        resp = ok(response).get("dexSensorResponse", {})
        return resp["isComplete"]

    assert is_complete(ask(UPSTREAM_URN)) is False  # the upstream has not run for the window
    start, end = ok(http.get("%s/api/v1beta1/project/%s/job/%s/interval?reference_time=%s"
                             % (HOST, PROJECT, DOWNSTREAM, scheduled_at), timeout=TIMEOUT)).values()
    ticks = [r for r in ok(http.get("%s/api/v1beta1/project/%s/job/%s/run" % (HOST, PROJECT, UPSTREAM),
                                    params={"start_date": start, "end_date": end}, timeout=TIMEOUT))["jobRuns"]]
    assert ticks
    for tick in ticks:
        logical = (datetime.strptime(tick["scheduledAt"], TIMESTAMP_FORMAT) - timedelta(days=1)).strftime(TIMESTAMP_FORMAT)
        value = optimus_notify_value("TYPE_JOB_SUCCESS", "success", tick["scheduledAt"], logical)
        assert notify_event(http, UPSTREAM, {"type": "TYPE_JOB_SUCCESS", "value": value}).status_code == 200
    assert is_complete(ask(UPSTREAM_URN)) is True
    elsewhere = ask("bigquery://vendor-project:fx.rates")
    assert elsewhere.status_code == 503  # SOFT_5XX treats it as an outage of the completeness source
    assert "vendor-project" in elsewhere.json()["message"]
