"""The timeline writer: an EventSink that stores events in batches on a thread."""

from __future__ import annotations

import threading

from gitwave.engine.errors import StoreError
from gitwave.engine.events import Event
from gitwave.engine.store import Store


class TimelineWriter:
    """An EventSink that stores events in the timeline in batches, one
    transaction every ``interval_s`` (a sync emits a hundred events; a commit
    each would cost more than the sync). Events reach the database at most
    ``interval_s`` late; ``close`` writes what is left. A hard kill loses at
    most the last ``interval_s`` of events, never a history row.

    Use as a context manager, or call ``close``."""

    def __init__(self, store: Store, *, interval_s: float = 0.2) -> None:
        self._store = store
        self._interval = interval_s
        self._pending: list[Event] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="timeline", daemon=True)
        self._thread.start()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._pending.append(event)

    def flush(self) -> None:
        """Write every event received so far. Raises StoreError."""
        with self._lock:
            batch, self._pending = self._pending, []
        self._store.record_events(batch)

    def _run(self) -> None:
        while not self._closed.wait(self._interval):
            try:
                self.flush()
            except StoreError:
                continue  # the store is busy or gone: the next flush tries again

    def close(self) -> None:
        """Stop the writer thread and write what is left."""
        self._closed.set()
        self._thread.join()
        self.flush()

    def __enter__(self) -> TimelineWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
