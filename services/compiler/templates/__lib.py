"""Optimus runtime for generated Airflow DAGs (Airflow 2.9/2.10 and 3.x share this one file).

The compiler uploads it as dags/__lib.py; every dags/<namespace>/<job>.py imports it. Importing it
only imports modules and defines classes: no network, no Airflow Variable and no metadata-DB access
happens before a task runs. Tunables are read in two ways:
  * at run time (sensor poke interval/timeout, request timeout, ...): Airflow Variables, read
    inside execute()/poke()/callbacks, with defaults;
  * at parse time (pools, retries, DAG run timeout): only the process environment, i.e. Airflow's
    own AIRFLOW_VAR_<NAME> variables, so a DAG file imports without a database round trip.
Runtime-context HTTP API used (paths as in Optimus' REST API, see the README beside the templates):
  GET  {host}/api/v1beta1/jobs?project_name=&job_name=                       (dry-run bypass)
  GET  {host}/api/v1beta1/project/{p}/replay-details?scheduled_at=&job_names=&status=in progress
  GET  {host}/api/v1beta1/project/{p}/namespace/{ns}/job/{j}                  (upstream schedule/state)
  GET  {host}/api/v1beta1/project/{p}/job/{j}/interval?reference_time=        (own window)
  GET  {host}/api/v1beta1/project/{p}/job/{j}/run?start_date=&end_date=&downstream_project_name=&downstream_job_name=
  POST {host}/api/v1beta1/project/{p}/namespace/{ns}/job/{j}/event            (callbacks)
  PUT  {host}/api/v1beta1/project/{p}/job/{j}/third-party-sensor              (Optimus's Dex sensor)
It also provides the names that DAG files compiled by Optimus itself import (see the end of the
file), so one DAG folder can hold both during a migration.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone

try:  # Airflow 3: DAG authors' classes live in the task SDK.
    from airflow.sdk import BaseSensorOperator

    AIRFLOW_MAJOR = 3
except ImportError:  # Airflow 2
    from airflow.sensors.base import BaseSensorOperator

    AIRFLOW_MAJOR = 2
from airflow.exceptions import AirflowException
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from kubernetes.client import models as k8s

__all__ = [
    "AIRFLOW_MAJOR",
    "OptimusHttpSensor",
    "OptimusJob",
    "OptimusPodOperator",
    "OptimusUpstreamSensor",
    "access_control",
    "dag_schedule",
    "dag_tags",
    "dagrun_timeout",
    "job_retries",
    "job_retry_delay",
    "pod_resources",
    "pool_for",
    "utc_date",
    "wire",
    # the names DAG files compiled by Optimus import
    "ExternalHttpSensor",
    "SuperExternal3rdPartyTaskSensor",
    "SuperExternalTaskSensor",
    "SuperKubernetesPodOperator",
    "job_failure_event",
    "job_success_event",
    "operator_failure_event",
    "operator_retry_event",
    "operator_start_event",
    "operator_success_event",
    "optimus_sla_miss_notify",
]

log = logging.getLogger("optimus")

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
JOB_DIR = "/data"
ASSET_VOLUME = "asset-volume"
RUN_INPUT_CONTAINER = "run-input"
BACKFILL_RUN_PREFIX = "custom-backfill_"
TAG_MAX_LEN = 100
# Airflow's kinds of work, as named in Optimus event types (TYPE_<KIND>_<STATE>).
KIND_TASK, KIND_HOOK, KIND_SENSOR = "TASK", "HOOK", "SENSOR"

# --- tunables ------------------------------------------------------------------------------------


def variable(name, default):
    """An Airflow Variable, or `default` when it is unset or cannot be read. Call only at run time."""
    try:
        if AIRFLOW_MAJOR >= 3:
            from airflow.sdk import Variable

            return Variable.get(name, default=default)
        from airflow.models import Variable

        return Variable.get(name, default_var=default)
    except Exception as err:  # noqa: BLE001 - a tunable that cannot be read must not fail a run
        log.warning("optimus: reading Airflow Variable %s failed (%s); using %r", name, err, default)
        return default


def variable_int(name, default):
    try:
        return int(str(variable(name, default)).strip())
    except ValueError:
        log.warning("optimus: Airflow Variable %s is not an integer; using %d", name, default)
        return default


def variable_bool(name, default):
    value = str(variable(name, default)).strip().lower()
    if value in ("1", "true", "yes", "y", "on"):
        return True
    if value in ("0", "false", "no", "n", "off"):
        return False
    return default


def parse_time_str(name, default):
    """A parse-time tunable: AIRFLOW_VAR_<NAME> from the environment (never the metadata DB)."""
    value = os.environ.get("AIRFLOW_VAR_" + name.upper(), "").strip()
    return value or default


def parse_time_int(name, default):
    try:
        return int(parse_time_str(name, str(default)))
    except ValueError:
        return default


def job_retries(count):
    """The spec's retry count; 0 means "not set": tunable dag_retries (3)."""
    return count if count > 0 else parse_time_int("dag_retries", 3)


def job_retry_delay(seconds):
    """The spec's retry delay; 0 means "not set": tunable dag_retry_delay_in_secs (300)."""
    return timedelta(seconds=seconds if seconds > 0 else parse_time_int("dag_retry_delay_in_secs", 300))


def dagrun_timeout():
    return timedelta(seconds=parse_time_int("dagrun_timeout_in_secs", 3 * 24 * 3600))


def pool_for(kind, job_pool):
    """The job's pool (metadata.airflow.pool) wins; else tunable <kind>_pool, else default_pool."""
    return job_pool or parse_time_str(kind + "_pool", "default_pool")


# --- values for DAG arguments ---------------------------------------------------------------------


def dag_schedule(cron):
    """The DAG's timetable: cron ticks with data intervals on Airflow 2 and 3 alike (a bare cron string
    is a CronTriggerTimetable on Airflow 3), so a run's logical date is always the start of its
    interval and Optimus' scheduled time one tick later. None for an unscheduled job."""
    cron = normalise_cron(cron)
    if cron is None:
        return None
    try:  # Airflow >= 3.1
        from airflow.sdk import CronDataIntervalTimetable
    except ImportError:
        from airflow.timetables.interval import CronDataIntervalTimetable
    zone, cron = split_cron_zone(cron)
    return CronDataIntervalTimetable(cron, timezone=zone or "UTC")


