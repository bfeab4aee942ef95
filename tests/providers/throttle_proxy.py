"""A tiny HTTP proxy for tests, in front of a real server (the local Kubernetes
control plane, the AWS emulator): it answers the first ``reject`` requests
that ``matches`` with a canned throttling answer (429 + Retry-After, or AWS's
ThrottlingException) and forwards every other request, streaming the answer
(a watch stays open), so the client under test meets real throttling without
anything in it being replaced."""

from __future__ import annotations

import http.client
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host"}
)


@dataclass(frozen=True)
class Answer:
    """The canned answer to a rejected request."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Seen:
    """One request the proxy got: when, what, and whether it was rejected."""

    at: float
    method: str
    path: str
    rejected: bool


@dataclass
class ThrottlingProxy:
    """``with ThrottlingProxy(upstream, answer, reject=2) as proxy:`` then point
    the client at ``proxy.url``. ``reject`` < 0 rejects every matching request."""

    upstream: str
    answer: Answer
    reject: int = 1
    matches: Callable[[str, str], bool] = lambda method, path: True
    upstream_tls: ssl.SSLContext | None = None
    # Response headers not passed on (lower case): the upstream seen without them.
    hide_headers: frozenset[str] = frozenset()
    seen: list[Seen] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def rejected(self) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.rejected]

    def _decide(self, method: str, path: str) -> bool:
        with self._lock:
            done = sum(1 for s in self.seen if s.rejected)
            reject = self.matches(method, path) and (self.reject < 0 or done < self.reject)
            self.seen.append(Seen(time.monotonic(), method, path, reject))
            return reject

    def _connection(self) -> http.client.HTTPConnection:
        parts = urlsplit(self.upstream)
        host = parts.hostname or "127.0.0.1"
        if parts.scheme == "https":
            return http.client.HTTPSConnection(
                host, parts.port or 443, context=self.upstream_tls, timeout=120
            )
        return http.client.HTTPConnection(host, parts.port or 80, timeout=120)

    def __enter__(self) -> Self:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: the test's own output tells what happened

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if proxy._decide(self.command, self.path):
                    self.send_response(proxy.answer.status)
                    for name, value in proxy.answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(proxy.answer.body)))
                    self.end_headers()
                    self.wfile.write(proxy.answer.body)
                    return
                upstream = proxy._connection()
                try:
                    headers = {
                        k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP
                    }
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    self.send_response(response.status)
                    for name, value in response.getheaders():
                        hidden = _HOP_BY_HOP | proxy.hide_headers | {"content-length"}
                        if name.lower() not in hidden:
                            self.send_header(name, value)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    while chunk := response.read1(65536):
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                except (OSError, http.client.HTTPException):
                    self.close_connection = True  # the client went away (a watch closed)
                finally:
                    upstream.close()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
