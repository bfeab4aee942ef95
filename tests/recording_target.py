"""A target wrapper for tests of deletion order: every call goes to the real
provider; each delete is recorded with what the target itself holds at the
moment the delete starts.

To make a wrong order show every time (not only when threads happen to race
that way), the delete of ``hold`` waits until a delete of one of
``release_by`` has started (at most ``hold_s``): with a correct order those
deletes come only after ``hold`` is gone, so the wait just runs out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from gitwave.engine.model import ChangeSetEntry, Propagation, ResourceKey


@dataclass(frozen=True)
class DeleteCall:
    key: ResourceKey
    present: frozenset[ResourceKey]  # the watched objects the target held when it started


class RecordingTarget:
    def __init__(
        self,
        inner: Any,
        *,
        watch: Collection[ResourceKey],
        present: Callable[[ResourceKey], bool],
        hold: ResourceKey | None = None,
        release_by: Collection[ResourceKey] = (),
        hold_s: float = 2.0,
    ) -> None:
        self._inner = inner
        self._watch = tuple(watch)
        self._present = present
        self._hold = hold
        self._release_by = frozenset(release_by)
        self._hold_s = hold_s
        self._released = threading.Event()
        self._lock = threading.Lock()
        self.calls: list[DeleteCall] = []

    def __getattr__(self, name: str) -> Any:
        # Everything else (and every optional capability) is the real provider's.
        return getattr(self._inner, name)

    @property
    def name(self) -> str:
        return str(self._inner.name)

    def delete(
        self, key: ResourceKey, *, propagation: Propagation = Propagation.FOREGROUND
    ) -> ChangeSetEntry:
        if key == self._hold:
            self._released.wait(self._hold_s)
        held = frozenset(k for k in self._watch if self._present(k))
        with self._lock:
            self.calls.append(DeleteCall(key, held))
        if key in self._release_by:
            self._released.set()
        entry: ChangeSetEntry = self._inner.delete(key, propagation=propagation)
        return entry

    def call_for(self, key: ResourceKey) -> DeleteCall:
        found = [c for c in self.calls if c.key == key]
        assert found, f"no delete of {key.display}; deletes: {[c.key.display for c in self.calls]}"
        return found[0]
