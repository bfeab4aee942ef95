"""The apps a replica reconciles at once: a bounded pool, never one app twice.

As Flux's ``--concurrent`` (a workqueue drained by N workers; an object is in
the queue at most once and never processed by two workers at a time): the
reconcile thread hands each due app of a held shard to ``AppWorkers.submit``,
which refuses an app already queued or running, and N threads run them in the
order given. Each app is registered with the ``ShardKeeper`` from the moment
it is queued until its worker is done, so the keeper interrupts every app of
a shard it loses and keeps that shard's Lease until none of them is in flight.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from gitwave.engine.controller.keeper import ShardKeeper

log = logging.getLogger("gitwave.controller")

# One app's reconcile, given the interrupt its shard's keeper sets.
Work = Callable[[threading.Event], None]


class AppWorkers:
    """At most ``concurrent`` apps reconciled at once, each app once at a time."""

    def __init__(self, keeper: ShardKeeper, concurrent: int) -> None:
        if concurrent < 1:
            raise ValueError(f"concurrent must be at least 1, got {concurrent}")
        self._keeper = keeper
        self._pool = ThreadPoolExecutor(
            max_workers=concurrent, thread_name_prefix="gitwave-reconcile"
        )
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}  # app id → its shard, queued or running
        self._idle = threading.Condition(self._lock)

    def busy(self, app_id: str) -> bool:
        """True while ``app_id`` is queued or running."""
        with self._lock:
            return app_id in self._in_flight

    def in_flight(self) -> dict[str, int]:
        """The apps queued or running, with their shards."""
        with self._lock:
            return dict(self._in_flight)

    def submit(self, app_id: str, shard: int, work: Work) -> bool:
        """Queue ``work`` for ``app_id``; False (nothing queued) when it is in flight."""
        with self._lock:
            if app_id in self._in_flight:
                return False
            self._in_flight[app_id] = shard
        interrupt = threading.Event()
        # Registered before it is queued: from now on the shard is busy.
        self._keeper.register(shard, app_id, interrupt)
        try:
            self._pool.submit(self._run, app_id, shard, work, interrupt)
        except RuntimeError:  # the pool is shut down: nothing runs
            self._done(app_id, shard)
            return False
        return True

    def _run(self, app_id: str, shard: int, work: Work, interrupt: threading.Event) -> None:
        try:
            # Queued behind others: the shard may be gone by now.
            if not interrupt.is_set() and self._keeper.holds(shard):
                work(interrupt)
        except Exception as error:  # one broken app never stops the others
            log.warning("%s: %s", app_id, error)
        finally:
            self._done(app_id, shard)

    def _done(self, app_id: str, shard: int) -> None:
        self._keeper.unregister(shard, app_id)
        with self._idle:
            self._in_flight.pop(app_id, None)
            self._idle.notify_all()

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until no app is in flight; False when ``timeout`` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._in_flight, timeout)

    def close(self) -> None:
        """Wait for the apps in flight, then stop the threads."""
        self._pool.shutdown(wait=True)


__all__ = ["AppWorkers", "Work"]
