"""Fixtures for the __lib.py tests: run in an Airflow venv (tools/dev/airflow test, or
tools/dev/airflow python 2|3 -m pytest services/compiler/templates/tests)."""

import json
import os
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

TEMPLATES = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TEMPLATES)

# Tunables come from AIRFLOW_VAR_* so Variable.get never needs the metadata DB in these tests.
os.environ.setdefault("AIRFLOW_VAR_OPTIMUS_REQUEST_TIMEOUT_IN_SECS", "5")
os.environ.setdefault("AIRFLOW_VAR_BYPASS_DISABLED_JOBS", "True")
os.environ.setdefault("AIRFLOW_VAR_SLAMISS_ALERT", "1")
os.environ.setdefault("AIRFLOW_VAR_STARTUP_TIMEOUT_IN_SECS", "120")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from offline_kube import use_unreachable_cluster  # noqa: E402

use_unreachable_cluster()


class FakeRuntime:
    """A loopback HTTP server standing in for runtime-context (or any URL a sensor polls).

    routes: {(method, path): (status, json_body)} or a callable(request) -> (status, body).
    requests: every request received, as dicts {method, path, query, headers, body}.
    """

    def __init__(self):
        self.routes = {}
        self.requests = []
        runtime = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                url = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                request = {
                    "method": self.command,
                    "path": urllib.parse.unquote(url.path),
                    "query": dict(urllib.parse.parse_qsl(url.query)),
                    "headers": dict(self.headers.items()),
                    "body": json.loads(raw) if raw else None,
                }
                runtime.requests.append(request)
                route = runtime.routes.get((self.command, request["path"]))
                status, body = route(request) if callable(route) else (route or (404, {"message": "no route"}))
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _serve

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def paths(self, method=None):
        return [r["path"] for r in self.requests if method is None or r["method"] == method]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def runtime():
    server = FakeRuntime()
    yield server
    server.close()