def utc_date(value):
    """'YYYY-MM-DD' as midnight UTC."""
    return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=timezone.utc)


def dag_tags(namespace, labels):
    """The namespace, then one 'key:value' tag per label, each cut to Airflow's tag length limit."""
    tags = [namespace] + ["%s:%s" % (k, v) for k, v in sorted((labels or {}).items())]
    return [t[:TAG_MAX_LEN] for t in tags if t]


def access_control(role):
    """DAG access for the namespace's Airflow role (project/namespace config ENABLE_RBAC)."""
    if not role:
        return None
    actions = {"can_read", "can_edit"}
    return {role: {"DAGs": actions}} if AIRFLOW_MAJOR >= 3 else {role: actions}


def pod_resources(request_cpu="", request_memory="", limit_cpu="", limit_memory=""):
    """Kubernetes requests/limits from metadata.resource; empty strings are left out."""
    requests = {k: v for k, v in (("cpu", request_cpu), ("memory", request_memory)) if v}
    limits = {k: v for k, v in (("cpu", limit_cpu), ("memory", limit_memory)) if v}
    if not requests and not limits:
        return None
    return k8s.V1ResourceRequirements(requests=requests or None, limits=limits or None)


# --- time and cron ---------------------------------------------------------------------------------

_CRON_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def normalise_cron(expr):
    """A 5-field cron for croniter, or None for an unscheduled job."""
    expr = (expr or "").strip()
    if not expr or expr.lower() in ("none", "@once"):
        return None
    return _CRON_DESCRIPTORS.get(expr.lower(), expr)


def split_cron_zone(expr):
    """('Area/City', '0 3 * * *') for 'CRON_TZ=Area/City 0 3 * * *' (TZ= too); (None, expr) without."""
    for prefix in ("CRON_TZ=", "TZ="):
        if expr.startswith(prefix):
            zone, _, rest = expr[len(prefix):].partition(" ")
            return zone, rest.strip()
    return None, expr


def _in_zone(expr, value):
    """The cron without its zone, and `value` in that zone (UTC when it names none)."""
    zone, cron = split_cron_zone(expr)
    value = to_utc(value)
    if zone:
        from zoneinfo import ZoneInfo

        value = value.astimezone(ZoneInfo(zone))
    return cron, value


