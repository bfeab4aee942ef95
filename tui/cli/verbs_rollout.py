"""``gitwave rollout status|promote|abort APP``: drive an app's Argo Rollouts
as ``kubectl argo rollouts get|promote|abort`` do.

APP is an app gitwave synced: its newest history entry says which cluster it
went to, and its Rollouts are the live ones it owns there. Promote and abort
send the merge patches ``kubectl argo rollouts`` sends
(``engine.rollouts``), so on a cluster the Argo Rollouts controller acts on
them; on the sandbox its simulated controller does. Exit 0 when done, 1 for
an app or Rollout that cannot be found or patched, 2 for a target that
cannot be used (no kubeconfig) as every verb.
"""

from __future__ import annotations

from typing import Any

from gitwave.engine import operations, rollouts
from gitwave.engine.errors import GitwaveError
from gitwave.engine.router import ProviderRouter
from gitwave.tui.cli.app_listing import report_error
from gitwave.tui.cli.context import EXIT_FAILED, EXIT_OK, Context
from gitwave.tui.cli.output import dump, table
from gitwave.tui.cli.verbs_app import fail_unknown_app


def view_dict(view: rollouts.RolloutView) -> dict[str, Any]:
    return {
        "namespace": view.key.namespace,
        "name": view.key.name,
        "health": view.health.code.value,
        "healthMessage": view.health.message,
        "strategy": view.strategy,
        "step": view.step,
        "currentStep": view.current_step or None,
        "weight": view.weight,
        "paused": view.paused,
        "aborted": view.aborted,
        "stable": view.stable or None,
        "canary": view.canary or None,
    }


def _targets(ctx: Context, app: str) -> ProviderRouter:
    """The router of the cluster ``app`` was last synced to."""
    records = operations.history(ctx.store, app, limit=1)
    cluster = records[0].destination.partition("/")[0] if records else ""
    return ctx.fleet.targets_named(cluster, f"app {app}")


def _app_targets(ctx: Context) -> ProviderRouter | None:
    """The app's cluster, None for an app never synced (said already). A target
    that cannot be reached (no kubeconfig, ...) is bad input as for every other
    verb: its GitwaveError goes to main (exit 2, no app prefix)."""
    app = ctx.args.app_name
    if fail_unknown_app(ctx, app, what="syncs"):
        return None
    return _targets(ctx, app)


def _line(view: rollouts.RolloutView) -> str:
    health = view.health.code.value
    told = f": {view.health.message}" if view.health.message else ""
    return f"{view.key.namespace}/{view.key.name}: {health}{told}; {view.summary}"


def cmd_rollout_status(ctx: Context) -> int:
    """The app's Rollouts: health, step, weight."""
    targets = _app_targets(ctx)
    if targets is None:
        return EXIT_FAILED
    try:
        found = rollouts.app_rollouts(targets, ctx.args.app_name)
        views = [rollouts.rollout_view(live) for live in found]
    except GitwaveError as exc:
        report_error(ctx, ctx.args.app_name, exc)
        return EXIT_FAILED
    if ctx.output in ("json", "yaml"):
        ctx.out(dump([view_dict(v) for v in views], ctx.output))
        return EXIT_OK
    if not views:
        ctx.out(f"{ctx.args.app_name}: no Rollouts")
        return EXIT_OK
    rows = [
        [
            f"{v.key.namespace}/{v.key.name}",
            v.health.code.value,
            v.step,
            v.current_step or "-",
            f"{v.weight}%",
            v.health.message or "-",
        ]
        for v in views
    ]
    ctx.out(table(["rollout", "health", "step", "doing", "weight", "message"], rows))
    return EXIT_OK


def _act(ctx: Context, *, abort: bool) -> int:
    app = ctx.args.app_name
    targets = _app_targets(ctx)
    if targets is None:
        return EXIT_FAILED
    try:
        lives = rollouts.app_rollouts(targets, app)
        live = rollouts.choose_rollout(lives, app, ctx.args.rollout)
        if abort:
            view = rollouts.abort(targets, live)
        else:
            view = rollouts.promote(targets, live, full=ctx.args.full)
    except GitwaveError as exc:
        report_error(ctx, app, exc)
        return EXIT_FAILED
    done = "aborted" if abort else "fully promoted" if ctx.args.full else "promoted"
    if ctx.output in ("json", "yaml"):
        ctx.out(dump({"app": app, "action": done, **view_dict(view)}, ctx.output))
    else:
        # kubectl argo rollouts' own words first, then where the Rollout is now.
        ctx.out(f"rollout '{view.key.name}' {done}")
        ctx.out(_line(view))
    return EXIT_OK


def cmd_rollout_promote(ctx: Context) -> int:
    """Promote: past the current pause (or step), or ``--full`` past every step."""
    return _act(ctx, abort=False)


def cmd_rollout_abort(ctx: Context) -> int:
    """Abort: the canary is scaled down and the Rollout is Degraded."""
    return _act(ctx, abort=True)
