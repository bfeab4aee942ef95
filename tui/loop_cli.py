"""CLI verbs of the long-running modes: watch, run, events, unpin.

``watch`` and ``run`` print one line per cycle (``HH:MM:SS app: what changed →
plan → result``) and store every event in the timeline; ``events`` replays it.
Ctrl-C or SIGTERM stops them after the running sync (exit 0); a second one
quits at once (exit 130), leaving that sync unrecorded.
"""

from __future__ import annotations

import argparse
import datetime
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from gitwave.engine.apps import parse_duration
from gitwave.engine.errors import ValidationError
from gitwave.engine.events import Event, EventKind
from gitwave.tui.cli import Context, sync_request

# What a person reads while watch or run runs; everything else is in `gitwave events`.
_SHOWN = frozenset({EventKind.CYCLE, EventKind.DRIFT_LOOP, EventKind.PIN, EventKind.ROLLBACK})
_KIND_COLOR = {
    EventKind.DRIFT_LOOP: "yellow",
    EventKind.PIN: "cyan",
    EventKind.ROLLBACK: "yellow",
}


def _event_dict(event: Event) -> dict[str, Any]:
    return {
        "time": _rfc3339(event.time),
        "app": event.app,
        "kind": event.kind.value,
        "revision": event.revision,
        "resource": event.resource.display if event.resource else "",
        "wave": event.wave,
        "message": event.message,
    }