def to_utc(value):
    """Any aware datetime (pendulum included) as a plain UTC datetime; naive values are UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(value.timestamp(), tz=timezone.utc)


def format_ts(value):
    return to_utc(value).strftime(TIMESTAMP_FORMAT) if value else None


def parse_ts(text):
    """RFC 3339 as sent by the server ('Z' or offset, up to nanoseconds) to an aware UTC datetime."""
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return to_utc(datetime.fromisoformat(_FRACTION.sub(r"\1", text, count=1)))


def cron_next(expr, after):
    """The first cron tick strictly after `after`."""
    from croniter import croniter  # imported when a task runs, not when the DAG is parsed

    cron, after = _in_zone(expr, after)
    return to_utc(croniter(cron, after).get_next(datetime))


def cron_latest(expr, at):
    """The latest cron tick at or before `at`."""
    from croniter import croniter

    cron, at = _in_zone(expr, at)
    return to_utc(croniter(cron, at + timedelta(seconds=1)).get_prev(datetime))


# --- runtime-context HTTP --------------------------------------------------------------------------


class OptimusRequestError(Exception):
    def __init__(self, method, url, status, body):
        super().__init__("%s %s: HTTP %s %s" % (method, url, status, body[:500]))
        self.status = status


def base_url(host):
    host = (host or "").strip().rstrip("/")
    if not host.startswith(("http://", "https://")):
        host = "http://" + host
    return host


def _segment(value):
    return urllib.parse.quote(str(value), safe="")


AUTH_TOKEN_ENV = "OPTIMUS_AUTH_BEARER_TOKEN"


def auth_token():
    """The bearer token for runtime-context: the worker's OPTIMUS_AUTH_BEARER_TOKEN, else the
    Airflow Variable optimus_auth_bearer_token; "" when the server needs none. Run time only."""
    return (os.environ.get(AUTH_TOKEN_ENV, "") or str(variable("optimus_auth_bearer_token", "") or "")).strip()


def auth_secret_env():
    """The init container's token, taken from a Kubernetes Secret named by the Airflow Variable
    optimus_auth_token_secret ("name" or "name:key", key "token" by default); None when unset.
    The token itself never passes through Airflow."""
    ref = str(variable("optimus_auth_token_secret", "") or "").strip()
    if not ref:
        return None
    name, _, key = ref.partition(":")
    selector = k8s.V1SecretKeySelector(name=name.strip(), key=key.strip() or "token")
    return k8s.V1EnvVar(name=AUTH_TOKEN_ENV, value_from=k8s.V1EnvVarSource(secret_key_ref=selector))


def http_json(method, url, *, params=None, body=None, headers=None, timeout=None):
    """One request; the parsed JSON answer. Raises OptimusRequestError on non-2xx, OSError on transport."""
    if params:
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
    data = None
    all_headers = {"Accept": "application/json"}
    token = auth_token()
    if token:
        all_headers["Authorization"] = "Bearer " + token
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    request = urllib.request.Request(url, data=data, headers=all_headers, method=method)
    if timeout is None:
        timeout = variable_int("optimus_request_timeout_in_secs", 300)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
    except urllib.error.HTTPError as err:
        raise OptimusRequestError(method, url, err.code, err.read().decode("utf-8", "replace")) from None
    return json.loads(payload.decode("utf-8")) if payload.strip() else {}


# --- the job -------------------------------------------------------------------------------------


def _ti(context):
    return context.get("task_instance") or context.get("ti")


def _attr(obj, name, default=None):
    try:
        value = getattr(obj, name, default)
    except Exception:  # noqa: BLE001 - some Airflow properties hit the DB or the API
        return default
    return default if value is None else value


def operator_kind(context):
    task = context.get("task")
    kind = getattr(task, "optimus_kind", None)
    if kind:
        return kind
    task_id = _attr(_ti(context), "task_id", "") or _attr(task, "task_id", "")
    if task_id.startswith("wait_"):
        return KIND_SENSOR
    if task_id.startswith("hook_"):
        return KIND_HOOK
    return KIND_TASK


def _first_poke(context):
    """True on the first poke of a try of a reschedule-mode sensor (the START event is sent once)."""
    if "task_reschedule_count" in context:  # Airflow 3: reschedules of this try
        return not context["task_reschedule_count"]
    try:  # Airflow 2
        from airflow.models.taskreschedule import TaskReschedule

        ti = _ti(context)
        return not TaskReschedule.find_for_task_instance(ti, try_number=ti.try_number)
    except Exception:  # noqa: BLE001 - better one START too many than none
        return True


class OptimusJob:
    """One Optimus job inside Airflow: its identity, pod settings, and the callbacks reporting runs."""

    def __init__(
        self,
        *,
        project,
        namespace,
        job,
        host,
        schedule,
        task_name,
        init_image="",
        run_input_host="",
        service_account="",
        resources=None,
        labels=None,
    ):
        self.project = project
        self.namespace = namespace
        self.job = job
        self.host = base_url(host)
        self.schedule = normalise_cron(schedule)
        self.task_name = task_name
        self.init_image = init_image
        self.run_input_host = run_input_host
        self.service_account = service_account
        self.resources = resources
        self.labels = dict(labels or {})

    def __repr__(self):
        return "OptimusJob(%s/%s/%s)" % (self.project, self.namespace, self.job)

    # Optimus' scheduled time is the instant a run is triggered: the logical date advanced by one cron
    # tick (unscheduled jobs: the logical date itself, or the run-after time of an Airflow 3 run
    # triggered without one).
    def scheduled_at(self, context):
        logical = self.logical_date(context)
        return cron_next(self.schedule, logical) if self.schedule else logical

    @staticmethod
    def logical_date(context):
        dag_run = context.get("dag_run")
        for value in (
            context.get("logical_date"),
            _attr(dag_run, "logical_date"),
            _attr(dag_run, "run_after"),
        ):
            if value is not None:
                return to_utc(value)
        run_id = context.get("run_id") or _attr(dag_run, "run_id", "")
        if "__" in run_id:  # e.g. scheduled__2024-01-01T00:00:00+00:00
            try:
                return parse_ts(run_id.rsplit("__", 1)[1])
            except ValueError:
                pass
        return datetime.now(timezone.utc)

    # --- callbacks (never raise: a lost event must not fail a run) ---

    def on_operator_start(self, context):
        kind = operator_kind(context)
        if kind == KIND_SENSOR and getattr(context.get("task"), "reschedule", False):
            if not _first_poke(context):
                return
        self._operator_event(context, "START", "running", "operator_start")

    def on_operator_success(self, context):
        self._operator_event(context, "SUCCESS", "success", "operator_success")

    def on_operator_retry(self, context):
        self._operator_event(context, "RETRY", "retried", "operator_retry")

    def on_operator_failure(self, context):
        self._operator_event(context, "FAIL", "failed", "operator_fail")

    def on_job_success(self, context):
        self._send(context, "TYPE_JOB_SUCCESS", "success", "job_success", _ti(context), job_level=True)

    def on_job_failure(self, context):
        self._send(context, "TYPE_FAILURE", "failed", "job_fail", _first_failed_ti(context), job_level=True)

    def on_sla_miss(self, dag, task_list, blocking_task_list, slas, blocking_tis):
        """Airflow 2 sla_miss_callback; suppressed unless Variable slamiss_alert is 1."""
        try:
            if variable_int("slamiss_alert", 1) != 1:
                return
            items = []
            for sla in slas or []:
                logical = to_utc(sla.execution_date)
                scheduled = cron_next(self.schedule, logical) if self.schedule else logical
                items.append(
                    {
                        "task_id": sla.task_id,
                        "dag_id": sla.dag_id,
                        "scheduled_at": format_ts(scheduled),
                        "airflow_execution_time": format_ts(logical),
                        "timestamp": format_ts(sla.timestamp),
                    }
                )
            if not items:
                return
            value = {
                "slas": items,
                "job_url": _dag_url(dag.dag_id),
                "task_id": items[0]["task_id"],
                "scheduled_at": items[0]["scheduled_at"],
                "event_time": time.time(),
                "status": "sla_miss",
                "event_type": "TYPE_SLA_MISS",
            }
            self.post_event("TYPE_SLA_MISS", value)
        except Exception:  # noqa: BLE001
            log.exception("optimus: reporting the SLA miss of %s failed", self.job)

    def _operator_event(self, context, state, status, reason_event):
        kind = operator_kind(context)
        self._send(context, "TYPE_%s_%s" % (kind, state), status, reason_event, _ti(context))

    def _send(self, context, event_type, status, context_event, ti, job_level=False):
        try:
            value = self.event_value(context, event_type, status, context_event, ti, job_level)
            self.post_event(event_type, value)
        except Exception:  # noqa: BLE001
            log.exception("optimus: reporting %s for %s failed", event_type, self.job)

    def event_value(self, context, event_type, status, context_event, ti, job_level=False):
        """The `value` of a job event, in the shape Optimus' RegisterJobEvent expects."""
        dag_run = context.get("dag_run")
        task = context.get("task") or _attr(ti, "task")
        scheduled = self.scheduled_at(context)
        logical = self.logical_date(context)
        exception = context.get("exception")
        task_id = _attr(ti, "task_id", "") or self.task_name
        value = {
            "task_id": task_id,
            "attempt": _attr(ti, "try_number", 0),
            "log_url": _attr(ti, "log_url", ""),
            "duration": _attr(ti, "duration"),
            "exception": str(exception) if exception else "",
            "message": ", ".join(_xcom_errors(ti)),
            "scheduled_at": format_ts(scheduled),
            "event_time": time.time(),
            "status": status,
            "event_type": event_type,
            "event_context": {
                "task_instance": {
                    "max_tries": _attr(ti, "max_tries", 0),
                    "task_id": task_id,
                    "task_instance_key_str": context.get("task_instance_key_str", ""),
                    "attempt": _attr(ti, "try_number", 0),
                    "log_url": _attr(ti, "log_url", ""),
                    "state": str(_attr(ti, "state", "")),
                    "start_date": format_ts(_attr(ti, "start_date")),
                    "end_date": format_ts(_attr(ti, "end_date")),
                },
                "dag_run": {
                    "dag_id": _attr(dag_run, "dag_id", "") or _attr(context.get("dag"), "dag_id", ""),
                    "scheduled_at": format_ts(scheduled),
                    "execution_date": format_ts(logical),
                    "run_id": context.get("run_id") or _attr(dag_run, "run_id", ""),
                    "start_date": format_ts(_attr(dag_run, "start_date")),
                    "end_date": format_ts(_attr(dag_run, "end_date")),
                },
                "task": {"downstream_task_ids": sorted(_attr(task, "downstream_task_ids", ()) or ())},
                "operator_type": KIND_TASK if job_level else operator_kind(context),
                "event_type": context_event,
                "event_reason": str(context.get("reason") or ""),
            },
        }
        scheduler_error = getattr(task, "scheduler_error", None)
        if scheduler_error:
            value["scheduler_error"] = scheduler_error
        if job_level:
            monitoring = _xcom_monitoring(ti, self.task_name)
            if monitoring is not None:
                value["monitoring"] = monitoring
        return value

    def event_url(self):
        return "%s/api/v1beta1/project/%s/namespace/%s/job/%s/event" % (
            self.host,
            _segment(self.project),
            _segment(self.namespace),
            _segment(self.job),
        )

    def post_event(self, event_type, value, attempts=3):
        """POST the event; transport errors and 5xx are retried with a short backoff."""
        body = {"event": {"type": event_type, "value": value}}
        for attempt in range(1, attempts + 1):
            try:
                return http_json("POST", self.event_url(), body=body)
            except (OSError, OptimusRequestError) as err:
                retryable = not isinstance(err, OptimusRequestError) or err.status >= 500
                if not retryable or attempt == attempts:
                    raise
                log.warning("optimus: posting %s failed (%s); retrying", event_type, err)
                time.sleep(attempt)
        return None


