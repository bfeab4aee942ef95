"""Waits in a sync: a wave's objects until they are healthy (by the app's
health rule, ``engine.health.policy``), a deleted object until it is gone; and
the one reading of objects a sync reports without waiting for them.

A wave whose objects all live on targets with a change feed they can sleep on
(``ChangeWaiter``: a Kubernetes provider's list+watch caches, one per cluster
and type, shared by every app) observes them, then sleeps until a watch event
names one of them: the wait ends on the event that makes the object healthy,
and reads nothing while nothing happens. Other targets are polled, starting
fast and backing off to ``max_poll_interval_s``."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Collection, Mapping, Sequence

from gitwave.engine.change_sleep import feeds_of, sleep_until_changed
from gitwave.engine.errors import ProviderError
from gitwave.engine.events import EventKind
from gitwave.engine.interrupts import pause
from gitwave.engine.model import Action, Health, HealthCode, Live, Resource, ResourceKey
from gitwave.engine.provider import Provider
from gitwave.engine.router import observe_all
from gitwave.engine.sync_run import SyncRun, WaveFailed
from gitwave.engine.why import Chain, chain_through


def wait_healthy(
    run: SyncRun,
    label: str,
    applied: Mapping[ResourceKey, Resource],
    *,
    hooks: Collection[ResourceKey] = frozenset(),
) -> None:
    """Block until every object of ``applied`` is settled; raise WaveFailed on
    Degraded or on the wave timeout, naming the blocking resource.

    Objects are judged by the app's health rule (``run.options.health``);
    ``hooks`` always by Argo CD's checks: a hook must finish, and kstatus
    calls a running Job current."""
    began = time.monotonic()
    deadline = began + run.options.wave_timeout_s
    pending = dict(applied)
    interval = 0.02
    last_blocker = ""
    last_said = began
    while pending:
        # The feeds' cursors are taken before the read, so an event arriving
        # between the read and the sleep still wakes it.
        feeds = feeds_of(run.targets.for_resource(r) for r in pending.values())
        # One bulk read a round where the target offers it: a wave of thousands
        # of objects is polled several times.
        observed = observe_all(pending.values(), run.targets, parallelism=run.options.parallelism)
        for key, resource in list(pending.items()):
            health = _judge(run, resource, observed[key], hook=key in hooks)
            _note(run, key, health, label)
            if health.code.is_settled:
                del pending[key]
            elif health.code is HealthCode.DEGRADED:
                raise WaveFailed(f"{key.display} is Degraded: {health.message}", key=key)
        if not pending:
            break
        blocker_key = min(pending)
        blocker = f"waiting for {blocker_key.display}: {run.healths[blocker_key]}"
        now = time.monotonic()
        # Said when it changes, and again every progress interval while it holds.
        if blocker != last_blocker or now - last_said >= run.options.progress_interval_s:
            others = f" (and {len(pending) - 1} more)" if len(pending) > 1 else ""
            run.emit(
                EventKind.WAITING,
                f"waiting for {_chain(run, blocker_key, now - began)}{others}",
                resource=blocker_key,
                wave=label,
            )
            last_blocker, last_said = blocker, now
        if now >= deadline:
            raise WaveFailed(
                f"{label} timed out after {run.options.wave_timeout_s:g}s {blocker}",
                key=blocker_key,
            )
        if feeds is not None:
            # Woken by an event, else in time for the next progress line.
            wake = min(deadline, last_said + run.options.progress_interval_s)
            sleep_until_changed(feeds, frozenset(pending), wake)
            continue
        pause(interval)
        interval = min(interval * 2, run.options.max_poll_interval_s)


def _chain(run: SyncRun, key: ResourceKey, waited_s: float) -> str:
    """The whole chain ``key`` is on (``engine.why.chain_through``): from what
    the operator waits for (an object of a later step, not applied yet) down
    to the object holding it, with how long this wave has waited."""
    if run.graph is None or key not in run.graph.facts:
        return Chain((key,), run.healths[key], waited_s).text()
    chain = chain_through(run.graph, _with_unapplied(run), key)
    return dataclasses.replace(chain, for_s=waited_s).text()


_NOT_APPLIED = Health(HealthCode.MISSING, "not applied yet")
_NOT_UPDATED = Health(HealthCode.PROGRESSING, "not applied yet")


def _with_unapplied(run: SyncRun) -> dict[ResourceKey, Health]:
    """The healths seen so far, and the objects later waves will create or
    update as waiting: the sync waits for them too (an unchanged object is
    left out: it is as it was, nothing says it waits)."""
    healths = dict(run.healths)
    for task in run.plan.tasks():
        if task.key in healths:
            continue
        if task.action is Action.CREATE:
            healths[task.key] = _NOT_APPLIED
        elif task.action is Action.UPDATE:
            healths[task.key] = _NOT_UPDATED
    return healths


def note_healths(run: SyncRun, label: str, applied: Mapping[ResourceKey, Resource]) -> None:
    """Read once the health of objects the sync does not wait for (the last
    wave's, as Argo CD reports them): recorded and announced, never a failure."""
    if not applied:
        return
    observed = observe_all(applied.values(), run.targets, parallelism=run.options.parallelism)
    for key, resource in applied.items():
        _note(run, key, _judge(run, resource, observed[key], hook=False), label)


def _judge(run: SyncRun, resource: Resource, live: Live | None, *, hook: bool) -> Health:
    if live is None:
        return Health(HealthCode.MISSING, "not found")
    provider = run.targets.for_resource(resource)
    if hook:
        return provider.health(live)
    return run.options.health.judge(live, provider.health)


def _note(run: SyncRun, key: ResourceKey, health: Health, label: str) -> None:
    if run.healths.get(key) != health:
        run.healths[key] = health
        run.emit(EventKind.HEALTH_CHANGED, str(health), resource=key, wave=label)


def still_present(key: ResourceKey, live: Live) -> str:
    """Why a deleted object is still there, naming what holds it:
    ``ConfigMap/ns/x is still terminating: waiting on finalizer example.com/keep``."""
    meta = live.manifest.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    raw = meta.get("finalizers")
    names = [str(f) for f in raw] if isinstance(raw, list) else []
    if not meta.get("deletionTimestamp"):
        return f"{key.display} is still present: its deletion has not started"
    if not names:
        return f"{key.display} is still terminating"
    which = f"finalizer{'s' if len(names) > 1 else ''} {', '.join(names)}"
    return f"{key.display} is still terminating: waiting on {which}"


FINALIZER_HINT = (
    "the controller that owns the finalizer removes it when its cleanup is done: check that "
    "it runs; to give up on the cleanup, remove the finalizer (kubectl patch KIND NAME "
    '--type=json -p \'[{"op":"remove","path":"/metadata/finalizers"}]\')'
)


def await_deleted(run: SyncRun, provider: Provider, key: ResourceKey) -> None:
    """Block until ``key`` is gone; ProviderError after the wave timeout,
    naming the finalizers that hold it."""
    deadline = time.monotonic() + run.options.wave_timeout_s
    interval = 0.02
    while True:
        feeds = feeds_of([provider])
        if (live := provider.observe(key)) is None:
            return
        if time.monotonic() >= deadline:
            text = (
                f"{still_present(key, live)} ({run.options.wave_timeout_s:g}s after it was deleted)"
            )
            error = ProviderError(key, text)
            error.message, error.args = text, (text,)  # the text names the object already
            error.hint = FINALIZER_HINT
            raise error
        if feeds is not None:
            sleep_until_changed(feeds, frozenset([key]), deadline)
            continue
        pause(interval)
        interval = min(interval * 2, run.options.max_poll_interval_s)


def wait_absent(run: SyncRun, keys: Sequence[tuple[ResourceKey, Live]]) -> None:
    """Block until every pruned object is gone; WaveFailed after the wave
    timeout, naming the first one left and the finalizers holding it."""
    deadline = time.monotonic() + run.options.wave_timeout_s
    pending = list(keys)
    interval = 0.02
    while pending:
        feeds = feeds_of(run.targets.for_live(live) for _, live in pending)
        left: list[tuple[ResourceKey, Live]] = []
        for key, live in pending:
            current = run.targets.for_live(live).observe(key)
            if current is not None:
                left.append((key, current))
        pending = left
        if not pending:
            return
        if time.monotonic() >= deadline:
            first, held = pending[0]
            raise WaveFailed(
                f"prune timed out after {run.options.wave_timeout_s:g}s: "
                + still_present(first, held),
                key=first,
            )
        if feeds is not None:
            sleep_until_changed(feeds, frozenset(key for key, _ in pending), deadline)
            continue
        pause(interval)
        interval = min(interval * 2, run.options.max_poll_interval_s)
