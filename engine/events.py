"""Events: what happened, as values. The CLI, the TUI and the store render them.

A stage that emits events takes an ``EventSink`` — any callable taking an
Event — so a test can pass ``list.append``.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gitwave.engine.model import ResourceKey


class EventKind(enum.Enum):
    SOURCE_CHANGED = "SourceChanged"
    PLAN = "Plan"
    SYNC_STARTED = "SyncStarted"
    WAVE_STARTED = "WaveStarted"
    WAVE_FINISHED = "WaveFinished"
    RESOURCE_APPLIED = "ResourceApplied"
    RESOURCE_PRUNED = "ResourcePruned"
    HOOK_STARTED = "HookStarted"
    HOOK_FINISHED = "HookFinished"
    HEALTH_CHANGED = "HealthChanged"
    WAITING = "Waiting"
    DRIFT_DETECTED = "DriftDetected"
    HEAL = "Heal"
    ROLLBACK = "Rollback"
    SYNC_FINISHED = "SyncFinished"
    ERROR = "Error"
    # The long-running modes (engine/watch.py, engine/reconciler.py):
    CYCLE = "Cycle"  # one cycle of watch or run mode as one line: what changed → plan → result
    DRIFT_LOOP = "DriftLoop"  # a field healed again and again: healing of it stopped
    PIN = "Pin"  # an app pinned to a revision (after a rollback), or unpinned
    # A Warn or Audit finding of the policy stage (engine/policy), recorded as the sync starts.
    POLICY = "Policy"


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened. ``message`` never contains a secret value."""

    kind: EventKind
    app: str
    message: str = ""
    revision: str = ""
    resource: ResourceKey | None = None
    wave: str = ""
    time: float = field(default_factory=time.time)


EventSink = Callable[[Event], None]


def discard(event: Event) -> None:
    """An EventSink that drops everything."""