def _dag_url(dag_id):
    try:
        from airflow.configuration import conf

        base = conf.get("api", "base_url", fallback=None) or conf.get("webserver", "base_url", fallback="")
    except Exception:  # noqa: BLE001
        base = ""
    return "%s/dags/%s" % ((base or "").rstrip("/"), urllib.parse.quote(dag_id, safe=""))


def _first_failed_ti(context):
    """The first failed task instance of the run (Airflow 2); else the one in the context."""
    dag_run = context.get("dag_run")
    try:
        for ti in dag_run.get_task_instances(state=["failed"]):
            return ti
    except Exception:  # noqa: BLE001 - Airflow 3 callbacks have no DB access
        pass
    return _ti(context)


def _xcom_errors(ti):
    """Error messages a task pushed (XCom key 'error', or 'error' in its return value)."""
    if ti is None or not hasattr(ti, "xcom_pull"):
        return []
    messages = []
    try:
        pushed = ti.xcom_pull(task_ids=ti.task_id, key="error")
        if pushed:
            messages.append(str(pushed))
        returned = ti.xcom_pull(task_ids=ti.task_id)
        if isinstance(returned, dict) and returned.get("error") is not None:
            messages.append(str(returned["error"]))
    except Exception:  # noqa: BLE001
        pass
    return messages


def _xcom_monitoring(ti, task_id):
    if ti is None or not hasattr(ti, "xcom_pull"):
        return None
    try:
        returned = ti.xcom_pull(task_ids=task_id)
    except Exception:  # noqa: BLE001
        return None
    if isinstance(returned, dict) and isinstance(returned.get("monitoring"), dict):
        return returned["monitoring"]
    return None


# --- operators -------------------------------------------------------------------------------------

_KPO_PARAMS = frozenset(inspect.signature(KubernetesPodOperator.__init__).parameters)

# Runs in the init container with the env set below; writes <JOB_DIR>/in/{.env,.secret,assets}.
RUN_INPUT_SCRIPT = (
    'exec optimus job run-input "$JOB_NAME" --project-name "$PROJECT" --host "$OPTIMUS_HOST" '
    '--output-dir "$JOB_DIR" --scheduled-at "$SCHEDULED_AT" --type "$INSTANCE_TYPE" '
    '--name "$INSTANCE_NAME" --dag-run-id "$DAG_RUN_ID"'
)

# Prepended to the plugin's entrypoint script in the main container.
ENTRYPOINT_PRELUDE = """set -o allexport
. "$JOB_DIR/in/.env"
set +o allexport
echo "optimus: run input ($JOB_DIR/in/.env):"
cat "$JOB_DIR/in/.env"
if [ -f "$JOB_DIR/in/.secret" ]; then
  set -o allexport
  . "$JOB_DIR/in/.secret"
  set +o allexport
fi
"""

_POD_NAME_INVALID = re.compile(r"[^a-z0-9-]+")


def pod_name(job, instance):
    """A DNS-1123 pod name prefix; the provider appends a random suffix."""
    name = _POD_NAME_INVALID.sub("-", ("%s-%s" % (job, instance)).lower()).strip("-")
    return name[:50].strip("-") or "optimus"


