"""Hook runs: a hook runs once per (app, revision, hook content).

The ledger (``engine.loop_store.LoopStore``) keeps the hooks that succeeded;
``HookRecorder`` writes each one there the moment it succeeds, so a sync
resumed after a crash or a stop skips it, and ``plan_filters.without_done_hooks``
leaves recorded hooks out of the next run.
"""

from __future__ import annotations

import hashlib
import json
from typing import Protocol

from gitwave.engine.events import Event, EventKind, EventSink
from gitwave.engine.model import Action, HookPhase, Plan, Resource, ResourceKey, Task, Wave


class HookLedger(Protocol):
    """Where succeeded hook runs are kept (``LoopStore`` in production)."""

    def record_hook(self, app: str, revision: str, hook: str, *, instance: str) -> None:
        """Remember that ``hook`` of ``app`` succeeded at ``revision``."""
        ...

    def hooks_done(self, app: str, revision: str) -> frozenset[str]:
        """The hook ids of ``app`` recorded as succeeded at ``revision``."""
        ...


def hook_id(phase: HookPhase, resource: Resource) -> str:
    """How a hook is known in the hook-run records: its phase, key and content.

    The content digest makes an edited hook (watch mode, same commit) run
    again. A Secret used as a hook gets no digest: not even a digest of a
    secret value is kept."""
    text = f"{phase.value}:{resource.key}"
    if resource.is_secret:
        return text
    body = json.dumps(resource.manifest, sort_keys=True, separators=(",", ":"), default=str)
    return f"{text}@{hashlib.sha256(body.encode()).hexdigest()[:12]}"


def is_instance_of(instance: ResourceKey, task: Task) -> bool:
    """True when ``instance`` is the object a hook task created (a generateName
    hook's key carries the prefix as its name)."""
    if instance == task.key:
        return True
    generate = task.desired.metadata.get("generateName") if task.desired else None
    return (
        isinstance(generate, str)
        and (instance.group, instance.kind, instance.namespace)
        == (task.key.group, task.key.kind, task.key.namespace)
        and instance.name.startswith(generate)
    )


class HookRecorder:
    """An EventSink around the sync's own: records each hook as done the moment
    it succeeds, so a kill right after still finds the record."""

    def __init__(self, plan: Plan, ledger: HookLedger, sink: EventSink) -> None:
        self._plan = plan
        self._ledger = ledger
        self._sink = sink
        self._waves = {wave.label: wave for wave in plan.waves}
        self._wave: Wave | None = None

    def __call__(self, event: Event) -> None:
        if event.kind is EventKind.WAVE_STARTED:
            self._wave = self._waves.get(event.wave)
        elif (
            event.kind is EventKind.HOOK_FINISHED
            and event.message == "succeeded"
            and event.resource is not None
            and self._wave is not None
            and self._wave.phase is not HookPhase.SYNC_FAIL
        ):
            for task in self._wave.tasks:
                if (
                    task.action is Action.HOOK
                    and task.desired is not None
                    and is_instance_of(event.resource, task)
                ):
                    self._ledger.record_hook(
                        self._plan.app,
                        self._plan.revision,
                        hook_id(self._wave.phase, task.desired),
                        instance=str(event.resource),
                    )
                    break
        self._sink(event)
