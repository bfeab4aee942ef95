"""A read-only Git HTTP server on 127.0.0.1 for the benchmarks: ``git http-backend``
behind the standard library's HTTP server.

Flux's GitRepository accepts only http(s) and ssh URLs, so the fleet benchmark
serves its generated repository this way, to Flux and to ``git clone`` alike.

    with GitHttpServer(root) as server:      # serves every repository under root
        url = server.url("fleet.git")         # http://127.0.0.1:PORT/fleet.git

Pushes are refused: ``git http-backend`` enables receive-pack only for an
authenticated user, and this server never sets one.
"""

from __future__ import annotations

import http.server
import os
import subprocess
import threading
from pathlib import Path
from types import TracebackType


def _read_chunked(rfile: object) -> bytes:
    reader = rfile  # an io.BufferedReader
    out = bytearray()
    while True:
        size_line = reader.readline()  # type: ignore[attr-defined]
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            reader.readline()  # type: ignore[attr-defined]  # the empty trailer
            return bytes(out)
        out += reader.read(size)  # type: ignore[attr-defined]
        reader.readline()  # type: ignore[attr-defined]  # CRLF after each chunk


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "gitwave-bench-git/1"
    protocol_version = "HTTP/1.1"
    root: Path

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per request would drown the benchmark's output

    def do_GET(self) -> None:
        self._backend(b"")

    def do_POST(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = _read_chunked(self.rfile)
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._backend(body)

    def _backend(self, body: bytes) -> None:
        path, _, query = self.path.partition("?")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(self.root),
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
        }
        for header, var in (
            ("Content-Encoding", "HTTP_CONTENT_ENCODING"),
            ("Git-Protocol", "GIT_PROTOCOL"),
        ):
            if self.headers.get(header):
                env[var] = self.headers[header]
        proc = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        )
        head, sep, payload = proc.stdout.partition(b"\r\n\r\n")
        if not sep:
            head, sep, payload = proc.stdout.partition(b"\n\n")
        status = 200 if proc.returncode == 0 else 500
        headers: list[tuple[str, str]] = []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        if not sep:  # no CGI headers at all: http-backend failed before answering
            payload = proc.stderr
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class GitHttpServer:
    """Serves the bare or non-bare repositories under ``root`` at ``url(name)``."""

    def __init__(self, root: Path, port: int = 0) -> None:
        handler = type("Handler", (_Handler,), {"root": Path(root).resolve()})
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="git-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def start(self) -> GitHttpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> GitHttpServer:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
