"""What an app looks like now, as the front ends show it: the health of its
objects and of the app, and the one-line summaries of a plan and a sync.

Part of the operations layer (``engine.operations`` re-exports it): pure
readings of an ``AppState`` and a ``SyncResult``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitwave.engine.app_pipeline import AppState
from gitwave.engine.model import Action, Health, HealthCode, Plan, ResourceKey
from gitwave.engine.router import ProviderRouter

if TYPE_CHECKING:
    from gitwave.engine.sync import SyncResult  # a reading only: the executor is not needed


def plan_summary(plan: Plan) -> str:
    """``2 to create, 1 to update, 1 hook`` (only what is not zero), or ``no changes``."""
    counts = plan.counts()
    parts = [
        f"{counts[action]} to {verb}"
        for action, verb in ((Action.CREATE, "create"), (Action.UPDATE, "update"))
        if counts[action]
    ]
    if counts[Action.PRUNE]:
        parts.append(f"{counts[Action.PRUNE]} to prune")
    hooks = counts[Action.HOOK]
    if hooks:
        parts.append(f"{hooks} hook{'' if hooks == 1 else 's'}")
    return ", ".join(parts) if parts else "no changes"


def result_summary(result: SyncResult) -> str:
    """``Synced in 0.21s`` or ``Failed in 1.02s: <why>``."""
    took = f"{result.finished - result.started:.2f}s"
    if result.ok:
        return f"Synced in {took}"
    return f"{result.phase.value} in {took}: {result.message}"


def resource_healths(state: AppState, *, targets: ProviderRouter) -> dict[ResourceKey, Health]:
    """The health of each object of the app by its health rule (Argo CD's, or
    kstatus for a Flux app; ``engine.health.policy``): desired ones (absent:
    Missing; hooks not run yet are left out) and the ones the plan prunes."""
    healths: dict[ResourceKey, Health] = {}
    policy = state.app.health
    left_alone = frozenset(state.plan.left_alone)
    for key, live in state.live.items():
        if live is None:
            if not state.graph.is_hook(key) and key not in left_alone:
                healths[key] = Health(HealthCode.MISSING, f"{key.display} not found")
            continue
        provider_health = targets.for_live(live).health
        # Hooks are judged as Argo CD does whatever the app's rule: they must finish.
        healths[key] = (
            provider_health(live)
            if state.graph.is_hook(key)
            else policy.judge(live, provider_health)
        )
    for task in state.plan.tasks():
        if task.action is Action.PRUNE and task.live is not None:
            healths[task.key] = policy.judge(task.live, targets.for_live(task.live).health)
    return healths


def app_health(state: AppState, *, targets: ProviderRouter) -> Health:
    """The worst health of the app's desired objects (hooks left out; absent
    ones are Missing), each message naming its object."""
    healths = resource_healths(state, targets=targets)
    left_alone = frozenset(state.plan.left_alone)
    worst = []
    for key, live in state.live.items():
        if state.graph.is_hook(key) or (live is None and key in left_alone):
            continue
        health = healths.get(key, Health(HealthCode.MISSING, f"{key.display} not found"))
        if health.code is not HealthCode.HEALTHY and key.display not in health.message:
            health = Health(health.code, f"{key.display}: {health.message or health.code.value}")
        worst.append(health)
    return Health.worst(worst)
