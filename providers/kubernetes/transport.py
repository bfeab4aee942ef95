"""HTTP to the API server: rate limited, JSON in and out, errors as values gitwave knows.

Requests go through the official client's ``ApiClient.call_api`` (so every
kubeconfig authentication — client certificates, tokens, refreshed exec
credentials — keeps working) with ``_preload_content=False``: responses are
decoded with ``json.loads`` into plain dicts, the shape the engine works on,
instead of the client's model classes (which also drop unknown fields of
custom resources).

Every request first takes a token from a bucket (``qps`` per second, up to
``burst`` at once), like client-go's flowcontrol: parallel applies never flood
the API server, whatever the engine's parallelism. Unless ``qps`` is given,
the bucket is dropped once the server shows that it throttles requests
itself (API Priority and Fairness: its answers carry the
``X-Kubernetes-PF-FlowSchema-UID`` header), as Flux's controllers and
controller-runtime do: a fixed client-side rate (50 a second) would otherwise
bound a fleet of thousands of objects, not the server. An API server that still
answers 429 Too Many Requests (API Priority and Fairness rejecting the request)
is left alone for the ``Retry-After`` seconds it names (capped at
``MAX_RETRY_AFTER_S``; 1 s doubling when it names none) and asked again, up to
``THROTTLE_RETRIES`` times, as client-go does; then the HttpError carries the
delay, so the sync's own retry waits at least that long.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import urllib3

from gitwave.engine.errors import UnreachableError
from gitwave.providers.kubernetes.client_light import load

ApiException = load().ApiException

JSON = "application/json"
APPLY_PATCH = "application/apply-patch+yaml"
# Timeouts (connect, read) in seconds for one request; a watch sets its own.
DEFAULT_TIMEOUT = (5.0, 60.0)
# 429 Too Many Requests: asked again this many times, waiting at most this long each.
THROTTLE_RETRIES = 5
MAX_RETRY_AFTER_S = 30.0
# The client-side rate when none is given, until the server shows it throttles itself.
DEFAULT_QPS = 50.0
DEFAULT_BURST = 100
# Set on every answer of an API server with API Priority and Fairness.
APF_HEADER = "X-Kubernetes-PF-FlowSchema-UID"

Query = Sequence[tuple[str, str]]


class TokenBucket:
    """``qps`` tokens a second, at most ``burst`` saved up. Thread-safe.

    A caller that finds the bucket empty reserves the next token and sleeps
    outside the lock, so waiting callers are served in arrival order."""

    def __init__(self, *, qps: float, burst: int, clock: Any = time.monotonic) -> None:
        if qps <= 0:
            raise ValueError(f"qps must be positive, not {qps}")
        self.qps = float(qps)
        self.burst = max(1, int(burst))
        self._clock = clock
        self._tokens = float(self.burst)
        self._last = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take one token; the seconds to wait before using it (0 when one was saved)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
            self._last = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def take(self) -> None:
        delay = self.reserve()
        if delay > 0:
            time.sleep(delay)


@dataclass(frozen=True, slots=True)
class HttpError(Exception):
    """The API server answered with an error status. ``status_body`` is its
    ``Status`` object when it sent one (``reason``, ``message``, ``details``)."""

    status: int
    reason: str
    message: str
    status_body: Mapping[str, Any] = field(default_factory=dict)
    retry_after_s: float = 0.0  # the Retry-After header, in seconds (0: none)

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.reason}: {self.message}"

    @property
    def is_not_found(self) -> bool:
        return self.status == 404

    @property
    def is_unknown_path(self) -> bool:
        """404 from the router (the type is not served), not from a missing object."""
        return self.status == 404 and self.status_body.get("kind") != "Status"


def _http_error(exc: Any) -> HttpError:  # an ApiException
    raw = exc.body
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    text = str(raw or "")
    body: dict[str, Any] = {}
    if text.startswith("{"):
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            body = decoded
    message = str(body.get("message") or text.strip() or exc.reason or "")
    reason = str(body.get("reason") or exc.reason or "")
    headers = exc.headers or {}
    return HttpError(
        int(exc.status or 0), reason, message, body, retry_after(headers.get("Retry-After"))
    )


def retry_after(value: str | None, *, now: datetime | None = None) -> float:
    """Seconds a ``Retry-After`` header asks for: a number of seconds or an
    HTTP date (0 when absent or unreadable)."""
    if not value:
        return 0.0
    text = str(value).strip()
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return 0.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def describe_transport_error(exc: BaseException) -> str:
    """A short reason for a failed connection (no stack of wrapped urllib3 errors)."""
    seen: BaseException | None = exc
    texts = []
    while seen is not None:
        texts.append(str(seen))
        nxt = getattr(seen, "reason", None)
        seen = nxt if isinstance(nxt, BaseException) and nxt is not seen else None
    text = " ".join(texts)
    for needle, short in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "host not found"),
        ("timed out", "timed out"),
        ("Read timed out", "timed out"),
        ("RemoteDisconnected", "connection closed by the server"),
        ("Response ended prematurely", "connection closed by the server"),
        ("IncompleteRead", "connection closed by the server"),
        ("Connection aborted", "connection closed by the server"),
        ("Connection reset", "connection reset"),
        ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"),
    ):
        if needle in text:
            return short
    return f"{type(exc).__name__}: {exc}"


class Transport:
    """One cluster's HTTP endpoint. ``target`` names it in errors (``kube:CONTEXT``).

    ``qps``/``burst`` None: ``DEFAULT_QPS``/``DEFAULT_BURST`` until an answer
    shows API Priority and Fairness, then no client-side limit (see the module
    docstring); given, they always hold."""

    def __init__(
        self,
        api_client: Any,
        *,
        target: str,
        qps: float | None = None,
        burst: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_client = api_client
        self.target = target
        self.server = str(api_client.configuration.host)
        self.bucket = TokenBucket(
            qps=DEFAULT_QPS if qps is None else qps,
            burst=DEFAULT_BURST if burst is None else burst,
        )
        # True while requests take tokens; only a Transport without an asked
        # rate gives the bucket up.
        self.limited = True
        self._adaptive = qps is None
        self._sleep = sleep
        self._count_lock = threading.Lock()
        self.throttled = 0  # 429 answers waited out (for operators and tests)
        # Requests sent, by method (a watch counts as one GET when it opens):
        # lets a benchmark or a test see that a wait reads the cache, not the server.
        self.sent: dict[str, int] = {}

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Query = (),
        body: Any = None,
        content_type: str = JSON,
        accept: str = JSON,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> tuple[int, Any]:
        """``(status, decoded JSON body)``.

        Raises HttpError for an error status and UnreachableError when the
        server cannot be reached (refused, reset, timed out)."""
        response = self._throttled_call(method, path, query, body, content_type, accept, timeout)
        try:
            data = response.data
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self.unreachable(method, path, exc) from exc
        finally:
            response.release_conn()
        return int(response.status), json.loads(data) if data else None

    def request_text(self, path: str, *, query: Query = ()) -> str:
        """A GET whose answer is plain text (a Pod's log), decoded as UTF-8.
        Raises like ``request``."""
        response = self._throttled_call("GET", path, query, None, JSON, "*/*", DEFAULT_TIMEOUT)
        try:
            data = response.data
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self.unreachable("GET", path, exc) from exc
        finally:
            response.release_conn()
        return bytes(data or b"").decode("utf-8", errors="replace")

    def open_stream(self, path: str, *, query: Query, read_timeout: float) -> Any:
        """Start a streaming GET (a watch); the raw urllib3 response, which the
        caller iterates line by line and closes. Raises like ``request``."""
        return self._throttled_call("GET", path, query, None, JSON, JSON, (5.0, read_timeout))

    def _throttled_call(
        self,
        method: str,
        path: str,
        query: Query,
        body: Any,
        content_type: str,
        accept: str,
        timeout: tuple[float, float],
    ) -> Any:
        """``_call``, waiting out 429 Too Many Requests as the server asks."""
        for attempt in range(THROTTLE_RETRIES + 1):
            if self.limited:
                self.bucket.take()
            try:
                response = self._call(method, path, query, body, content_type, accept, timeout)
            except HttpError as exc:
                if exc.status != 429 or attempt == THROTTLE_RETRIES:
                    raise
                with self._count_lock:
                    self.throttled += 1
                self._sleep(min(exc.retry_after_s or 2.0**attempt, MAX_RETRY_AFTER_S))
                continue
            if self.limited and self._adaptive and _server_throttles(response):
                self.limited = False  # a plain bool: a racing reader takes one more token
            return response
        raise AssertionError("unreachable: the last attempt raises")

    def _call(
        self,
        method: str,
        path: str,
        query: Query,
        body: Any,
        content_type: str,
        accept: str,
        timeout: tuple[float, float],
    ) -> Any:
        with self._count_lock:
            self.sent[method] = self.sent.get(method, 0) + 1
        try:
            return self.api_client.call_api(
                path,
                method,
                query_params=list(query),
                header_params={"Content-Type": content_type, "Accept": accept},
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=timeout,
            )
        except ApiException as exc:
            if not exc.status:
                # status 0: the client wraps TLS failures this way.
                raise self.unreachable(method, path, exc) from exc
            raise _http_error(exc) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self.unreachable(method, path, exc) from exc

    def unreachable(self, method: str, path: str, exc: BaseException) -> UnreachableError:
        """The error for a request to ``path`` that failed on the way (``exc``)."""
        return UnreachableError(
            self.target, f"{self.server}: {describe_transport_error(exc)} ({method} {path})"
        )


def _server_throttles(response: Any) -> bool:
    """Whether the answer comes from an API server with API Priority and Fairness."""
    headers = getattr(response, "headers", None)
    return bool(headers is not None and headers.get(APF_HEADER))


def iter_lines(response: Any) -> Iterator[bytes]:
    """The lines of a streaming response (a watch sends one JSON event a line)."""
    pending = b""
    for chunk in response.stream(64 * 1024, decode_content=True):
        pending += chunk
        while True:
            newline = pending.find(b"\n")
            if newline < 0:
                break
            line, pending = pending[:newline], pending[newline + 1 :]
            if line.strip():
                yield line
    if pending.strip():
        yield pending
