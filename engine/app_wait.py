"""Waiting for an app to be Healthy (and Synced), as ``argocd app wait`` does:
``gitwave wait`` and ``gitwave sync --wait``.

Part of the operations layer. The app is rendered once; every round plans it
again against the live state (observe, diff) and reads its health by the
app's rule (``engine.health.policy``). The wait ends when what was asked
holds, when the app turns Degraded (it will not become Healthy by waiting),
or at the timeout.

Between rounds it sleeps as a sync's health wait does (``engine.change_sleep``):
where every target of the app's objects has a change feed it can sleep on (a
Kubernetes provider's list+watch caches, the sandbox's resource versions), it
sleeps until a change names one of the app's objects, so it plans again on
the watch event that may make the app Healthy and not before; elsewhere it
polls every ``poll_s``. The clock and the polling sleep are passed in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from gitwave.engine.app_pipeline import AppState
from gitwave.engine.app_status import app_health
from gitwave.engine.apps import AppSpec
from gitwave.engine.change_sleep import feeds_of, sleep_until_changed
from gitwave.engine.decryption_keys import render_for
from gitwave.engine.errors import GitwaveError
from gitwave.engine.model import Health, HealthCode, Plan, ResourceKey, SyncStatus
from gitwave.engine.provider import Provider
from gitwave.engine.router import ProviderRouter
from gitwave.engine.sync_request import SyncRequest

__all__ = ["WaitFor", "WaitOutcome", "wait_app"]

PlanFn = Callable[..., AppState]


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitFor:
    """What a caller waits for: ``health`` (Healthy), ``sync`` (Synced), and for how long."""

    health: bool = True
    sync: bool = False
    timeout_s: float = 300.0
    # Between rounds on targets without a change feed to sleep on.
    poll_s: float = 1.0


@dataclass(frozen=True, slots=True)
class WaitOutcome:
    """How a wait ended: ``ok`` when what was asked holds; the last health and
    sync status seen; ``message`` says why it ended."""

    app: str
    ok: bool
    health: Health
    sync: SyncStatus
    message: str
    waited_s: float

    @property
    def timed_out(self) -> bool:
        return not self.ok and self.health.code is not HealthCode.DEGRADED


def wait_app(
    app: AppSpec,
    want: WaitFor,
    *,
    targets: ProviderRouter,
    plan: PlanFn,
    on_progress: Callable[[str], None] = lambda line: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitOutcome:
    """Wait for ``app`` as ``want`` says. ``plan`` is ``operations.plan``
    (passed in: this module sits below the operations layer, which re-exports
    it). ``on_progress`` gets one line each time what the wait is waiting for
    changes. Raises GitwaveError when the app cannot be rendered or planned."""
    started = clock()
    rendered = None if app.removed_from else render_for(app, targets)
    last_line = ""
    # The targets the last plan's objects live on: their feeds' cursors are
    # taken before the next plan reads, so a change between that read and the
    # sleep still wakes it. The first round knows none yet and does not sleep.
    watched: list[Provider] | None = None
    while True:
        feeds = feeds_of(watched) if watched else None
        state = plan(app, SyncRequest(), targets=targets, rendered=rendered)
        health = app_health(state, targets=targets)
        sync = SyncStatus.of_plan(state.plan)
        waited = clock() - started
        health_ok = not want.health or health.code is HealthCode.HEALTHY
        sync_ok = not want.sync or sync is SyncStatus.SYNCED
        if health_ok and sync_ok:
            return WaitOutcome(app.name, True, health, sync, _reached(want, health, sync), waited)
        if want.health and health.code is HealthCode.DEGRADED:
            return WaitOutcome(
                app.name, False, health, sync, f"{app.name} is Degraded: {health.message}", waited
            )
        line = f"waiting for {app.name}: {_waiting_for(want, health, sync, health_ok, sync_ok)}"
        if line != last_line:
            on_progress(line)
            last_line = line
        if waited >= want.timeout_s:
            return WaitOutcome(
                app.name,
                False,
                health,
                sync,
                f"timed out after {want.timeout_s:g}s {line}",
                waited,
            )
        left = max(want.timeout_s - waited, 0.0)
        if feeds is not None:
            sleep_until_changed(feeds, _keys(state.plan), time.monotonic() + left)
        elif watched is None and feeds_of(found := _targets_of(state.plan, targets)) is not None:
            watched = found  # plan again at once, now with the cursors taken first
        else:
            sleep(min(want.poll_s, left))


def _keys(plan: Plan) -> frozenset[ResourceKey]:
    """The objects whose changes may change the app's health or sync status."""
    keys = {task.key for wave in plan.waves for task in wave.tasks}
    return frozenset(keys.union(plan.unpruned))


def _targets_of(plan: Plan, targets: ProviderRouter) -> list[Provider]:
    """The providers holding the plan's objects (none for an empty plan)."""
    found: dict[int, Provider] = {}
    for wave in plan.waves:
        for task in wave.tasks:
            try:
                if task.desired is not None:
                    provider = targets.for_resource(task.desired)
                elif task.live is not None:
                    provider = targets.for_live(task.live)
                else:
                    continue
            except GitwaveError:
                continue  # no target handles it: the plan said so already
            found.setdefault(id(provider), provider)
    return list(found.values())


def _reached(want: WaitFor, health: Health, sync: SyncStatus) -> str:
    parts = []
    if want.health:
        parts.append(health.code.value)
    if want.sync:
        parts.append(sync.value)
    return " and ".join(parts) or "done"


def _waiting_for(
    want: WaitFor, health: Health, sync: SyncStatus, health_ok: bool, sync_ok: bool
) -> str:
    parts = []
    if not health_ok:
        parts.append(f"health {health.code.value}, want Healthy ({health.message})")
    if not sync_ok:
        parts.append(f"sync {sync.value}, want Synced")
    return "; ".join(parts)