class OptimusPodOperator(KubernetesPodOperator):
    """The job's task or one of its hooks: the plugin image in a pod, after an init container has
    fetched the run input (`optimus job run-input`) into the shared /data volume."""

    # The plugin script is shell, not Jinja (`${#x}` would open a Jinja comment): never render it.
    template_fields = tuple(f for f in KubernetesPodOperator.template_fields if f not in ("cmds", "arguments"))

    def __init__(
        self,
        *,
        job,
        instance_type,
        instance_name,
        image,
        shell="",
        script="",
        hook_type="after",
        **kwargs,
    ):
        self.optimus_job = job
        self.optimus_kind = KIND_HOOK if instance_type == "hook" else KIND_TASK
        self.optimus_hook_type = hook_type if instance_type == "hook" else ""
        if self.optimus_hook_type == "fail":
            kwargs.setdefault("trigger_rule", "one_failed")
        env = {
            "JOB_NAME": job.job,
            "PROJECT": job.project,
            "NAMESPACE": job.namespace,
            "JOB_DIR": JOB_DIR,
            "INSTANCE_TYPE": instance_type,
            "INSTANCE_NAME": instance_name,
        }
        mount = k8s.V1VolumeMount(name=ASSET_VOLUME, mount_path=JOB_DIR)
        init_env = dict(env, OPTIMUS_HOST=job.run_input_host)
        init = k8s.V1Container(
            name=RUN_INPUT_CONTAINER,
            image=job.init_image,
            command=["/bin/sh", "-c", RUN_INPUT_SCRIPT],
            env=[k8s.V1EnvVar(name=k, value=v) for k, v in init_env.items()],
            volume_mounts=[mount],
        )
        options = {
            "log_events_on_failure": True,
            "init_container_logs": True,
        }
        for key, value in options.items():
            if key in _KPO_PARAMS:
                kwargs.setdefault(key, value)
        if job.service_account:
            kwargs.setdefault("service_account_name", job.service_account)
        if job.resources is not None:
            kwargs.setdefault("container_resources", job.resources)
        if job.labels:
            kwargs.setdefault("labels", dict(job.labels))
        super().__init__(
            name=pod_name(job.job, instance_name),
            image=image,
            cmds=[shell or "/bin/sh", "-c"],
            arguments=[ENTRYPOINT_PRELUDE + script],
            env_vars=env,
            volumes=[k8s.V1Volume(name=ASSET_VOLUME, empty_dir=k8s.V1EmptyDirVolumeSource())],
            volume_mounts=[mount],
            init_containers=[init],
            startup_timeout_seconds=120,
            do_xcom_push=False,
            **kwargs,
        )

    def execute(self, context):
        self.startup_timeout_seconds = variable_int("startup_timeout_in_secs", self.startup_timeout_seconds)
        if not self.namespace:
            self.namespace = _executor_namespace()
        return super().execute(context)

    def build_pod_request_obj(self, context=None, *args, **kwargs):
        pod = super().build_pod_request_obj(context, *args, **kwargs)
        if context is not None:
            run_env = [
                k8s.V1EnvVar(name="SCHEDULED_AT", value=format_ts(self.optimus_job.scheduled_at(context))),
                k8s.V1EnvVar(name="DAG_RUN_ID", value=str(context.get("run_id") or "")),
            ]
            token_env = auth_secret_env()
            if token_env is not None:
                run_env.append(token_env)
            replaced = {e.name for e in run_env}
            for container in pod.spec.init_containers or []:
                if container.name == RUN_INPUT_CONTAINER:
                    container.env = [e for e in container.env or [] if e.name not in replaced]
                    container.env.extend(run_env)
        return pod


def _executor_namespace():
    """The namespace Airflow's Kubernetes executor uses; None lets the provider decide."""
    try:
        from airflow.configuration import conf

        return conf.get("kubernetes_executor", "namespace", fallback=None) or None
    except Exception:  # noqa: BLE001
        return None


class _OptimusSensor(BaseSensorOperator):
    optimus_kind = KIND_SENSOR

    def __init__(self, *, job, **kwargs):
        kwargs.setdefault("mode", "reschedule")
        kwargs.setdefault("poke_interval", 900)
        kwargs.setdefault("timeout", 54000)
        super().__init__(**kwargs)
        self.optimus_job = job
        self.scheduler_error = None

    def execute(self, context):
        self.poke_interval = variable_int("sensor_poke_interval_in_secs", int(self.poke_interval))
        self.timeout = variable_int("sensor_timeout_in_secs", int(self.timeout))
        return super().execute(context)


