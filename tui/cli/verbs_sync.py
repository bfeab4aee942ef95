"""``gitwave sync``: the apps of one location reconciled at once (``--concurrent``),
one line per app as it finishes, then the full report in app order.

Each app fails alone (see ``verbs_app``); a sync skips only the apps that
follow a failed one (dependsOn, later app-of-apps waves).
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.text import Text

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
from gitwave.engine.model import ChangeSet, Plan
from gitwave.engine.router import ProviderRouter
from gitwave.engine.source import opened_once
from gitwave.engine.store import INTERRUPTED
from gitwave.engine.sync import SyncResult
from gitwave.tui.cli.app_listing import app_title, chosen_apps, refuse_empty, report_error
from gitwave.tui.cli.app_or_path import remember_found
from gitwave.tui.cli.context import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Context
from gitwave.tui.cli.findings import print_findings
from gitwave.tui.cli.output import Progress, dump, short
from gitwave.tui.cli.signals import interrupt_on_signals
from gitwave.tui.cli.sync_results import finished_line, print_result, result_dict, summary_line
from gitwave.tui.cli.sync_stream import Board, SyncStream, stream_console
from gitwave.tui.cli.verbs_app import _both, _lock_notices, destination_text


def targets_for(ctx: Context, app: AppSpec) -> ProviderRouter:
    """The router ``app`` is reconciled through (its destination cluster's,
    shared by the apps going there): every app's router is asked for here."""
    return ctx.fleet.targets_for(app)


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What the final report prints of one app's sync, kept from the moment it
    finishes until every app has: the app, its policy findings, the plan's
    waves (keys and actions only) and the result (entries without their diffs
    or live objects). A 1000-app sync would otherwise hold every app's
    rendered, composed, graphed and observed objects until the end."""

    app: AppSpec
    findings: tuple[Any, ...]
    plan: Plan
    result: SyncResult

    @classmethod
    def of(cls, synced: operations.Synced) -> SyncReport:
        state = synced.state
        return cls(state.app, state.findings, _keys_only(state.plan), _lean(synced.result))


def _keys_only(plan: Plan) -> Plan:
    """``plan`` with each task's key and action only: all ``print_result`` reads."""
    waves = tuple(
        dataclasses.replace(
            wave,
            tasks=tuple(
                dataclasses.replace(t, desired=None, live=None, changes=(), facts=None)
                for t in wave.tasks
            ),
        )
        for wave in plan.waves
    )
    return dataclasses.replace(plan, waves=waves)


def _lean(result: SyncResult) -> SyncResult:
    """``result`` without each entry's field changes and live object (the
    history row already has them; the report prints key, action, message)."""
    entries = tuple(dataclasses.replace(e, changes=(), live=None) for e in result.changeset.entries)
    return dataclasses.replace(result, changeset=ChangeSet(entries))


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
    # `gitwave status APP` (any verb taking a PATH) then finds the app from anywhere.
    found = [e.name for e in entries if e.spec is not None and not e.spec.removed_from]
    remember_found(ctx, found, location=ctx.args.path, revision=ctx.args.revision)
    many = len(entries) > 1
    table_output = ctx.output not in ("json", "yaml")
    dry_run = bool(ctx.args.dry_run)
    # Lines as they happen (sync_stream): every line at once when one app runs
    # at a time, else only the waits, each app's lines kept for the report.
    streaming = table_output and not dry_run
    echo = streaming and (concurrent == 1 or not many)
    board = Board(stream_console()) if streaming and sys.stdout.isatty() else None
    # One spinner line cannot follow several apps at once; the board replaces it.
    spinner = table_output and board is None and not streaming and (concurrent == 1 or not many)
    progress = Progress(enabled=None if spinner else False)
    request = ctx.sync_request(dry_run=ctx.args.dry_run)
    shared = _both(progress, _lock_notices(ctx), ctx.timeline if not ctx.args.dry_run else None)
    destination = ctx.target_name if entries else ""
    streams: dict[str, SyncStream] = {}

    def work(entry: ChosenApp) -> SyncReport:
        app = entry.loaded()
        sink = shared
        # An empty directory is an error when it is all there is (as `plan`).
        on_plan: Callable[[operations.AppState], None] | None = None if many else refuse_empty
        if streaming:

            def header(revision: str, app: AppSpec = app) -> Text:
                text = f"{app_title(app)} @ {short(revision)} -> {destination_text(ctx, app)}"
                return ctx.paint(text, "bold")

            stream = streams[entry.name] = SyncStream(
                ctx.terminal, app=entry.name, header=header, echo=echo, board=board
            )
            sink = _both(shared, stream)

            def on_plan(state: operations.AppState, stream: SyncStream = stream) -> None:
                if not many:
                    refuse_empty(state)
                if echo:  # said before the sync starts, as it is found
                    print_findings(ctx, state.findings)
                stream.planned(state.plan)

        synced = operations.sync_app(
            app,
            targets=targets_for(ctx, app),
            store=ctx.store,
            request=request,
            ledger=ctx.loop_store,
            sink=sink,
            on_plan=on_plan,
        )
        return SyncReport.of(synced)

    def announce(done: Finished[SyncReport]) -> None:
        progress.clear()
        if many and table_output:
            line = finished_line(done, destination)
            if board is not None:
                board.print(line)
            else:
                ctx.out(line)

    interrupt = threading.Event()
    try:
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
    finally:
        progress.clear()
        if board is not None:
            board.close()
    return _sync_report(ctx, entries, finished, destination, streams)