def _rfc3339(seconds: float) -> str:
    stamp = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Printer:
    """An EventSink printing the lines of ``_SHOWN`` events as they happen."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if event.kind not in _SHOWN:
            return
        ctx = self._ctx
        if ctx.output == "json":
            text = json.dumps(_event_dict(event))
        else:
            stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
            first, *rest = event.message.rstrip().splitlines() or [""]
            if event.kind is EventKind.CYCLE:
                color = "red" if " error: " in first or "Failed" in first else ""
            else:
                color = _KIND_COLOR.get(event.kind, "")
            text = f"{ctx.paint(stamp, 'dim')} {event.app}: {ctx.paint(first, color)}"
            text += "".join(f"\n    {line}" for line in rest)
        with self._lock:
            print(text, flush=True)


@contextmanager
def _sink(ctx: Context) -> Iterator[Callable[[Event], None]]:
    """Every event into the timeline (in batches) and the shown ones on stdout."""
    from gitwave.engine.store import TimelineWriter

    printer = _Printer(ctx)
    with TimelineWriter(ctx.store) as record:

        def sink(event: Event) -> None:
            record(event)
            printer(event)

        yield sink


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` (the running sync finishes); a second
    one raises KeyboardInterrupt to quit at once."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        name = signal.Signals(signum).name
        print(f"{name}: stopping after the running sync (again to quit now)", file=sys.stderr)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def cmd_watch(ctx: Context) -> int:
    from gitwave.engine.watch import WatchOptions, watch

    options = WatchOptions(
        request=sync_request(ctx),
        only=tuple(ctx.args.app or ()),
        step_ms=ctx.args.debounce,
        ignore_paths=(ctx.state_dir.resolve(),),
    )
    stop = threading.Event()
    ready = threading.Event()

    def announce() -> None:
        if ready.wait() and not stop.is_set() and ctx.output != "json":
            print(
                ctx.paint(f"watching {ctx.args.path} → {ctx.target_name} (Ctrl-C to stop)", "bold"),
                file=sys.stderr,
                flush=True,
            )

    threading.Thread(target=announce, daemon=True).start()
    with _stop_on_signals(stop), _sink(ctx) as sink:
        watch(
            ctx.args.path,
            targets=ctx.targets,
            store=ctx.store,
            sink=sink,
            stop=stop,
            options=options,
            ready=ready,
        )
    ready.set()
    return 0


def cmd_run(ctx: Context) -> int:
    from gitwave.engine.reconciler import LoopOptions, Reconciler

    args = ctx.args
    options = LoopOptions(
        interval_s=_duration(args.interval, "--interval") if args.interval else None,
        heal_limit=args.heal_limit,
        heal_window_s=_duration(args.heal_window, "--heal-window"),
        auto_rollback=args.auto_rollback,
        rollback_window_s=_duration(args.rollback_window, "--rollback-window"),
        request=sync_request(ctx),
    )
    stop = threading.Event()
    with _stop_on_signals(stop), _sink(ctx) as sink:
        reconciler = Reconciler(
            args.path,
            targets=ctx.targets,
            store=ctx.store,
            sink=sink,
            options=options,
            only=tuple(args.app or ()),
        )
        reconciler.start()
        if ctx.output != "json":
            for app in reconciler.apps:
                policy = app.policy
                mode = (
                    "automated"
                    + (", prune" if policy.prune else "")
                    + (", selfHeal" if policy.self_heal else "")
                    if policy.automated
                    else "manual (reported only)"
                )
                every = options.interval_s or app.interval_s or 180.0
                pin = reconciler.ledger.pin_of(app.name)
                pinned = f"; pinned to {pin.revision[:7]}" if pin else ""
                print(
                    ctx.paint(f"{app.name}: {mode}, every {every:g}s{pinned}", "bold"),
                    file=sys.stderr,
                    flush=True,
                )
        reconciler.run(stop)
    return 0


def _duration(text: str, flag: str) -> float:
    try:
        return parse_duration(text, bare_seconds=True)
    except ValueError as exc:
        raise ValidationError(flag, str(exc)) from None


def parse_since(text: str, *, now: float | None = None) -> float:
    """``--since``: a duration back from now (``10m``, ``2h``) or an RFC 3339 time.

    Raises ValidationError for anything else."""
    try:
        return (time.time() if now is None else now) - parse_duration(text)
    except ValueError:
        pass
    try:
        stamp = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            "--since",
            f"{text!r} is neither a duration (10m, 2h) nor an RFC 3339 time",
            hint="e.g. --since 10m or --since 2026-01-02T15:04:05Z",
        ) from None
    if stamp.tzinfo is None:
        stamp = stamp.astimezone()  # a time without zone is local time
    return stamp.timestamp()


def cmd_events(ctx: Context) -> int:
    from gitwave.tui.output import dump, table

    since = parse_since(ctx.args.since) if ctx.args.since else 0.0
    events = ctx.store.events(ctx.args.app_name, since=since, limit=ctx.args.limit)
    if ctx.output in ("json", "yaml"):
        ctx.out(dump([_event_dict(e) for e in events], ctx.output))
        return 0
    if not events:
        ctx.out(f"no events recorded for {ctx.args.app_name}")
        return 0
    rows = [
        [
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.time)),
            e.kind.value,
            e.revision[:7] or "-",
            e.resource.display if e.resource else "-",
            (e.message.splitlines() or [""])[0],
        ]
        for e in events
    ]
    ctx.out(table(["time", "kind", "revision", "resource", "message"], rows))
    return 0


def cmd_unpin(ctx: Context) -> int:
    from gitwave.engine.loop_store import LoopStore
    from gitwave.engine.store import current_user

    name = ctx.args.app_name
    ledger = LoopStore.beside(ctx.store)
    lifted = ledger.unpin(name, reason=f"gitwave unpin by {current_user()}")
    if lifted is None:
        ctx.out(f"{name}: not pinned")
        return 0
    ctx.store.record_event(
        Event(
            EventKind.PIN,
            name,
            f"unpinned by hand (was pinned to {lifted.revision[:7]}, "
            f"skipping {lifted.skipped[:7]})",
            revision=lifted.revision,
        )
    )
    ctx.out(
        f"{name}: unpinned (was pinned to {lifted.revision[:7]}, skipping "
        f"{lifted.skipped[:7]}); a running `gitwave run` syncs the latest commit again"
    )
    return 0


def _loop_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path",
        nargs="?",
        default=".",
        help="a directory, a Git work tree or an Application file (default: .)",
    )
    parser.add_argument("--app", action="append", help="only this app (repeatable)")
    parser.add_argument("--prune", action="store_true", help="delete objects removed from Git")
    parser.add_argument("--timeout", type=float, help="seconds to wait for each wave")
    parser.add_argument("--parallel", type=int, default=8, help="objects applied at once")


def register_verbs(verbs: Any, common: argparse.ArgumentParser) -> None:
    """Add watch, run, events and unpin to the `gitwave` parser."""
    p = verbs.add_parser(
        "watch",
        parents=[common],
        help="apply every save in a working tree (uncommitted edits included)",
    )
    _loop_args(p)
    p.add_argument(
        "--debounce",
        type=int,
        default=50,
        metavar="MS",
        help="quiet time that ends a burst of saves, in milliseconds (default: 50)",
    )
    p.set_defaults(func=cmd_watch)

    p = verbs.add_parser(
        "run",
        parents=[common],
        help="keep every app reconciled: poll Git, sync, heal drift (Ctrl-C to stop)",
    )
    _loop_args(p)
    p.add_argument(
        "--interval",
        metavar="DURATION",
        help="poll every source this often (default: each app's interval; Argo CD Applications 3m)",
    )
    p.add_argument(
        "--auto-rollback",
        action="store_true",
        help="roll back to the last healthy revision when health turns Degraded after a sync",
    )
    p.add_argument("--rollback-window", default="5m", metavar="DURATION")
    p.add_argument(
        "--heal-limit",
        type=int,
        default=3,
        metavar="N",
        help="heals of one field within --heal-window before healing it pauses (default: 3)",
    )
    p.add_argument("--heal-window", default="5m", metavar="DURATION")
    p.set_defaults(func=cmd_run)

    p = verbs.add_parser("events", parents=[common], help="replay an app's event timeline")
    p.add_argument("app_name", metavar="APP")
    p.add_argument("--since", help="only events after this: a duration (10m) or RFC 3339 time")
    p.add_argument("--limit", type=int, default=1000, help="at most this many (the newest)")
    p.set_defaults(func=cmd_events)

    p = verbs.add_parser(
        "unpin", parents=[common], help="lift the pin a rollback put on an automated app"
    )
    p.add_argument("app_name", metavar="APP")
    p.set_defaults(func=cmd_unpin)
