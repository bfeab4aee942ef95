"""Hook runs: a hook runs once per (app, revision, hook content), even across a
``kill -9``.

The ledger (``engine.loop_store.LoopStore``) keeps two records per hook run:

- a **start**, written before the object is created: the concrete name gitwave
  chose for it (a generateName hook's name is chosen here, not by the
  server) and the operation's token, stamped on the object as
  ``gitwave.dev/hook-run`` (``with_hook_runs``);
- a **done** mark, written the moment the hook succeeds (the start goes).

``HookRecorder`` writes both from the sync's own events. A sync that starts
after a crash first calls ``adopt_in_flight``: a hook with a start and no done
mark whose object still carries the token is waited for (adopted), not
created again; one whose object never came to be is forgotten and runs as
usual. ``plan_filters.without_done_hooks`` leaves done hooks out of the next run.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from gitwave.engine.errors import GitwaveError
from gitwave.engine.events import Event, EventKind, EventSink
from gitwave.engine.interrupts import pause
from gitwave.engine.model import (
    Action,
    HealthCode,
    HookDeletePolicy,
    HookPhase,
    Plan,
    Propagation,
    Resource,
    ResourceKey,
    Task,
    Wave,
)
from gitwave.engine.router import ProviderRouter
from gitwave.engine.sync_hooks import delete_policies

# The operation that created a hook object: a restart adopts only an object
# carrying the token its start record names (not an older run's object of the
# same name).
ANNOTATION_HOOK_RUN = "gitwave.dev/hook-run"


@dataclass(frozen=True, slots=True)
class HookStart:
    """A hook about to be created, or created and not finished yet."""

    hook: str
    instance: str  # group/Kind/namespace/name of the object
    token: str  # the operation's mark on the object (ANNOTATION_HOOK_RUN)
    started: float


class HookLedger(Protocol):
    """Where hook runs are kept (``LoopStore`` in production)."""

    def record_hook(self, app: str, revision: str, hook: str, *, instance: str) -> None:
        """Remember that ``hook`` of ``app`` succeeded at ``revision`` (its start goes)."""
        ...

    def hooks_done(self, app: str, revision: str) -> frozenset[str]:
        """The hook ids of ``app`` recorded as succeeded at ``revision``."""
        ...

    def start_hook(self, app: str, revision: str, hook: str, *, instance: str, token: str) -> None:
        """Remember, before it is created, that ``hook`` starts as object ``instance``."""
        ...

    def drop_hook_start(self, app: str, revision: str, hook: str) -> None:
        """Forget the start of ``hook``: it failed, or its object never came to be."""
        ...

    def hooks_started(self, app: str, revision: str) -> Mapping[str, HookStart]:
        """The hooks of ``app`` started at ``revision`` and not finished, by hook id."""
        ...


def hook_id(phase: HookPhase, resource: Resource) -> str:
    """How a hook is known in the hook-run records: its phase, key and content.

    The content digest makes an edited hook (watch mode, same commit) run
    again; the operation's token is not content. A Secret used as a hook gets
    no digest: not even a digest of a secret value is kept."""
    text = f"{phase.value}:{resource.key}"
    if resource.is_secret:
        return text
    manifest = resource.manifest
    annotations = resource.annotations
    if ANNOTATION_HOOK_RUN in annotations:
        manifest = copy.deepcopy(dict(manifest))
        del manifest["metadata"]["annotations"][ANNOTATION_HOOK_RUN]
        if not manifest["metadata"]["annotations"]:
            del manifest["metadata"]["annotations"]
    body = json.dumps(manifest, sort_keys=True, separators=(",", ":"), default=str)
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


def with_hook_runs(plan: Plan, token: str) -> Plan:
    """``plan`` with every hook object marked as created by operation ``token``."""

    def mark(task: Task) -> Task:
        if task.action is not Action.HOOK or task.desired is None:
            return task
        manifest = copy.deepcopy(dict(task.desired.manifest))
        meta = manifest.setdefault("metadata", {})
        meta.setdefault("annotations", {})[ANNOTATION_HOOK_RUN] = token
        return replace(task, desired=replace(task.desired, manifest=manifest))

    waves = tuple(replace(w, tasks=tuple(mark(t) for t in w.tasks)) for w in plan.waves)
    return replace(plan, waves=waves)


class HookRecorder:
    """An EventSink around the sync's own: records each hook's start before its
    object is created and marks it done the moment it succeeds, so a kill at
    any point leaves a record the next sync understands."""

    def __init__(self, plan: Plan, ledger: HookLedger, sink: EventSink, *, token: str) -> None:
        self._plan = plan
        self._ledger = ledger
        self._sink = sink
        self._token = token
        self._waves = {wave.label: wave for wave in plan.waves}
        self._wave: Wave | None = None

    def __call__(self, event: Event) -> None:
        if event.kind is EventKind.WAVE_STARTED:
            self._wave = self._waves.get(event.wave)
        elif (
            event.kind in (EventKind.HOOK_STARTED, EventKind.HOOK_FINISHED)
            and event.resource is not None
            and self._wave is not None
            and self._wave.phase is not HookPhase.SYNC_FAIL
        ):
            self._note(event, self._wave, event.resource)
        self._sink(event)

    def _note(self, event: Event, wave: Wave, instance: ResourceKey) -> None:
        for task in wave.tasks:
            if (
                task.action is Action.HOOK
                and task.desired is not None
                and is_instance_of(instance, task)
            ):
                ident = hook_id(wave.phase, task.desired)
                app, revision = self._plan.app, self._plan.revision
                if event.kind is EventKind.HOOK_STARTED:
                    # HOOK_STARTED comes right before the object is created.
                    self._ledger.start_hook(
                        app, revision, ident, instance=str(instance), token=self._token
                    )
                elif event.message == "succeeded":
                    self._ledger.record_hook(app, revision, ident, instance=str(instance))
                else:
                    self._ledger.drop_hook_start(app, revision, ident)
                return


@dataclass(frozen=True, slots=True)
class Adopted:
    """What ``adopt_in_flight`` found: the hooks it saw finish and, when one of
    them failed, why (the sync then fails without creating anything)."""

    succeeded: tuple[ResourceKey, ...] = ()
    failed: str = ""


def adopt_in_flight(
    plan: Plan,
    ledger: HookLedger,
    *,
    targets: ProviderRouter,
    timeout_s: float,
    sink: EventSink,
    stop: threading.Event | None = None,
    poll_s: float = 0.2,
) -> Adopted:
    """Wait for the hooks of ``plan`` an interrupted sync started and did not
    see finish; each that succeeds is marked done (so the plan's run leaves
    it out) and gets its delete policy. A start whose object is gone, or is
    another run's object of the same name, is forgotten: that hook runs as
    usual. Returns the first failure (or a timeout) in ``Adopted.failed``."""
    started = ledger.hooks_started(plan.app, plan.revision)
    if not started:
        return Adopted()
    succeeded: list[ResourceKey] = []
    adoption = _Adoption(plan, ledger, targets, timeout_s, sink, stop, poll_s)
    for wave in plan.waves:
        if wave.phase is HookPhase.SYNC_FAIL:
            continue
        for task in wave.tasks:
            if task.action is not Action.HOOK or task.desired is None:
                continue
            ident = hook_id(wave.phase, task.desired)
            start = started.get(ident)
            if start is None:
                continue
            failed = adoption.one(task, ident, start)
            if failed is None:
                continue
            if failed:
                return Adopted(tuple(succeeded), failed)
            succeeded.append(ResourceKey.parse(start.instance))
    return Adopted(tuple(succeeded))


@dataclass(frozen=True, slots=True)
class _Adoption:
    """What waiting for the started hooks of one plan needs."""

    plan: Plan
    ledger: HookLedger
    targets: ProviderRouter
    timeout_s: float
    sink: EventSink
    stop: threading.Event | None
    poll_s: float

    def one(self, task: Task, ident: str, start: HookStart) -> str | None:
        """Wait for one started hook: None when there is nothing to adopt, ""
        when it succeeded, else why it failed."""
        plan, ledger, sink = self.plan, self.ledger, self.sink
        timeout_s, stop, poll_s = self.timeout_s, self.stop, self.poll_s
        assert task.desired is not None
        app, revision = plan.app, plan.revision
        key = ResourceKey.parse(start.instance)
        provider = self.targets.for_resource(task.desired)
        deadline = time.monotonic() + timeout_s
        announced = waited = False
        while True:
            try:
                live = provider.observe(key)
            except GitwaveError as exc:
                return f"{key.display}: hook started by an interrupted sync cannot be read: {exc}"
            if live is None or live.annotations.get(ANNOTATION_HOOK_RUN) != start.token:
                ledger.drop_hook_start(app, revision, ident)
                return None
            if not announced:
                announced = True
                sink(
                    Event(
                        EventKind.HOOK_STARTED,
                        app,
                        "adopted: started by an interrupted sync",
                        revision=revision,
                        resource=key,
                    )
                )
            health = provider.health(live)
            done = health.code.is_settled
            if done or health.code is HealthCode.DEGRADED:
                policies = delete_policies(task)
                if done:
                    ledger.record_hook(app, revision, ident, instance=str(key))
                else:
                    ledger.drop_hook_start(app, revision, ident)
                sink(
                    Event(
                        EventKind.HOOK_FINISHED,
                        app,
                        "succeeded" if done else "failed",
                        revision=revision,
                        resource=key,
                    )
                )
                wanted = HookDeletePolicy.HOOK_SUCCEEDED if done else HookDeletePolicy.HOOK_FAILED
                if wanted in policies:
                    provider.delete(key, propagation=Propagation.FOREGROUND)
                if done:
                    return ""
                why = health.message or health.code.value
                return f"{key.display}: hook started by an interrupted sync failed: {why}"
            if stop is not None and stop.is_set():
                return (
                    f"{key.display}: stopped while waiting for it (started by an interrupted sync)"
                )
            if time.monotonic() >= deadline:
                return (
                    f"{key.display}: hook started by an interrupted sync is still running "
                    f"after {timeout_s:g}s ({health})"
                )
            if not waited:
                waited = True
                sink(
                    Event(
                        EventKind.WAITING,
                        app,
                        f"waiting for {key.display} (started by an interrupted sync): {health}",
                        revision=revision,
                        resource=key,
                    )
                )
            pause(poll_s)