def _sync_report(
    ctx: Context,
    entries: list[ChosenApp],
    finished: list[Finished[SyncReport]],
    destination: str,
    streams: dict[str, SyncStream] | None = None,
) -> int:
    """The full report of a sync, in app order; the exit code."""
    streams = streams or {}
    errors = failed = stopped = False
    bug: BaseException | None = None
    docs: list[dict[str, Any]] = []
    for entry, done in zip(entries, finished, strict=True):
        stream = streams.get(entry.name)
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
            partial = getattr(done.error, "partial", None)
            if isinstance(partial, SyncResult):
                _report_interrupted(ctx, partial, stream, docs)
            continue
        if done.value is None:
            if not isinstance(done.error, GitwaveError):
                bug = bug or done.error
                continue
            report_error(ctx, entry.name, done.error, docs, "nothing applied")
            errors = failed = True
            continue
        report = done.value
        result = report.result
        if stream is None or not stream.echo:
            print_findings(ctx, report.findings)
        if ctx.output in ("json", "yaml"):
            docs.append(result_dict(result))
        elif stream is not None and stream.began:
            _report_streamed(ctx, stream, result)
        else:
            header = f"{app_title(report.app)} @ {short(result.revision)} -> "
            header += destination_text(ctx, report.app)
            ctx.out(ctx.paint(header, "bold") + (" (dry run)" if result.dry_run else ""))
            print_result(ctx.terminal, report.plan, result)
        if not result.ok:
            failed = True
        elif getattr(ctx.args, "wait", False) and not result.dry_run:
            from gitwave.tui.cli.verbs_wait import wait_after_sync  # it imports this module

            if not wait_after_sync(ctx, report.app, docs):
                failed = True
    if docs and ctx.output in ("json", "yaml"):
        ctx.out(dump(docs, ctx.output))  # a list of apps, even for one
    if bug is not None:
        raise bug  # a gitwave bug in one app: the others were reported first
    if stopped:
        raise KeyboardInterrupt  # exit 130, as a Ctrl-C on one app always did
    if errors:
        return EXIT_USAGE
    return EXIT_FAILED if failed else EXIT_OK


def _report_streamed(
    ctx: Context, stream: SyncStream, result: SyncResult, *, phase: str = ""
) -> None:
    """A streamed sync's report: its lines unless they were printed as they
    came, what no event said, and the summary line."""
    if not stream.echo:
        for line in stream.lines:
            ctx.out(line)
    for line in stream.leftovers(result):
        ctx.out(line)
    ctx.out(summary_line(ctx.terminal, result, phase=phase))


def _report_interrupted(
    ctx: Context, partial: SyncResult, stream: SyncStream | None, docs: list[dict[str, Any]]
) -> None:
    """What a sync stopped by Ctrl-C applied before it stopped (also in its history row)."""
    if ctx.output in ("json", "yaml"):
        docs.append({**result_dict(partial), "phase": INTERRUPTED})
    elif stream is not None and stream.began:
        _report_streamed(ctx, stream, partial, phase=INTERRUPTED)
    else:
        ctx.out(summary_line(ctx.terminal, partial, phase=INTERRUPTED))
