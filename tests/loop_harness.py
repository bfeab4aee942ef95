"""Running the continuous reconcile loop in a test: a Reconciler in a thread,
every event it emits kept and stored, failures in the thread surfaced.

Shared by the sandbox loop tests and the ones against the real control plane.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from gitwave.engine.events import Event, EventKind
from gitwave.engine.reconciler import LoopOptions, Reconciler
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store


class ReconcilerThread:
    """Mixin for a test's loop harness. The class using it provides ``store``,
    ``events``, ``stop``, ``errors``, ``thread``, ``reconciler`` and ``lines()``."""

    store: Store
    events: list[Event]
    stop: threading.Event
    errors: list[BaseException]
    thread: threading.Thread | None
    reconciler: Reconciler | None
    wait_s: float = 10.0

    def lines(self) -> list[str]:
        raise NotImplementedError

    def launch(
        self,
        location: str,
        targets: ProviderRouter,
        options: LoopOptions,
        *,
        also: Callable[[Event], None] | None = None,
        on_pass: Callable[[float, int], None] | None = None,
    ) -> Reconciler:
        """Start a Reconciler on ``location`` in a thread of its own; ``also``
        gets every event too, ``on_pass`` is the loop's."""
        record = self.store.record_event

        def sink(event: Event) -> None:
            record(event)
            self.events.append(event)
            if also is not None:
                also(event)

        reconciler = Reconciler(
            location,
            targets=targets,
            store=self.store,
            sink=sink,
            options=options,
            on_pass=on_pass,
        )

        def target() -> None:
            try:
                reconciler.run(self.stop)
            except BaseException as exc:  # surfaced by the test, not lost in the thread
                self.errors.append(exc)

        self.reconciler = reconciler
        self.thread = threading.Thread(target=target, name="reconciler", daemon=True)
        self.thread.start()
        return reconciler

    def wait(self, what: str, check: Callable[[], Any], *, timeout: float | None = None) -> Any:
        """Poll ``check`` until it returns something truthy; fail naming ``what``."""
        deadline = time.monotonic() + (self.wait_s if timeout is None else timeout)
        while True:
            assert not self.errors, self.errors
            value = check()
            if value:
                return value
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {self.lines()}"
            time.sleep(0.02)

    def of(self, kind: EventKind) -> list[Event]:
        return [e for e in list(self.events) if e.kind is kind]
