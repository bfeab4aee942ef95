"""Fixtures of the Rollouts tests: a sandbox on a hand-moved clock, and a
local HTTP server that answers analysis requests (a web metric's JSON, a
Prometheus-compatible ``/api/v1/query``) and records what it was asked."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gitwave.providers.sandbox import SandboxProvider
from tests.providers.conftest import FakeClock

ROLLOUT_S = 10.0  # how long the sandbox takes to make new pods available


@dataclass
class MetricServer:
    """Answers ``GET /web/NAME`` with ``web[NAME]`` as JSON,
    ``GET /api/v1/query?query=Q`` with a Prometheus vector of ``prometheus[Q]``,
    and ``GET /redirect/URL`` with a redirect to the (quoted) URL."""

    url: str = ""
    web: dict[str, Any] = field(default_factory=dict)
    prometheus: dict[str, float] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)


@pytest.fixture
def metrics() -> Iterator[MetricServer]:
    server_state = MetricServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server_state.asked.append(self.path)
            parsed = urllib.parse.urlsplit(self.path)
            body: Any
            if parsed.path.startswith("/redirect/"):
                self.send_response(302)
                self.send_header("Location", urllib.parse.unquote(parsed.path[10:]))
                self.end_headers()
                return
            if parsed.path.startswith("/web/") and parsed.path[5:] in server_state.web:
                body = server_state.web[parsed.path[5:]]
            elif parsed.path == "/api/v1/query":
                query = urllib.parse.parse_qs(parsed.query).get("query", [""])[0]
                if query not in server_state.prometheus:
                    body = {"status": "error", "errorType": "bad_data", "error": "unknown query"}
                else:
                    sample = {
                        "metric": {},
                        "value": [1700000000, str(server_state.prometheus[query])],
                    }
                    body = {
                        "status": "success",
                        "data": {"resultType": "vector", "result": [sample]},
                    }
            else:
                self.send_response(404)
                self.end_headers()
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(tmp_path: Path, clock: FakeClock) -> Iterator[SandboxProvider]:
    with SandboxProvider(tmp_path / "state", rollout_seconds=ROLLOUT_S, clock=clock) as provider:
        yield provider
