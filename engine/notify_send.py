"""Notifications' sending: one POST, and ``Sender``, the background thread with a
bounded queue that posts deliveries in order, retrying with exponential backoff
and dropping (and counting) what does not fit, so the loop never waits on a
webhook."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

import tenacity

from gitwave.engine.notify_payload import Delivery

__all__ = ["DeliveryError", "Sender", "SenderStats", "post"]

DEFAULT_QUEUE = 256
DEFAULT_ATTEMPTS = 5


class DeliveryError(Exception):
    """A POST that failed; ``retriable`` for 5xx, 429 and connection errors.
    The message names the provider, never its address (it may be a secret)."""

    def __init__(self, message: str, *, retriable: bool) -> None:
        super().__init__(message)
        self.retriable = retriable


def post(item: Delivery, *, timeout_s: float = 10.0) -> None:
    """Send ``item`` once; DeliveryError when it is not taken."""
    provider = item.provider
    name = f"Provider/{provider.namespace}/{provider.name}"
    request = urllib.request.Request(
        provider.address, data=item.body, headers=dict(item.headers), method=item.method
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        code = exc.code
        raise DeliveryError(
            f"{name}: HTTP {code}", retriable=code >= 500 or code in (408, 429)
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        kind = type(reason).__name__
        raise DeliveryError(f"{name}: cannot connect ({kind})", retriable=True) from None


@dataclass(frozen=True, slots=True)
class SenderStats:
    sent: int
    failed: int
    dropped: int
    retried: int


class Sender:
    """A background thread that posts deliveries in order, retrying each with
    exponential backoff (tenacity) up to ``attempts`` times. ``submit`` never
    blocks: a full queue drops the message and counts it (a slow webhook must
    not hold up reconciling). ``sleep`` is passed in so tests do not wait."""

    def __init__(
        self,
        *,
        post: Callable[[Delivery], None] = post,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        maxsize: int = DEFAULT_QUEUE,
        sleep: Callable[[float], None] = time.sleep,
        log: Callable[[str, str], None] = lambda level, message: None,
    ) -> None:
        self._post = post
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._sleep = sleep
        self._log = log
        self._queue: queue.Queue[Delivery | None] = queue.Queue(maxsize=maxsize)
        self._lock = threading.Lock()
        self._counts = {"sent": 0, "failed": 0, "dropped": 0, "retried": 0}
        self.delays: list[float] = []  # every backoff waited, for the curious (and tests)
        self._thread = threading.Thread(target=self._work, name="gitwave-notify", daemon=True)
        self._thread.start()

    def submit(self, item: Delivery) -> bool:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self._count("dropped")
            self._log("warning", f"notification {item.trigger} of {item.app} dropped: queue full")
            return False
        return True

    def stats(self) -> SenderStats:
        with self._lock:
            return SenderStats(**self._counts)

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until every submitted delivery was sent or given up; True if so."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while self._queue.unfinished_tasks:
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self, timeout_s: float = 5.0) -> None:
        """Send what is queued (within ``timeout_s``), then stop the thread."""
        self.flush(timeout_s)
        with contextlib.suppress(queue.Full):  # the thread is stuck; it is a daemon
            self._queue.put_nowait(None)
        self._thread.join(timeout_s)

    def _count(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._deliver(item)
            finally:
                self._queue.task_done()

    def _deliver(self, item: Delivery) -> None:
        def before_sleep(state: tenacity.RetryCallState) -> None:
            delay = state.next_action.sleep if state.next_action else 0.0
            with self._lock:
                self.delays.append(delay)
                self._counts["retried"] += 1
            error = state.outcome.exception() if state.outcome else None
            self._log("warning", f"notification {item.trigger} of {item.app}: {error}; retrying")

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self._attempts),
            wait=tenacity.wait_exponential(multiplier=self._backoff_s, max=self._max_backoff_s),
            retry=tenacity.retry_if_exception(lambda e: getattr(e, "retriable", False)),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            retrying(self._post, item)
        except DeliveryError as exc:
            self._count("failed")
            self._log("error", f"notification {item.trigger} of {item.app} not sent: {exc}")
        except Exception as exc:  # a sender bug must not kill the thread
            self._count("failed")
            self._log(
                "error", f"notification {item.trigger} of {item.app} not sent: {type(exc).__name__}"
            )
        else:
            self._count("sent")
