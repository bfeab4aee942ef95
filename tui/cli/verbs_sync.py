"""``gitwave sync``: the apps of one location reconciled at once (``--concurrent``),
one line per app as it finishes, then the full report in app order.

Each app fails alone (see ``verbs_app``); a sync skips only the apps that
follow a failed one (dependsOn, later app-of-apps waves).
"""

from __future__ import annotations

import threading
from typing import Any

from gitwave.engine import operations
from gitwave.engine.app_choice import ChosenApp
from gitwave.engine.apps import AppSpec
from gitwave.engine.errors import GitwaveError
from gitwave.engine.fleet_run import (
    DEFAULT_CONCURRENT,
    Finished,
    Outcome,
    check_concurrent,
    run_fleet,
)
from gitwave.engine.router import ProviderRouter
from gitwave.engine.source import opened_once
from gitwave.tui.cli.context import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Context
from gitwave.tui.cli.findings import print_findings
from gitwave.tui.cli.output import (
    Progress,
    dump,
    finished_line,
    print_result,
    result_dict,
    short,
)
from gitwave.tui.cli.signals import interrupt_on_signals
from gitwave.tui.cli.verbs_app import (
    _both,
    _lock_notices,
    app_title,
    chosen_apps,
    destination_text,
    report_error,
)


def targets_for(ctx: Context, app: AppSpec) -> ProviderRouter:
    """The router ``app`` is reconciled through (its destination cluster's,
    shared by the apps going there): every app's router is asked for here."""
    return ctx.fleet.targets_for(app)


def cmd_sync(ctx: Context) -> int:
    """Sync the chosen apps, ``--concurrent`` at a time (``engine.fleet_run``:
    dependsOn and app-of-apps waves kept, one operation per app). With several
    apps, one line per app as it finishes, then the full report in app order."""
    concurrent = check_concurrent(getattr(ctx.args, "concurrent", DEFAULT_CONCURRENT))
    with opened_once():
        return _sync_fleet(ctx, concurrent)


def _sync_fleet(ctx: Context, concurrent: int) -> int:
    # An app whose destination is unknown fails alone, before anything of it is
    # rendered or connected to; the others sync (the exit code says one failed).
    entries = ctx.fleet.with_destination_errors(chosen_apps(ctx, removed=True))
    many = len(entries) > 1
    table_output = ctx.output not in ("json", "yaml")
    # One spinner line cannot follow several apps at once.
    progress = Progress(enabled=None if table_output and (concurrent == 1 or not many) else False)
    request = ctx.sync_request(dry_run=ctx.args.dry_run)
    sink = _both(progress, _lock_notices(ctx), ctx.timeline if not ctx.args.dry_run else None)
    destination = ctx.target_name if entries else ""

    def work(entry: ChosenApp) -> operations.Synced:
        app = entry.loaded()
        return operations.sync_app(
            app,
            targets=targets_for(ctx, app),
            store=ctx.store,
            request=request,
            ledger=ctx.loop_store,
            sink=sink,
        )

    def announce(done: Finished[operations.Synced]) -> None:
        progress.clear()
        if many and table_output:
            ctx.out(finished_line(done, destination))

    interrupt = threading.Event()
    with interrupt_on_signals(interrupt):
        finished = run_fleet(
            entries,
            work,
            name_of=lambda entry: entry.name,
            # A broken app fails at once: it waits for nothing.
            follows_of=lambda entry: entry.follows if entry.error is None else (),
            ok=lambda synced: synced.result.ok,
            concurrent=concurrent,
            interrupt=interrupt,
            on_finish=announce,
        )
    progress.clear()
    return _sync_report(ctx, entries, finished, destination)


def _sync_report(
    ctx: Context,
    entries: list[ChosenApp],
    finished: list[Finished[operations.Synced]],
    destination: str,
) -> int:
    """The full report of a sync, in app order; the exit code."""
    errors = failed = stopped = False
    bug: BaseException | None = None
    docs: list[dict[str, Any]] = []
    for entry, done in zip(entries, finished, strict=True):
        if done.outcome is Outcome.SKIPPED:
            failed = True
            line = f"{entry.name}: skipped, it follows {done.blocked_by}, which failed"
            if ctx.output in ("json", "yaml"):
                docs.append({"app": entry.name, "skipped": line})
            else:
                ctx.out(line)
            continue
        if done.outcome in (Outcome.INTERRUPTED, Outcome.NOT_STARTED):
            stopped = True
            continue
        if done.value is None:
            if not isinstance(done.error, GitwaveError):
                bug = bug or done.error
                continue
            report_error(ctx, entry.name, done.error, docs, "nothing applied")
            errors = failed = True
            continue
        synced = done.value
        state, result = synced.state, synced.result
        print_findings(ctx, state.findings)
        if ctx.output in ("json", "yaml"):
            docs.append(result_dict(result))
        else:
            app = state.app
            header = f"{app_title(app)} @ {short(result.revision)} -> "
            header += destination_text(ctx, app)
            ctx.out(ctx.paint(header, "bold") + (" (dry run)" if result.dry_run else ""))
            print_result(ctx.terminal, state.plan, result)
        if not result.ok:
            failed = True
        elif getattr(ctx.args, "wait", False) and not result.dry_run:
            from gitwave.tui.cli.verbs_wait import wait_after_sync  # it imports this module

            if not wait_after_sync(ctx, state.app, docs):
                failed = True
    if docs and ctx.output in ("json", "yaml"):
        ctx.out(dump(docs if len(docs) > 1 else docs[0], ctx.output))
    if bug is not None:
        raise bug  # a gitwave bug in one app: the others were reported first
    if stopped:
        raise KeyboardInterrupt  # exit 130, as a Ctrl-C on one app always did
    if errors:
        return EXIT_USAGE
    return EXIT_FAILED if failed else EXIT_OK
