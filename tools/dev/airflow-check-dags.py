"""Loads a DAG folder with Airflow's DagBag, as the DAG processor would; run by tools/dev/airflow.

  python airflow-check-dags.py DIR

Prints import errors (exit 1), or a JSON summary of every DAG on stdout (exit 0):
  {dag_id: {"file", "schedule", "tasks", "upstream_sensors", "http_sensors", "hooks", "edges"}}
Timings and warnings go to stderr. While the folder loads, network connections and Airflow
Variable reads raise, so a DAG file that does I/O at import time shows up as an import error.
"""

import inspect
import json
import os
import socket
import sys
import time
import warnings


def forbid_import_time_io():
    def refuse(what):
        def raiser(*args, **kwargs):
            raise RuntimeError("%s while importing a DAG file: generated DAGs must do no I/O at import" % what)

        return raiser

    socket.socket.connect = refuse("network connection")
    socket.socket.connect_ex = refuse("network connection")
    socket.create_connection = refuse("network connection")
    for module, attr in (("airflow.models.variable", "Variable"), ("airflow.sdk", "Variable")):
        try:
            cls = getattr(__import__(module, fromlist=[attr]), attr)
        except (ImportError, AttributeError):
            continue
        cls.get = classmethod(lambda cls, *a, **k: refuse("Variable.get")())


def schedule_of(dag):
    """'<Timetable> <cron>' or 'None', the same on Airflow 2 (core timetables) and 3 (SDK ones)."""
    timetable = dag.timetable
    name = type(timetable).__name__
    if name == "NullTimetable":
        return "None"
    cron = getattr(timetable, "expression", None) or getattr(timetable, "_expression", None)
    if not cron:
        return name
    zone = getattr(timetable, "_timezone", None) or getattr(timetable, "timezone", None)
    zone = getattr(zone, "name", None) or getattr(zone, "key", None) or str(zone or "UTC")
    return "%s %s" % (name, cron) if zone in ("UTC", "Etc/UTC") else "%s %s %s" % (name, cron, zone)


def class_names(task):
    return {c.__name__ for c in type(task).__mro__}


def main():
    folder = os.path.abspath(sys.argv[1])
    started = time.perf_counter()
    import airflow

    try:  # Airflow >= 3.1
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:
        from airflow.models.dagbag import DagBag
    imported = time.perf_counter()
    forbid_import_time_io()

    kwargs = {"dag_folder": folder}
    if "include_examples" in inspect.signature(DagBag.__init__).parameters:
        kwargs["include_examples"] = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bag = DagBag(**kwargs)
    loaded = time.perf_counter()

    stats = sorted(getattr(bag, "dagbag_stats", []) or [], key=lambda s: s.duration, reverse=True)
    print(
        "check-dags: Airflow %s: %d DAGs from %d files; import of the folder took %.2f s "
        "(plus %.2f s to import Airflow itself)"
        % (airflow.__version__, len(bag.dags), len(stats), loaded - imported, imported - started),
        file=sys.stderr,
    )
    for stat in stats[:5]:
        print("check-dags:   %8.3f s  %s" % (stat.duration.total_seconds(), stat.file), file=sys.stderr)

    seen = set()
    for path, messages in sorted((getattr(bag, "captured_warnings", None) or {}).items()):
        for message in messages:
            seen.add(message)
            print("check-dags: warning: %s: %s" % (os.path.relpath(path, folder), message), file=sys.stderr)
    for w in caught:
        text = "%s:%s: %s: %s" % (w.filename, w.lineno, w.category.__name__, w.message)
        if w.filename.startswith(folder) and text not in seen:
            print("check-dags: warning: %s" % text, file=sys.stderr)

    if bag.import_errors:
        for path, error in sorted(bag.import_errors.items()):
            print("check-dags: IMPORT ERROR in %s:\n%s" % (path, error), file=sys.stderr)
        print("check-dags: %d import error(s)" % len(bag.import_errors), file=sys.stderr)
        return 1

    summary = {}
    for dag_id, dag in sorted(bag.dags.items()):
        upstream, http, hooks = [], [], []
        for task in dag.tasks:
            names = class_names(task)
            if "OptimusUpstreamSensor" in names:
                upstream.append(task.task_id)
            elif "OptimusHttpSensor" in names:
                http.append(task.task_id)
            elif getattr(task, "optimus_kind", "") == "HOOK":
                hooks.append(task.task_id)
        summary[dag_id] = {
            "file": os.path.relpath(dag.fileloc, folder),
            "schedule": schedule_of(dag),
            "tasks": sorted(t.task_id for t in dag.tasks),
            "upstream_sensors": sorted(upstream),
            "http_sensors": sorted(http),
            "hooks": sorted(hooks),
            "edges": sorted("%s >> %s" % (t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids),
        }
    json.dump(summary, sys.stdout, indent=2, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
