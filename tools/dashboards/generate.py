#!/usr/bin/env python3
"""Writes the Grafana dashboards of Optimus (C++) to helm/optimus/dashboards/*.json.

    tools/dashboards/generate.py [--check]

The dashboards are data, generated here so that every panel has the same shape (datasource,
variables, units): edit the PANELS below, run this, commit both. --check exits 1 when the
committed JSON differs from what this writes. The chart ships them as ConfigMaps labelled for
Grafana's dashboard sidecar; e2e/artefacts/observability_e2etest.sh evaluates every panel's query
against a real Prometheus scraping a live server (a panel that can never show data fails).
"""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "helm", "optimus", "dashboards")
SEL = 'namespace=~"$namespace", job=~"$service", instance=~"$instance"'

# dashboard file -> (title, description, [(panel title, unit, [(query, legend)])])
DASHBOARDS = {
    "optimus-overview": (
        "Optimus: overview",
        "Deploys, failures, pipeline lag, dead letters, run input and job events at a glance.",
        [
            ("Jobs deployed per minute, by outcome", "short",
             [(f'sum by (outcome) (rate(optimus_deploy_jobs_total{{{SEL}}}[5m])) * 60', "{{outcome}}")]),
            ("Deploy failure ratio", "percentunit",
             [(f'sum(rate(optimus_deploy_jobs_total{{{SEL}, outcome="failed"}}[15m])) / '
               f'sum(rate(optimus_deploy_jobs_total{{{SEL}}}[15m]))', "failed / all")]),
            ("Pipeline lag p90, by consumer group", "s",
             [(f'histogram_quantile(0.9, sum by (group, le) (rate(optimus_pipeline_record_age_seconds_bucket{{{SEL}}}[5m])))', "{{group}}")]),
            ("Dead letters (last hour), by group", "short",
             [(f'sum by (group) (increase(optimus_pipeline_dead_letters_total{{{SEL}}}[1h]))', "{{group}}")]),
            ("Run input requests per second", "reqps",
             [(f'sum(rate(optimus_grpc_requests_total{{{SEL}, method="optimus.core.v1.JobRunService/JobRunInput"}}[5m]))', "gRPC"),
              (f'sum(rate(optimus_http_requests_total{{{SEL}, route=~".*/run_input"}}[5m]))', "REST")]),
            ("Job events per second (Airflow callbacks)", "reqps",
             [(f'sum(rate(optimus_http_requests_total{{{SEL}, route=~".*/event"}}[5m]))', "events")]),
            ("Processes up", "short",
             [(f'sum by (job) (up{{{SEL}}})', "{{job}}")]),
        ],
    ),
    "optimus-pipeline": (
        "Optimus: deploy pipeline",
        "Each stage of the deploy pipeline: records applied, batch time, lag, failures.",
        [
            ("Records applied per second, by group", "ops",
             [(f'sum by (group) (rate(optimus_pipeline_records_total{{{SEL}}}[5m]))', "{{group}}")]),
            ("Batch duration p99, by group", "s",
             [(f'histogram_quantile(0.99, sum by (group, le) (rate(optimus_pipeline_batch_duration_seconds_bucket{{{SEL}}}[5m])))', "{{group}}")]),
            ("Record age p50 / p99, by group", "s",
             [(f'histogram_quantile(0.5, sum by (group, le) (rate(optimus_pipeline_record_age_seconds_bucket{{{SEL}}}[5m])))', "p50 {{group}}"),
              (f'histogram_quantile(0.99, sum by (group, le) (rate(optimus_pipeline_record_age_seconds_bucket{{{SEL}}}[5m])))', "p99 {{group}}")]),
            ("Batches rolled back, by group", "short",
             [(f'sum by (group) (increase(optimus_pipeline_batch_failures_total{{{SEL}}}[15m]))', "{{group}}")]),
            ("Deploy requests (gRPC), by method and code", "reqps",
             [(f'sum by (method, code) (rate(optimus_grpc_requests_total{{{SEL}, method=~"optimus.core.v1.DeploymentService/.*"}}[5m]))', "{{method}} {{code}}")]),
        ],
    ),
    "optimus-runtime": (
        "Optimus: runtime",
        "What running tasks ask of the server: run input latency and rate, REST latency, job events.",
        [
            ("Run input latency p50 / p99 (gRPC)", "s",
             [(f'histogram_quantile(0.5, sum by (le) (rate(optimus_grpc_request_duration_seconds_bucket{{{SEL}, method="optimus.core.v1.JobRunService/JobRunInput"}}[5m])))', "p50"),
              (f'histogram_quantile(0.99, sum by (le) (rate(optimus_grpc_request_duration_seconds_bucket{{{SEL}, method="optimus.core.v1.JobRunService/JobRunInput"}}[5m])))', "p99")]),
            ("REST latency p99, by route", "s",
             [(f'histogram_quantile(0.99, sum by (route, le) (rate(optimus_http_request_duration_seconds_bucket{{{SEL}}}[5m])))', "{{route}}")]),
            ("REST requests per second, by status", "reqps",
             [(f'sum by (code) (rate(optimus_http_requests_total{{{SEL}}}[5m]))', "{{code}}")]),
            ("Open HTTP connections", "short",
             [(f'sum by (instance) (optimus_http_connections{{{SEL}}})', "{{instance}}")]),
            ("Memory (RSS) and CPU", "bytes",
             [(f'sum by (job) (optimus_process_resident_memory_bytes{{{SEL}}})', "RSS {{job}}")]),
        ],
    ),
    "optimus-bus": (
        "Optimus: bus",
        "The event bus as the services see it: consumer lag, outbox backlog, dead letters.",
        [
            ("Consumer lag p90 (record age when applied)", "s",
             [(f'histogram_quantile(0.9, sum by (group, le) (rate(optimus_pipeline_record_age_seconds_bucket{{{SEL}}}[5m])))', "{{group}}")]),
            ("Outbox backlog, by service", "short",
             [(f'sum by (service) (optimus_outbox_pending_records{{{SEL}}})', "{{service}}")]),
            ("Oldest unpublished record, by service", "s",
             [(f'max by (service) (optimus_outbox_oldest_pending_seconds{{{SEL}}})', "{{service}}")]),
            ("Dead letters per hour, by group", "short",
             [(f'sum by (group) (increase(optimus_pipeline_dead_letters_total{{{SEL}}}[1h]))', "{{group}}")]),
        ],
    ),
    "optimus-execution": (
        "Optimus: executors and queue",
        "The execution plane: queue depth, claims, executors, lease expiries, run durations.",
        [
            ("Executions by state", "short",
             [(f'sum by (state) (optimus_dispatcher_executions{{{SEL}}})', "{{state}}")]),
            ("Executors by status", "short",
             [(f'sum by (status) (optimus_dispatcher_executors{{{SEL}}})', "{{status}}")]),
            ("Claims per minute", "short",
             [(f'sum(rate(optimus_dispatcher_claims_total{{{SEL}}}[5m])) * 60', "claims")]),
            ("Claim latency p90 (queued to leased)", "s",
             [(f'histogram_quantile(0.9, sum by (le) (rate(optimus_dispatcher_claim_latency_seconds_bucket{{{SEL}}}[5m])))', "p90")]),
            ("Native scheduler: runs per minute, by what happened", "short",
             [(f'sum by (what) (rate(optimus_scheduler_runs_total{{{SEL}}}[5m])) * 60', "{{what}}")]),
        ],
    ),
}


