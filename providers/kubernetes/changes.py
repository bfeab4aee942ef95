"""The change feed: which objects the watches saw change, since a cursor.

The informers tell the log of every watch event; the continuous loop polls
``since(cursor)`` (every ~200 ms) and re-plans only the apps owning a changed
key. A cursor is ``<epoch>:<sequence>``: the epoch names this log, so a cursor
from another process or an earlier provider is never mistaken for one of ours.

The answer is None ("anything may have changed") when the log cannot vouch
for the whole span: the cursor is from another epoch, older than what the log
keeps, or from before a watch had to relist (events were missed while it was
disconnected).
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections import deque

from gitwave.engine.model import ResourceKey

DEFAULT_CAPACITY = 100_000


class ChangeLog:
    """A bounded, thread-safe log of changed keys, numbered in arrival order."""

    def __init__(self, *, capacity: int = DEFAULT_CAPACITY) -> None:
        self.epoch = uuid.uuid4().hex[:12]
        self._lock = threading.Lock()
        # Woken on every entry: a wave's health wait sleeps on it until the
        # watch event that may settle its objects arrives (``wait_past``).
        self._grew = threading.Condition(self._lock)
        # Entry i has sequence number _first + i; None marks "lost track here".
        self._entries: deque[ResourceKey | None] = deque(maxlen=capacity)
        self._first = 1
        self._last = 0
        self._lost_at = 0

    def record(self, key: ResourceKey) -> None:
        self._append(key)

    def lost(self) -> None:
        """Events were missed (a watch relisted): cursors from before now get None."""
        with self._lock:
            self._append_locked(None)
            self._lost_at = self._last

    def cursor(self) -> str:
        with self._lock:
            return f"{self.epoch}:{self._last}"

    def since(self, cursor: str) -> tuple[str, frozenset[ResourceKey] | None]:
        """The current cursor and the keys changed after ``cursor`` (None when the
        log cannot tell; ``""`` starts the feed: no keys)."""
        with self._lock:
            current = f"{self.epoch}:{self._last}"
            if not cursor:
                return current, frozenset()
            epoch, _, number = cursor.partition(":")
            try:
                seen = int(number)
            except ValueError:
                return current, None
            if epoch != self.epoch or seen > self._last or seen < self._lost_at:
                return current, None
            if seen + 1 < self._first:
                return current, None  # older than the log keeps
            changed = itertools.islice(self._entries, seen + 1 - self._first, None)
            return current, frozenset(k for k in changed if k is not None)

    def wait_past(self, cursor: str, timeout: float) -> bool:
        """Block until an entry newer than ``cursor`` arrives (or the cursor is
        not this log's: the caller must look again); False after ``timeout``."""
        epoch, _, number = cursor.partition(":")
        try:
            seen = int(number)
        except ValueError:
            return True
        if epoch != self.epoch:
            return True
        with self._grew:
            return self._grew.wait_for(lambda: self._last > seen, timeout=max(timeout, 0.0))

    def _append(self, key: ResourceKey | None) -> None:
        with self._lock:
            self._append_locked(key)

    def _append_locked(self, key: ResourceKey | None) -> None:
        if len(self._entries) == self._entries.maxlen:
            self._first += 1
        self._entries.append(key)
        self._last += 1
        self._grew.notify_all()
