"""Promote and abort an Argo Rollout from the Application screen.

``P`` promotes the selected Rollout (past its pause or step), ``A`` aborts
it; each asks first in a ConfirmScreen that shows where the Rollout is (step,
weight, health) and what the key will do, as ``kubectl argo rollouts
promote|abort`` would. The patches are ``engine.rollouts``' (the same the CLI
sends); the Rollouts controller, or the sandbox playing it, acts on them.
"""

from __future__ import annotations

import asyncio
import enum
from typing import TYPE_CHECKING

from gitwave.engine import rollouts
from gitwave.engine.errors import GitwaveError
from gitwave.engine.model import Live, ResourceKey
from gitwave.engine.router import ProviderRouter
from gitwave.tui.screens.modals import ConfirmScreen

if TYPE_CHECKING:
    from gitwave.tui.app import GitwaveApp
    from gitwave.tui.screens.base import GitwaveScreen


class RolloutAction(enum.Enum):
    PROMOTE = "promote"
    ABORT = "abort"

    @property
    def question(self) -> str:
        return "Promote" if self is RolloutAction.PROMOTE else "Abort"

    def explain(self, view: rollouts.RolloutView) -> str:
        if self is RolloutAction.ABORT:
            return (
                "The canary is scaled down and traffic goes back to the stable pods;\n"
                "the Rollout stays Degraded until its template changes\n"
                "(as `kubectl argo rollouts abort`)."
            )
        if view.paused:
            return (
                "The pause ends and the Rollout goes on with its next step\n"
                "(as `kubectl argo rollouts promote`)."
            )
        return "The current step is skipped (as `kubectl argo rollouts promote`)."


def _observe(gw: GitwaveApp, app_name: str, key: ResourceKey) -> tuple[ProviderRouter, Live]:
    targets = gw.controller.fleet.targets_for(gw.controller.app(app_name))
    live = targets.for_kind(rollouts.ROLLOUT_API_VERSION, key.kind).observe(key)
    if live is None:
        raise rollouts.RolloutError(f"{key.display} is not on the target")
    return targets, live


def _live_view(gw: GitwaveApp, app_name: str, key: ResourceKey) -> rollouts.RolloutView:
    return rollouts.rollout_view(_observe(gw, app_name, key)[1])


def _act(
    gw: GitwaveApp, app_name: str, key: ResourceKey, action: RolloutAction
) -> rollouts.RolloutView:
    targets, live = _observe(gw, app_name, key)
    if action is RolloutAction.ABORT:
        return rollouts.abort(targets, live)
    return rollouts.promote(targets, live)


def start(
    screen: GitwaveScreen, app_name: str, key: ResourceKey | None, action: RolloutAction
) -> None:
    """Ask, then promote or abort the Rollout ``key`` (a worker of ``screen``)."""
    gw = screen.gw
    if gw.read_only:
        screen.notify("read-only: rollouts cannot be promoted or aborted", severity="warning")
        return
    if key is None or not rollouts.is_rollout(key):
        screen.notify(f"select a Rollout to {action.value}", severity="warning")
        return
    screen.run_worker(_flow(screen, app_name, key, action), group="rollout", exclusive=True)


async def _flow(
    screen: GitwaveScreen, app_name: str, key: ResourceKey, action: RolloutAction
) -> None:
    gw = screen.gw
    try:
        view = await asyncio.to_thread(_live_view, gw, app_name, key)
    except GitwaveError as exc:
        screen.engine_failed(exc)
        return
    body = (
        f"{key.display}\n"
        f"  health  {view.health}\n"
        f"  now     {view.summary}\n\n"
        f"{action.explain(view)}\n"
    )
    confirm = ConfirmScreen(
        f"{action.question} {key.name}?", body, yes=action.question, compact=True
    )
    if not await gw.push_screen_wait(confirm):
        screen.notify(f"{key.name}: {action.value} cancelled")
        return
    try:
        after = await asyncio.to_thread(_act, gw, app_name, key, action)
    except GitwaveError as exc:
        screen.engine_failed(exc)
        return
    done = "aborted" if action is RolloutAction.ABORT else "promoted"
    screen.notify(f"rollout '{key.name}' {done}: {after.health.code.value}, {after.summary}")
    gw.changed_signal.publish(app_name)