class OptimusUpstreamSensor(_OptimusSensor):
    """Waits until the upstream job's runs covering this run's window have succeeded."""

    def __init__(self, *, upstream_host, upstream_project, upstream_namespace, upstream_job, **kwargs):
        super().__init__(**kwargs)
        self.upstream_host = base_url(upstream_host)
        self.upstream_project = upstream_project
        self.upstream_namespace = upstream_namespace
        self.upstream_job = upstream_job

    def poke(self, context):
        run_id = context.get("run_id") or _attr(context.get("dag_run"), "run_id", "")
        if run_id.startswith(BACKFILL_RUN_PREFIX):
            self.log.info("backfill run %s: upstream check bypassed", run_id)
            return True
        if self.dry_run():
            self.log.info("job configured with DRY_RUN: upstream check bypassed")
            return True
        scheduled_at = self.optimus_job.scheduled_at(context)
        if self.replay_ignores_upstream(scheduled_at):
            self.log.info("in-progress replay has IGNORE_UPSTREAM=True: upstream check bypassed")
            return True
        try:
            upstream_cron, state = self.upstream_schedule()
        except (OSError, OptimusRequestError, ValueError, KeyError) as err:
            self.scheduler_error = "error while fetching upstream schedule :: %s" % err
            self.log.warning(self.scheduler_error)
            return False
        if state == "disabled" and variable_bool("bypass_disabled_jobs", True):
            self.log.info("upstream %s is disabled: upstream check bypassed", self.upstream_job)
            return True
        start, end = self.window(scheduled_at, upstream_cron)
        self.log.info("waiting for %s/%s runs scheduled %s .. %s", self.upstream_project, self.upstream_job, start, end)
        runs = self.upstream_runs(start, end)
        pending = [r for r in runs if r.get("state") != "success"]
        if pending:
            self.log.info("not yet successful upstream runs: %s", pending)
            return False
        return True

    def dry_run(self):
        """The job's task config says DRY_RUN (true/yes/y); errors mean "no"."""
        job = self.optimus_job
        try:
            answer = http_json(
                "GET",
                job.host + "/api/v1beta1/jobs",
                params={"project_name": job.project, "job_name": job.job},
            )
            config = answer["jobSpecificationResponses"][0]["job"].get("config") or []
        except (OSError, OptimusRequestError, ValueError, KeyError, IndexError, TypeError, AttributeError):
            return False
        for item in config:
            if isinstance(item, dict) and item.get("name") == "DRY_RUN":
                return str(item.get("value", "")).strip().lower() in ("true", "yes", "y")
        return False

    def replay_ignores_upstream(self, scheduled_at):
        job = self.optimus_job
        try:
            answer = http_json(
                "GET",
                "%s/api/v1beta1/project/%s/replay-details" % (job.host, _segment(job.project)),
                params={"scheduled_at": format_ts(scheduled_at), "job_names": job.job, "status": "in progress"},
            )
        except (OSError, OptimusRequestError, ValueError) as err:
            self.log.info("no replay details (%s)", err)
            return False
        for replay in answer.get("replays") or []:
            job_config = (replay.get("replayConfig") or {}).get("jobConfig") or {}
            if str(job_config.get("IGNORE_UPSTREAM", "")) == "True":
                return True
        return False

    def upstream_schedule(self):
        answer = http_json(
            "GET",
            "%s/api/v1beta1/project/%s/namespace/%s/job/%s"
            % (
                self.upstream_host,
                _segment(self.upstream_project),
                _segment(self.upstream_namespace),
                _segment(self.upstream_job),
            ),
        )
        spec = answer["spec"]
        return normalise_cron(spec.get("interval")), spec.get("schedulerState", "")

    def window(self, scheduled_at, upstream_cron):
        """Scheduled times of the upstream runs this run needs, inclusive, as RFC 3339 strings."""
        job = self.optimus_job
        reference = cron_latest(upstream_cron, scheduled_at) if upstream_cron else scheduled_at
        try:
            answer = http_json(
                "GET",
                "%s/api/v1beta1/project/%s/job/%s/interval" % (job.host, _segment(job.project), _segment(job.job)),
                params={"reference_time": format_ts(reference)},
            )
            start, end = parse_ts(answer["startTime"]), parse_ts(answer["endTime"])
        except (OSError, OptimusRequestError, ValueError, KeyError) as err:
            raise AirflowException("fetching the window of %s failed: %s" % (job.job, err)) from err
        if upstream_cron:
            start = cron_next(upstream_cron, start)
        return format_ts(start), format_ts(end)

    def upstream_runs(self, start, end):
        job = self.optimus_job
        try:
            answer = http_json(
                "GET",
                "%s/api/v1beta1/project/%s/job/%s/run"
                % (self.upstream_host, _segment(self.upstream_project), _segment(self.upstream_job)),
                params={
                    "start_date": start,
                    "end_date": end,
                    "downstream_project_name": job.project,
                    "downstream_job_name": job.job,
                },
            )
        except (OSError, OptimusRequestError, ValueError) as err:
            raise AirflowException("fetching runs of %s failed: %s" % (self.upstream_job, err)) from err
        if answer.get("message"):
            self.log.info("runtime-context: %s", answer["message"])
        return answer.get("jobRuns") or []


class OptimusHttpSensor(_OptimusSensor):
    """Waits until GET url (with headers and query params, all Jinja-templated) answers 2xx."""

    template_fields = ("url", "headers", "query_params")

    def __init__(self, *, url, headers=None, query_params=None, **kwargs):
        super().__init__(**kwargs)
        self.url = url
        self.headers = dict(headers or {})
        self.query_params = dict(query_params or {})

    def poke(self, context):
        return http_ready(self.url, self.headers, self.query_params, self.log)


def http_ready(url, headers, query_params, logger):
    """GET url with headers and query params: True on 2xx; False on other answers and errors."""
    if query_params:
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode(query_params)
    request = urllib.request.Request(url, headers=headers, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=variable_int("optimus_request_timeout_in_secs", 300)) as r:
            status = r.status
    except urllib.error.HTTPError as err:
        status = err.code
    except (OSError, ValueError) as err:
        logger.info("GET %s failed: %s", url, err)
        return False
    logger.info("GET %s: HTTP %s", url, status)
    return 200 <= status < 300


def _empty_operator():
    try:  # Airflow 3 (and Airflow 2 with the standard provider)
        from airflow.providers.standard.operators.empty import EmptyOperator
    except ImportError:
        from airflow.operators.empty import EmptyOperator
    return EmptyOperator


def wire(*, sensors, task, hooks, then=()):
    """sensors >> before hooks >> task >> then[0] >> then[1] ... >> after hooks; fail hooks after
    all of them (one_failed). `then` holds a recipe's tasks after its first, in order."""
    before = [h for h in hooks if h.optimus_hook_type == "before"]
    after = [h for h in hooks if h.optimus_hook_type not in ("before", "fail")]
    fail = [h for h in hooks if h.optimus_hook_type == "fail"]
    for sensor in sensors:
        sensor.set_downstream(before or [task])
    for hook in before:
        hook.set_downstream(task)
    last = task
    for step in then:
        last.set_downstream(step)
        last = step
    last.set_downstream(after)
    tasks = [task] + list(then)
    if fail:
        # Fail hooks succeed after a failed task, and a run whose leaves all succeeded counts as a
        # success: this leaf (never executed: the scheduler settles empty operators itself) turns
        # upstream_failed then, so the run fails as it should.
        guard = _empty_operator()(
            task_id="optimus_run_guard",
            dag=task.dag,
            on_execute_callback=None,
            on_success_callback=None,
            on_retry_callback=None,
            on_failure_callback=None,
        )
        for hook in fail:
            hook.set_upstream(tasks + after)
        guard.set_upstream(tasks + after)


# --- DAG files compiled by Optimus itself ----------------------------------------------------------
#
# During a migration one DAG folder can hold the DAG files Optimus compiled (its dag.2.x.py.tmpl)
# next to ours. Those files import the names below from __lib; they are ours, built on the classes
# above, and talk to this server. A compiled file names its job in default_args["params"]
# (project_name, namespace, job_name, optimus_hostname) and its schedule in the DAG, so the job
# behind a callback or a sensor is found from the DAG at run time.
#
# Differences from Optimus's helper, on purpose: Variables are read at run time only; a third-party
# sensor in mode ON or SOFT_5XX really waits for complete data (Optimus's hard check ignores its
# answer); requests carry the bearer token when one is configured.

THIRD_PARTY_SENSOR_TOGGLE = "THIRD_PARTY_SENSOR_TOGGLE"
THIRD_PARTY_BLACKLISTEDJOBS = "THIRD_PARTY_BLACKLISTEDJOBS"
THIRD_PARTY_SENSOR_MAX_TIME = "THIRD_PARTY_SENSOR_MAX_TIME_MINUTES"


