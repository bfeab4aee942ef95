"""What every part of ``SandboxProvider`` stands on: the state directory, the
lock, the write transactions and the typed errors for database trouble.

``SandboxProvider`` (``provider``) answers the Provider protocol on top of
this; ``edits`` (kubectl's out-of-band writes) and ``feed`` (the change feed)
are its other jobs, each a class on this one, so the three share one lock and
one ``Store`` without reaching into each other.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from gitwave.engine.errors import ProviderError, UnreachableError
from gitwave.engine.model import Live, ResourceKey

from .lifecycle import Lifecycle
from .schema import Row
from .sealed import SealedSecretController
from .store import Store

STATE_FILE = "sandbox.db"


def default_state_dir() -> Path:
    """Where the sandbox keeps its state: ``$GITWAVE_STATE``, else
    ``$XDG_STATE_HOME/gitwave``, else ``~/.local/state/gitwave``."""
    explicit = os.environ.get("GITWAVE_STATE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_STATE_HOME")
    if xdg:
        return Path(xdg) / "gitwave"
    return Path.home() / ".local" / "state" / "gitwave"


class SandboxCore:
    """The sandbox's state, its lock and its transactions (the arguments:
    ``SandboxProvider``)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        rollout_seconds: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state_dir = Path(state_dir)
        self._rollout = max(float(rollout_seconds), 0.0)
        self._clock = clock
        self._lock = threading.RLock()
        # What ``observe_many`` decoded, by key: (resource version, object).
        self._live_cache: dict[ResourceKey, tuple[int, Live]] = {}
        # Threads waiting for the lock: while there are some, commits are grouped.
        self._queue_lock = threading.Lock()
        self._queued = 0
        self._store = Store(self.state_dir / STATE_FILE)
        self.sealed_secrets = SealedSecretController(self.state_dir)
        self._objects = Lifecycle(
            self._store,
            rollout_seconds=self._rollout,
            clock=self._clock,
            sealed_secrets=self.sealed_secrets,
        )
        with self._guard(), self._store.write():
            if self._store.current_rv() == 0:
                self._objects.bootstrap(self._clock())

    def close(self) -> None:
        """Close the database; the provider is unusable afterwards."""
        with self._lock:
            self._store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group every write of this provider (from any thread) into one commit.

        Makes bulk applies fast. While the batch is open, other processes wait
        to write (they still read); a failed operation inside it is rolled back
        on its own, and an exception out of the block rolls back everything."""
        with self._guard():
            self._store.begin_batch()
        committed = False
        try:
            yield
            committed = True
        finally:
            with self._guard():
                self._store.end_batch(commit=committed)

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Serialise threads; report database trouble as typed errors."""
        with self._queue_lock:
            self._queued += 1
        with self._lock:
            with self._queue_lock:
                self._queued -= 1
            try:
                try:
                    yield
                finally:
                    self._store.flush(more_coming=self._queued > 0)
            except sqlite3.OperationalError as exc:
                # Locked for too long, disk full, …: trying again later can help.
                raise UnreachableError(f"sandbox ({self.state_dir})", str(exc)) from exc
            except sqlite3.Error as exc:
                raise ProviderError(None, f"sandbox state is damaged: {exc}") from exc

    def _existing(self, key: ResourceKey) -> Row:
        row = self._store.get(key)
        if row is None:
            raise ProviderError(key, "not found in the sandbox")
        return row
