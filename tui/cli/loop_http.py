"""The HTTP side of ``gitwave run``: ``/metrics`` (``--metrics-addr``) and
Git push webhooks (``--webhook-addr``), each a small threaded server.

One server per distinct address: when both flags name the same address one
server answers both. Handlers only read: a scrape renders the metrics'
registry, a webhook is verified (``engine.webhook``) and handed to the
reconcile loop, which polls the apps concerned at its next pass.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gitwave.engine.errors import ValidationError
from gitwave.engine.reconciler.metrics import LoopMetrics
from gitwave.engine.webhook import Push, WebhookConfig, WebhookRefused, forge_of, read_push

WEBHOOK_PATHS = ("/", "/api/webhook")  # Argo CD's path, or the root of a dedicated address
# A client that sends headers or a body slower than this is dropped: a thread
# per connection must not be held forever by an idle or trickling one.
REQUEST_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Address:
    host: str  # "" is every interface
    port: int

    @property
    def url_host(self) -> str:
        host = self.host or "0.0.0.0"
        return f"[{host}]" if ":" in host else host


def parse_address(text: str, flag: str) -> Address:
    """``:9090``, ``127.0.0.1:9090``, ``[::1]:9090`` or ``localhost:0`` (a
    free port). Raises ValidationError naming ``flag``."""
    value = text.strip()
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise ValidationError(
            flag, f"{text!r} is not HOST:PORT", hint="e.g. :9090 or 127.0.0.1:9090"
        )
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValidationError(flag, f"{text!r}: {host!r} is not an IPv6 address") from None
    elif ":" in host:
        raise ValidationError(flag, f"{text!r}: put an IPv6 address in brackets, e.g. [::1]:9090")
    return Address(host=host, port=int(port_text))


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookEndpoint:
    """What a webhook request needs: how to verify it and whom to tell."""

    config: WebhookConfig
    trigger: Callable[[Push], list[str]]  # Reconciler.refresh
    metrics: LoopMetrics | None = None
    log: Callable[[str, str], None] = lambda level, message: None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Server6(_Server):
    address_family = socket.AF_INET6


def _handler(
    metrics: LoopMetrics | None, webhooks: WebhookEndpoint | None
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = REQUEST_TIMEOUT_S
        server_version = "gitwave"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the loop logs what a request did; per-request access lines are noise

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, value: dict[str, Any]) -> None:
            self._reply(status, (json.dumps(value) + "\n").encode(), "application/json")

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if metrics is not None and path == "/metrics":
                self._reply(200, generate_latest(metrics.registry), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                self._reply(200, b"ok\n", "text/plain; charset=utf-8")
            else:
                self._json(404, {"error": "not found"})

        do_HEAD = do_GET

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            if webhooks is None or path not in WEBHOOK_PATHS:
                self._json(404, {"error": "not found"})
                return
            self._webhook(webhooks)

        def _webhook(self, endpoint: WebhookEndpoint) -> None:
            headers = {key: value for key, value in self.headers.items()}
            try:
                forge = forge_of(headers)[0].value
            except WebhookRefused:
                forge = "unknown"
            length_text = self.headers.get("Content-Length")
            if length_text is None or not length_text.isdigit():
                self.close_connection = True
                self._refused(endpoint, forge, WebhookRefused(411, "Content-Length required"))
                return
            length = int(length_text)
            if length > endpoint.config.max_bytes:
                # Not read at all: the connection is closed after the answer.
                self.close_connection = True
                refused = WebhookRefused(413, f"payload over {endpoint.config.max_bytes} bytes")
                self._refused(endpoint, forge, refused)
                return
            body = self.rfile.read(length)
            try:
                push = read_push(headers, body, endpoint.config)
            except WebhookRefused as exc:
                self._refused(endpoint, forge, exc)
                return
            if push is None:
                if endpoint.metrics is not None:
                    endpoint.metrics.webhook(forge, "ignored")
                self._json(200, {"triggered": [], "message": "not a push: nothing to do"})
                return
            apps = endpoint.trigger(push)
            if endpoint.metrics is not None:
                endpoint.metrics.webhook(forge, "triggered" if apps else "ignored")
            if not apps:
                endpoint.log("info", f"webhook: {push.display}: no app reads it")
            self._json(202 if apps else 200, {"triggered": apps})

        def _refused(self, endpoint: WebhookEndpoint, forge: str, exc: WebhookRefused) -> None:
            if endpoint.metrics is not None:
                endpoint.metrics.webhook(forge, "refused")
            endpoint.log("warning", f"webhook refused ({exc.status}): {exc}")
            self._json(exc.status, {"error": str(exc)})

    return Handler


class LoopServer:
    """A server on one address, in a daemon thread, until ``close``."""

    def __init__(
        self,
        address: Address,
        *,
        metrics: LoopMetrics | None = None,
        webhooks: WebhookEndpoint | None = None,
    ) -> None:
        server_class = _Server6 if ":" in address.host else _Server
        try:
            self._server = server_class((address.host, address.port), _handler(metrics, webhooks))
        except OSError as exc:
            raise ValidationError(
                "--metrics-addr" if webhooks is None else "--webhook-addr",
                f"cannot listen on {address.url_host}:{address.port}: {exc.strerror or exc}",
            ) from None
        host, port = self._server.server_address[:2]
        self.address = Address(host=str(host), port=int(port))
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"gitwave-http-{port}", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.address.url_host}:{self.address.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
