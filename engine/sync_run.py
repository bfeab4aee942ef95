"""One running sync: its options, its mutable state, and the exception that
stops it. Shared by the wave executor (sync.py), its hooks (sync_hooks.py) and
its waits (sync_waits.py)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gitwave.engine.events import Event, EventKind, EventSink
from gitwave.engine.health.policy import HealthPolicy
from gitwave.engine.model import (
    Action,
    ChangeAction,
    ChangeSetEntry,
    Health,
    Plan,
    Propagation,
    Resource,
    ResourceKey,
)
from gitwave.engine.router import ProviderRouter

if TYPE_CHECKING:
    from gitwave.engine.graph import ResourceGraph


@dataclass(frozen=True, slots=True)
class SyncOptions:
    dry_run: bool = False
    propagation: Propagation = Propagation.FOREGROUND
    create_namespace: bool = False
    # The app opted into taking over fields other appliers own (Force=true).
    force_conflicts: bool = False
    wave_timeout_s: float = 300.0
    parallelism: int = 8
    # Polls start fast (the sandbox settles in ~1 s) and back off to this cap.
    max_poll_interval_s: float = 0.5
    # Set by a signal handler: the running wave finishes, no next wave starts,
    # and the result is Terminated (a safe point: nothing half-applied).
    stop: threading.Event | None = None
    # The app's health rule: how objects are judged and which ones a wave waits for.
    health: HealthPolicy = field(default_factory=HealthPolicy)
    # A wave that waits says so again this often (Waiting events), even when
    # nothing changed: a CI log is never silent for minutes.
    progress_interval_s: float = field(default_factory=lambda: progress_interval())


# GITWAVE_PROGRESS_INTERVAL shortens it (tests of the streamed output).
DEFAULT_PROGRESS_INTERVAL_S = 10.0


def progress_interval() -> float:
    """How often a waiting wave reports what it waits on (seconds)."""
    raw = os.environ.get("GITWAVE_PROGRESS_INTERVAL", "")
    try:
        value = float(raw) if raw else DEFAULT_PROGRESS_INTERVAL_S
    except ValueError:
        return DEFAULT_PROGRESS_INTERVAL_S
    return value if value > 0 else DEFAULT_PROGRESS_INTERVAL_S


class WaveFailed(Exception):
    """A wave failed; carries the reason (and the object that blocked it, if
    one did) to the sync loop."""

    def __init__(self, message: str, *, key: ResourceKey | None = None) -> None:
        super().__init__(message)
        self.key = key


@dataclass
class SyncRun:
    """Mutable state of one running sync (made and owned by execute())."""

    plan: Plan
    targets: ProviderRouter
    options: SyncOptions
    sink: EventSink
    entries: list[ChangeSetEntry] = field(default_factory=list)
    healths: dict[ResourceKey, Health] = field(default_factory=dict)
    hooks_run: list[ResourceKey] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    namespaces_created: frozenset[str] = frozenset()
    bind: Callable[[Resource], Resource] = lambda resource: resource
    # The app's graph, when the caller has it: a wait names the chain that holds it.
    graph: ResourceGraph | None = None
    retry_after_s: float = 0.0  # the longest delay a target asked for (HTTP 429)

    def __post_init__(self) -> None:
        self.namespaces_created = _namespaces_created(self.plan)

    def emit(
        self,
        kind: EventKind,
        message: str = "",
        *,
        resource: ResourceKey | None = None,
        wave: str = "",
    ) -> None:
        self.sink(
            Event(
                kind=kind,
                app=self.plan.app,
                revision=self.plan.revision,
                message=message,
                resource=resource,
                wave=wave,
            )
        )

    def record(self, entry: ChangeSetEntry) -> None:
        with self.lock:
            self.entries.append(entry)

    def mark_failed(self, key: ResourceKey, message: str) -> None:
        """Turn ``key``'s entry into a failure: it was applied, but it blocked
        the sync (Degraded, or not healthy in time). Keeps its diff and live."""
        with self.lock:
            for i, entry in enumerate(self.entries):
                if entry.key == key:
                    self.entries[i] = ChangeSetEntry(
                        key, ChangeAction.FAILED, message, entry.changes, entry.live
                    )
                    return
            self.entries.append(ChangeSetEntry(key, ChangeAction.FAILED, message))


def _namespaces_created(plan: Plan) -> frozenset[str]:
    return frozenset(
        t.key.name
        for t in plan.tasks()
        if t.action is Action.CREATE and t.key.kind == "Namespace" and t.key.group == ""
    )
