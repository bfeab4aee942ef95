"""``gitwave suspend|resume APP``, Flux's verbs for pausing an app's reconciliation.

Suspend and resume set the same per-app auto-sync pause the TUI's pause key
sets (``engine.pauses.AutoSyncFlags``, ``STATE/autosync.json``): a running
``gitwave run`` reads it before every automated sync, so a suspended app is
reported and left alone until it is resumed, whoever paused it.
"""

from __future__ import annotations

from typing import Any

from gitwave.engine.pauses import AUTOSYNC_FILE, AutoSyncFlags
from gitwave.tui.cli.context import EXIT_FAILED, EXIT_OK, Context
from gitwave.tui.cli.event_lines import rfc3339
from gitwave.tui.cli.output import dump
from gitwave.tui.cli.verbs_app import fail_unknown_app


def _flags(ctx: Context) -> AutoSyncFlags:
    return AutoSyncFlags(ctx.state_dir / AUTOSYNC_FILE)


def _pause_dict(name: str, entry: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "app": name,
        "suspended": entry is not None,
        "by": (entry or {}).get("by"),
        "since": rfc3339(float(entry["at"])) if entry and "at" in entry else None,
    }


def _set(ctx: Context, *, suspend: bool) -> int:
    name = ctx.args.app_name
    if fail_unknown_app(ctx, name, what="syncs"):
        return EXIT_FAILED
    flags = _flags(ctx)
    before = flags.paused().get(name)
    if (before is not None) != suspend:
        flags.set_paused(name, suspend, now=ctx.clock())
    after = flags.paused().get(name)
    if ctx.output in ("json", "yaml"):
        ctx.out(dump(_pause_dict(name, after), ctx.output))
    elif suspend and before is not None:
        ctx.out(f"{name}: already suspended (by {before.get('by', '?')})")
    elif suspend:
        ctx.out(f"{name}: suspended: automated syncs and heals stop until `gitwave resume {name}`")
    elif before is None:
        ctx.out(f"{name}: not suspended")
    else:
        ctx.out(f"{name}: resumed: a running `gitwave run` syncs it again")
    return EXIT_OK


def cmd_suspend(ctx: Context) -> int:
    """Pause ``APP``'s automated syncs and heals, as ``flux suspend`` does."""
    return _set(ctx, suspend=True)


def cmd_resume(ctx: Context) -> int:
    """Lift a pause set by ``suspend`` or the TUI, as ``flux resume`` does."""
    return _set(ctx, suspend=False)
