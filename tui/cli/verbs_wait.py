"""``gitwave wait APP|PATH`` and ``gitwave sync --wait``: wait for apps to be
Healthy (and Synced), as ``argocd app wait`` does.

A progress line on stderr names what is waited for each time it changes; one
line per app on stdout says how it ended. Exit 0 when every app reached what
was asked, 1 when one timed out or turned Degraded, 2 for bad input (an app
that cannot be found or rendered).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitwave.engine import operations
from gitwave.engine.apps import AppSpec
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.sync_request import DEFAULT_WAVE_TIMEOUT_S
from gitwave.tui.cli.app_listing import chosen_apps, error_dict, report_error
from gitwave.tui.cli.app_or_path import known_location
from gitwave.tui.cli.context import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Context
from gitwave.tui.cli.output import dump


def _is_location(text: str) -> bool:
    """A directory, file or repository URL, as opposed to an app's name."""
    return "://" in text or text.startswith("git@") or Path(text).exists()


def outcome_dict(outcome: operations.WaitOutcome) -> dict[str, Any]:
    return {
        "app": outcome.app,
        "ok": outcome.ok,
        "health": outcome.health.code.value,
        "healthMessage": outcome.health.message,
        "sync": outcome.sync.value,
        "message": outcome.message,
        "waitedSeconds": round(outcome.waited_s, 3),
    }


def outcome_line(outcome: operations.WaitOutcome) -> str:
    if outcome.ok:
        return f"{outcome.app}: {outcome.message} (waited {outcome.waited_s:.1f}s)"
    return f"{outcome.app}: wait failed: {outcome.message}"


def wait_for(ctx: Context, app: AppSpec, want: operations.WaitFor) -> operations.WaitOutcome:
    """Wait for ``app``, telling stderr what it waits for."""
    return operations.wait(app, want, targets=ctx.targets, on_progress=ctx.err)


def timeout_for(ctx: Context, app: AppSpec) -> float:
    """``--timeout``, else the app's timeout (Flux ``spec.timeout``), else 300 s."""
    given = getattr(ctx.args, "timeout", None)
    return float(given or app.timeout_s or DEFAULT_WAVE_TIMEOUT_S)


def cmd_wait(ctx: Context) -> int:
    target = ctx.args.target_app
    only = tuple(ctx.args.app or ())
    if _is_location(target):
        ctx.args.path = target
    else:
        # APP: under --path, else where a sync or run last found it, else under .
        found = None if ctx.args.path else known_location(ctx, target)
        if found is not None and ctx.args.revision is None and found.revision:
            ctx.args.revision = found.revision
        ctx.args.path = ctx.args.path or (found.location if found else ".")
        only = (target,)
    ctx.args.app = list(only)
    health, sync = ctx.args.health, ctx.args.sync
    if not health and not sync:
        health = sync = True  # as argocd app wait without flags
    entries = chosen_apps(ctx)
    if not entries:
        error = ValidationError(
            ctx.args.path,
            f"no app named {', '.join(only)}" if only else "no apps here",
            hint=f"`gitwave status {ctx.args.path}` lists the apps there",
        )
        report_error(ctx, target, error)
        return EXIT_USAGE
    docs: list[dict[str, Any]] = []
    errors = failed = False
    for entry in entries:
        try:
            app = entry.loaded()
            want = operations.WaitFor(health=health, sync=sync, timeout_s=timeout_for(ctx, app))
            outcome = wait_for(ctx, app, want)
        except GitwaveError as exc:
            report_error(ctx, entry.name, exc, docs, "not waited for")
            errors = True
            continue
        failed = failed or not outcome.ok
        if ctx.output in ("json", "yaml"):
            docs.append(outcome_dict(outcome))
        else:
            ctx.out(outcome_line(outcome))
    if docs and ctx.output in ("json", "yaml"):
        ctx.out(dump(docs, ctx.output))  # a list of apps, even for one
    if errors:
        return EXIT_USAGE
    return EXIT_FAILED if failed else EXIT_OK


def wait_after_sync(ctx: Context, app: AppSpec, docs: list[dict[str, Any]]) -> bool:
    """``sync --wait``: after a sync that succeeded, wait for the app to be
    Healthy. True when it is; the outcome goes to stdout (or, as ``wait``, into
    the sync's own entry, the last of ``docs``)."""
    want = operations.WaitFor(health=True, timeout_s=timeout_for(ctx, app))
    try:
        outcome = wait_for(ctx, app, want)
    except GitwaveError as exc:
        report_error(ctx, app.name, exc)
        if ctx.output in ("json", "yaml") and docs:
            docs[-1]["wait"] = error_dict(app.name, exc)
        return False
    if ctx.output in ("json", "yaml") and docs:
        docs[-1]["wait"] = outcome_dict(outcome)  # beside the sync's own result
    elif ctx.output not in ("json", "yaml"):
        ctx.out(outcome_line(outcome))
    return outcome.ok
