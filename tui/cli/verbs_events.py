"""CLI verb ``events``: an app's timeline as the history store keeps it (a
table, ``-o json``/``yaml``), and ``--follow``: each new event as it is
recorded until Ctrl-C, as ``kubectl get --watch`` streams.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

from gitwave.engine.events import Event
from gitwave.tui.cli.context import EXIT_FAILED, EXIT_OK, Context
from gitwave.tui.cli.durations import parse_since
from gitwave.tui.cli.event_lines import event_dict, stream_document
from gitwave.tui.cli.label_selection import named_or_selected
from gitwave.tui.cli.output import dump, local_time, short, table
from gitwave.tui.cli.verbs_app import fail_unknown_app

# How often ``events --follow`` reads the store for new events.
FOLLOW_POLL_S = 0.25


def cmd_events(ctx: Context) -> int:
    names, by_path = named_or_selected(ctx)
    since = parse_since(ctx.args.since, now=ctx.clock()) if ctx.args.since else 0.0
    events = _events_of(ctx, names, since=since, limit=ctx.args.limit)
    if not by_path and not events and fail_unknown_app(ctx, names[0], what="events"):
        return EXIT_FAILED
    if ctx.args.follow and names:
        return _follow_events(ctx, names, since, by_path=by_path)
    if ctx.output in ("json", "yaml"):
        ctx.out(dump([event_dict(e) for e in events], ctx.output))
        return EXIT_OK
    if not events:
        if names:  # none: -l matched no app, said on stderr
            ctx.out(f"no events recorded for {', '.join(names)}")
        return EXIT_OK
    wide = ctx.output == "wide"
    rows = [
        [local_time(e.time)]
        + ([e.app] if by_path else [])
        + [
            e.kind.value,
            short(e.revision),
            e.resource.display if e.resource else "-",
            (e.message.splitlines() or [""])[0],
        ]
        + ([e.wave or "-"] if wide else [])
        for e in events
    ]
    headers = ["time"] + (["app"] if by_path else []) + ["kind", "revision", "resource", "message"]
    ctx.out(table(headers + (["wave"] if wide else []), rows))
    return EXIT_OK


def _events_of(ctx: Context, names: list[str], *, since: float, limit: int) -> list[Event]:
    """The events of ``names`` at or after ``since``, oldest first, the newest ``limit``."""
    if len(names) == 1:
        return ctx.store.events(names[0], since=since, limit=limit)
    merged = sorted(
        (e for name in names for e in ctx.store.events(name, since=since, limit=limit)),
        key=lambda e: e.time,
    )
    return merged[-limit:]


def _event_line(event: Event, *, by_path: bool = False) -> str:
    resource = event.resource.display if event.resource else "-"
    message = (event.message.splitlines() or [""])[0]
    revision = short(event.revision) or "-"
    app = (event.app,) if by_path else ()
    return "  ".join((local_time(event.time), *app, event.kind.value, revision, resource, message))


def _follow_events(ctx: Context, names: list[str], since: float, *, by_path: bool) -> int:
    """``events APP --follow``: the events so far, then each new one as it is
    recorded (a line each; ``-o json``: a JSON object a line), until Ctrl-C,
    as ``kubectl get --watch`` and ``flux events --watch`` stream. With a PATH
    or ``-l``, the events of every app chosen, in time order."""
    limit = ctx.args.limit
    seen: set[tuple[float, str, str, str, str]] = set()
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # A handler of its own rather than KeyboardInterrupt: a process started
    # with SIGINT ignored (a background job of a script, some CI runners)
    # would never see the Ctrl-C that ends a follow.
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.is_set():
            fresh = []
            for event in _events_of(ctx, names, since=since, limit=limit):
                identity = (
                    event.time,
                    event.app,
                    event.kind.value,
                    str(event.resource),
                    event.message,
                )
                if identity not in seen:
                    seen.add(identity)
                    fresh.append(event)
            for event in fresh:
                if ctx.output in ("json", "yaml"):
                    line = stream_document(event_dict(event), ctx.output)
                else:
                    line = _event_line(event, by_path=by_path)
                sys.stdout.write(line + "\n")
            sys.stdout.flush()  # piped into a CI log: each line as it happens
            if fresh:
                since = fresh[-1].time
                seen = {s for s in seen if s[0] >= since}  # enough to skip repeats
            limit = 100_000  # after the first batch: everything new
            stop.wait(FOLLOW_POLL_S)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    return EXIT_OK  # Ctrl-C is how a follow ends