def variable(name, label, query):
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "query": {"query": query, "refId": name},
        "definition": query,
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "current": {"text": "All", "value": "$__all"},
        "refresh": 2,
        "sort": 1,
    }


def dashboard(uid, title, description, panels):
    out_panels = []
    for i, (panel_title, unit, queries) in enumerate(panels):
        out_panels.append({
            "id": i + 1,
            "type": "timeseries",
            "title": panel_title,
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i // 2) * 8},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
            "targets": [
                {"refId": chr(ord("A") + j), "expr": expr, "legendFormat": legend}
                for j, (expr, legend) in enumerate(queries)
            ],
        })
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["optimus"],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0},
            variable("namespace", "Namespace", 'label_values(optimus_build_info, namespace)'),
            variable("service", "Service", 'label_values(optimus_build_info{namespace=~"$namespace"}, job)'),
            variable("instance", "Instance",
                     'label_values(optimus_build_info{namespace=~"$namespace", job=~"$service"}, instance)'),
        ]},
        "panels": out_panels,
    }


def rendered():
    return {
        name + ".json": json.dumps(dashboard(name, *spec), indent=2, sort_keys=True) + "\n"
        for name, spec in DASHBOARDS.items()
    }


def main():
    check = "--check" in sys.argv[1:]
    os.makedirs(OUT, exist_ok=True)
    stale = []
    for name, text in rendered().items():
        path = os.path.join(OUT, name)
        current = open(path).read() if os.path.exists(path) else None
        if current != text:
            stale.append(name)
            if not check:
                with open(path, "w") as f:
                    f.write(text)
    if check and stale:
        print("dashboards out of date (run tools/dashboards/generate.py): " + ", ".join(stale))
        return 1
    print(("checked " if check else "wrote ") + str(len(DASHBOARDS)) + " dashboards in " + OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