def _param(params, key, default=""):
    """A DAG param's value (Airflow keeps Param objects in dag.params)."""
    try:
        value = params[key]
    except (KeyError, TypeError):
        return default
    return getattr(value, "value", value)


def _dag_cron(dag):
    """The cron of a DAG compiled by Optimus (schedule_interval), or None when unscheduled."""
    value = _attr(dag, "schedule_interval")
    if isinstance(value, str):
        return value
    timetable = _attr(dag, "timetable")
    return getattr(timetable, "_expression", None) or getattr(timetable, "expression", None)


def _main_task_id(dag):
    """The task a compiled DAG runs (its pod operator that is not a hook)."""
    for task in _attr(dag, "tasks", ()) or ():
        if isinstance(task, SuperKubernetesPodOperator) and not task.task_id.startswith("hook_"):
            return task.task_id
    return ""


def compiled_job(dag, params=None):
    """The OptimusJob of a DAG file compiled by Optimus."""
    params = params if params is not None else _attr(dag, "params", {})
    return OptimusJob(
        project=_param(params, "project_name"),
        namespace=_param(params, "namespace"),
        job=_param(params, "job_name"),
        host=_param(params, "optimus_hostname"),
        schedule=_dag_cron(dag),
        task_name=_main_task_id(dag),
    )


def _context_job(context):
    task = context.get("task")
    dag = context.get("dag") or _attr(task, "dag")
    return compiled_job(dag, context.get("params") or _attr(dag, "params", {}))


def _callback(method):
    def callback(context):
        try:
            job = _context_job(context)
        except Exception:  # noqa: BLE001 - a lost event must not fail a run
            log.exception("optimus: the job of this DAG cannot be found from its params")
            return
        getattr(job, method)(context)

    callback.__name__ = method
    return callback


job_success_event = _callback("on_job_success")
job_failure_event = _callback("on_job_failure")
operator_start_event = _callback("on_operator_start")
operator_success_event = _callback("on_operator_success")
operator_retry_event = _callback("on_operator_retry")
operator_failure_event = _callback("on_operator_failure")


def optimus_sla_miss_notify(dag, task_list, blocking_task_list, slas, blocking_tis):
    """Airflow 2's sla_miss_callback of a compiled DAG."""
    try:
        job = compiled_job(dag)
    except Exception:  # noqa: BLE001
        log.exception("optimus: the job of DAG %s cannot be found from its params", _attr(dag, "dag_id"))
        return
    job.on_sla_miss(dag, task_list, blocking_task_list, slas, blocking_tis)


def get_scheduled_at(context):
    """Optimus's scheduled time of the run in `context` (one cron tick after its logical date)."""
    return _context_job(context).scheduled_at(context)


class SuperKubernetesPodOperator(KubernetesPodOperator):
    """The pod operator of compiled DAGs: Optimus's init container gets SCHEDULED_AT and DAG_RUN_ID.
    Arguments the installed provider no longer has are translated or dropped."""

    def __init__(self, *args, **kwargs):
        if "is_delete_operator_pod" in kwargs and "is_delete_operator_pod" not in _KPO_PARAMS:
            delete = kwargs.pop("is_delete_operator_pod")
            if "on_finish_action" in _KPO_PARAMS:
                kwargs.setdefault("on_finish_action", "delete_pod" if delete else "keep_pod")
        if "container_resources" in kwargs and "container_resources" not in _KPO_PARAMS:
            kwargs["resources"] = kwargs.pop("container_resources")
        for key, value in (("log_events_on_failure", True), ("init_container_logs", True)):
            if key in _KPO_PARAMS:
                kwargs.setdefault(key, value)
        kwargs.setdefault("startup_timeout_seconds", 120)
        super().__init__(*args, **kwargs)

    def execute(self, context):
        self.startup_timeout_seconds = variable_int("startup_timeout_in_secs", self.startup_timeout_seconds)
        return super().execute(context)

    def build_pod_request_obj(self, context=None, *args, **kwargs):
        pod = super().build_pod_request_obj(context, *args, **kwargs)
        if context is not None:
            run_env = [
                k8s.V1EnvVar(name="SCHEDULED_AT", value=format_ts(get_scheduled_at(context))),
                k8s.V1EnvVar(name="DAG_RUN_ID", value=str(context.get("run_id") or "")),
            ]
            replaced = {e.name for e in run_env}
            for container in pod.spec.init_containers or []:
                if container.env:  # Optimus's init container has env; others are left alone
                    container.env = [e for e in container.env if e.name not in replaced] + run_env
        return pod


class SuperExternalTaskSensor(OptimusUpstreamSensor):
    """Optimus's upstream sensor: the upstream job's runs covering this run's window succeeded."""

    def __init__(
        self,
        optimus_hostname,
        project_name,
        job_name,
        upstream_optimus_hostname,
        upstream_optimus_project,
        upstream_optimus_namespace,
        upstream_optimus_job,
        *args,
        **kwargs,
    ):
        super().__init__(
            job=None,
            upstream_host=upstream_optimus_hostname,
            upstream_project=upstream_optimus_project,
            upstream_namespace=upstream_optimus_namespace,
            upstream_job=upstream_optimus_job,
            **kwargs,
        )
        self.optimus_hostname = optimus_hostname
        self.project_name = project_name
        self.job_name = job_name

    def poke(self, context):
        job = _context_job(context)
        job.host, job.project, job.job = base_url(self.optimus_hostname), self.project_name, self.job_name
        self.optimus_job = job
        return super().poke(context)


class SuperExternal3rdPartyTaskSensor(_OptimusSensor):
    """Waits for data that no Optimus job writes, as a third-party service (Dex) reports it.

    Variable THIRD_PARTY_SENSOR_TOGGLE: OFF or unset skips the check; ON waits for complete data;
    SOFT waits at most THIRD_PARTY_SENSOR_MAX_TIME_MINUTES from the start of the DAG run (no limit
    set: skips); SOFT_5XX is ON, except that the server's 5xx answers allow SOFT's bypass. Jobs
    listed in THIRD_PARTY_BLACKLISTEDJOBS (comma-separated) skip it, and so do custom backfills."""

    SUPPORTED = ("dex",)

    def __init__(self, optimus_hostname, project_name, job_name, third_party_type, identifier, config, *args, **kwargs):
        super().__init__(job=None, **kwargs)
        self.optimus_hostname = optimus_hostname
        self.project_name = project_name
        self.job_name = job_name
        self.third_party_type = third_party_type
        self.identifier = identifier
        self.config = dict(config or {})

    def execute(self, context):
        # Its own timeout tunable; the poke interval is the sensors' one.
        self.poke_interval = variable_int("sensor_poke_interval_in_secs", int(self.poke_interval))
        self.timeout = variable_int("third_party_sensor_timeout_in_secs", int(self.timeout))
        return BaseSensorOperator.execute(self, context)

    def poke(self, context):
        run_id = context.get("run_id") or _attr(context.get("dag_run"), "run_id", "")
        if run_id.startswith(BACKFILL_RUN_PREFIX):
            self.log.info("backfill run %s: third-party check bypassed", run_id)
            return True
        if self.third_party_type not in self.SUPPORTED:
            self.log.warning("third-party type %r is not supported: check skipped", self.third_party_type)
            return True
        skipped = [j.strip() for j in str(variable(THIRD_PARTY_BLACKLISTEDJOBS, "") or "").split(",")]
        if self.job_name in skipped:
            self.log.info("%s is listed in %s: check skipped", self.job_name, THIRD_PARTY_BLACKLISTEDJOBS)
            return True
        mode = str(variable(THIRD_PARTY_SENSOR_TOGGLE, "") or "").strip().upper()
        if mode not in ("ON", "SOFT", "SOFT_5XX"):
            self.log.info("third-party sensor mode %r: check skipped", mode)
            return True
        self.optimus_job = _context_job(context)
        complete, server_error = self.data_complete(self.optimus_job.scheduled_at(context))
        if complete:
            return True
        if mode == "SOFT" or (mode == "SOFT_5XX" and server_error):
            return self.grace_over(context)
        return False

    def data_complete(self, scheduled_at):
        """(complete, the server answered 5xx)."""
        url = "%s/api/v1beta1/project/%s/job/%s/third-party-sensor" % (
            base_url(self.optimus_hostname),
            _segment(self.project_name),
            _segment(self.job_name),
        )
        body = {
            "scheduled_at": format_ts(scheduled_at),
            "third_party_type": self.third_party_type,
            "dex_sensor_request": {"resource_urn": str(self.config.get("resource_urn", ""))},
        }
        try:
            answer = http_json("PUT", url, body=body)
        except OptimusRequestError as err:
            self.scheduler_error = "third-party sensor: %s" % err
            self.log.warning(self.scheduler_error)
            return False, err.status >= 500
        except (OSError, ValueError) as err:
            self.scheduler_error = "third-party sensor: %s" % err
            self.log.warning(self.scheduler_error)
            return False, False
        status = answer.get("dexSensorResponse") or {}
        self.log.info("data completeness of %s: %s", body["dex_sensor_request"]["resource_urn"], status)
        return bool(status.get("isComplete")), False

    def grace_over(self, context):
        """True once the DAG run has waited THIRD_PARTY_SENSOR_MAX_TIME_MINUTES (or when none is set)."""
        limit = str(variable(THIRD_PARTY_SENSOR_MAX_TIME, "") or "").strip()
        if not limit.isdigit():
            self.log.info("no %s set: check bypassed", THIRD_PARTY_SENSOR_MAX_TIME)
            return True
        started = _attr(context.get("dag_run"), "start_date")
        waited = datetime.now(timezone.utc) - to_utc(started) if started else timedelta(0)
        if waited > timedelta(minutes=int(limit)):
            self.log.info("waited %s, over %s minutes: check bypassed", waited, limit)
            return True
        return False


class ExternalHttpSensor(BaseSensorOperator):
    """Optimus's HTTP dependency: GET `endpoint` (templated) until it answers 2xx."""

    template_fields = ("endpoint", "request_params", "headers")

    def __init__(self, endpoint, method="GET", request_params=None, headers=None, *args, **kwargs):
        kwargs.setdefault("mode", "reschedule")
        super().__init__(**kwargs)
        self.endpoint = endpoint
        self.method = method
        self.request_params = dict(request_params or {})
        self.headers = dict(headers or {})

    def poke(self, context):
        return http_ready(self.endpoint, self.headers, self.request_params, self.log)


def _airflow2_names_on_airflow3():
    """Compiled DAG files are written for Airflow 2: on Airflow 3 they import
    airflow.operators.python_operator and pass DAG(schedule_interval=...). Both are given back here,
    for the files that import __lib first (as compiled ones do); the schedule keeps Airflow 2's
    meaning (runs with data intervals) so scheduled times stay as Optimus computes them."""
    import sys
    import types

    if "airflow.operators.python_operator" not in sys.modules:
        try:
            import airflow.operators.python_operator  # noqa: F401
        except ImportError:
            from airflow.providers.standard.operators import python as standard_python

            alias = types.ModuleType("airflow.operators.python_operator")
            alias.__dict__.update({k: v for k, v in vars(standard_python).items() if not k.startswith("__")})
            sys.modules["airflow.operators.python_operator"] = alias
    # Airflow resets airflow.models.DAG when it loads its models, so the class itself learns the
    # argument back (for every DAG of the process: it is only ever refused otherwise).
    from airflow.sdk import DAG

    if getattr(DAG, "optimus_compat", False) or "schedule_interval" in inspect.signature(DAG.__init__).parameters:
        return
    original = DAG.__init__

    def __init__(self, *args, schedule_interval=None, **kwargs):
        if schedule_interval is not None and "schedule" not in kwargs:
            cron = normalise_cron(schedule_interval) if isinstance(schedule_interval, str) else None
            kwargs["schedule"] = dag_schedule(cron) if cron else schedule_interval
        original(self, *args, **kwargs)

    __init__.__doc__ = original.__doc__
    DAG.__init__ = __init__
    DAG.optimus_compat = True


if AIRFLOW_MAJOR >= 3:
    _airflow2_names_on_airflow3()
