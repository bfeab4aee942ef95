"""CLI verbs of the long-running modes: watch, run, events, unpin.

``watch`` and ``run`` print one line per cycle (``HH:MM:SS app: what changed →
plan → result``) and store every event in the timeline; ``events`` replays it.
Ctrl-C or SIGTERM stops them after the running sync (exit 0); a second one
quits at once (exit 130), leaving that sync unrecorded.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from rich.text import Text

from gitwave.engine.errors import ValidationError
from gitwave.engine.events import Event, EventKind, EventSink
from gitwave.engine.fleet import Fleet
from gitwave.engine.fleet_run import check_concurrent
from gitwave.engine.reconciler.metrics import LoopMetrics
from gitwave.engine.store import current_user
from gitwave.engine.timeline_writer import TimelineWriter
from gitwave.engine.webhook import WebhookConfig
from gitwave.tui.cli.app_or_path import remember_found
from gitwave.tui.cli.context import EXIT_FAILED, EXIT_OK, Context
from gitwave.tui.cli.durations import parse_since
from gitwave.tui.cli.label_selection import named_or_selected
from gitwave.tui.cli.loop_http import Address, LoopServer, WebhookEndpoint, parse_address
from gitwave.tui.cli.loop_notify import start_notifications, ticking
from gitwave.tui.cli.output import dump, local_time, short, table
from gitwave.tui.cli.verbs_app import fail_unknown_app
from gitwave.tui.cli.verbs_image import image_automation

# How often ``events --follow`` reads the store for new events.
FOLLOW_POLL_S = 0.25

# What a person reads while watch or run runs; everything else is in `gitwave events`.
_SHOWN = frozenset({EventKind.CYCLE, EventKind.DRIFT_LOOP, EventKind.PIN, EventKind.ROLLBACK})
_KIND_COLOR = {
    EventKind.DRIFT_LOOP: "yellow",
    EventKind.PIN: "cyan",
    EventKind.ROLLBACK: "yellow",
}


def _event_dict(event: Event) -> dict[str, Any]:
    return {
        "time": rfc3339(event.time),
        "app": event.app,
        "kind": event.kind.value,
        "revision": event.revision,
        "resource": str(event.resource) if event.resource else None,
        "wave": event.wave,
        "message": event.message,
    }


def rfc3339(seconds: float) -> str:
    """``seconds`` since the epoch as an RFC 3339 UTC time, to the millisecond."""
    stamp = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def stream_document(value: dict[str, Any], fmt: str) -> str:
    """One event of a stream (``run``, ``watch``, ``events --follow``) as
    ``kubectl get --watch`` writes it: ``-o json`` a JSON object a line,
    ``-o yaml`` a YAML document a time, each opened by ``---``."""
    if fmt == "json":
        return json.dumps(value)
    return "---\n" + dump(value, "yaml").rstrip("\n")


class _Printer:
    """An EventSink printing the lines of ``_SHOWN`` events as they happen."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if event.kind not in _SHOWN:
            return
        ctx = self._ctx
        text: str | Text
        if ctx.output in ("json", "yaml"):
            text = stream_document(_event_dict(event), ctx.output)
        else:
            stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
            first, *rest = event.message.rstrip().splitlines() or [""]
            if event.kind is EventKind.CYCLE:
                color = "red" if " error: " in first or "Failed" in first else ""
            else:
                color = _KIND_COLOR.get(event.kind, "")
            text = Text.assemble(
                ctx.paint(stamp, "dim"),
                f" {event.app}: ",
                ctx.paint(first, color),
                "".join(f"\n    {line}" for line in rest),
            )
        with self._lock:
            ctx.out(text)


# JSON logs (``run --log-format json``): one object a line, for a log shipper.
LOG_LEVELS = ("debug", "info", "warning", "error")
# What happens to each object, wave and hook: in the timeline, and in logs at debug.
_DEBUG_KINDS = frozenset(
    {
        EventKind.RESOURCE_APPLIED,
        EventKind.RESOURCE_PRUNED,
        EventKind.WAVE_STARTED,
        EventKind.WAVE_FINISHED,
        EventKind.HOOK_STARTED,
        EventKind.HOOK_FINISHED,
        EventKind.HEALTH_CHANGED,
        EventKind.POLICY,
        EventKind.SYNC_STARTED,
    }
)
_WARNING_KINDS = frozenset({EventKind.DRIFT_DETECTED, EventKind.DRIFT_LOOP, EventKind.ROLLBACK})
WEBHOOK_SECRET_ENV = "GITWAVE_WEBHOOK_SECRET"


def log_level(event: Event) -> str:
    """The level of an event's log line."""
    kind, message = event.kind, event.message
    if kind is EventKind.ERROR:
        return "error"
    if kind is EventKind.CYCLE:
        first = (message.splitlines() or [""])[0]
        return "error" if " error: " in first or "Failed" in first else "info"
    if kind is EventKind.HEAL:
        return "info" if message.startswith("healed") else "error"
    if kind is EventKind.SYNC_FINISHED:
        return "info" if message.startswith("Succeeded") else "error"
    if kind in _WARNING_KINDS:
        return "warning"
    return "debug" if kind in _DEBUG_KINDS else "info"


class JsonLog:
    """An EventSink writing one JSON object a line: time (RFC 3339, UTC), level,
    app, revision, kind, message, and resource and wave when the event has
    them; events below ``level`` are left out. Messages are the events' own,
    which never hold a secret value (``engine.events``)."""

    def __init__(self, write: Callable[[str], None], *, level: str = "info") -> None:
        self._write = write
        self._floor = LOG_LEVELS.index(level)
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        level = log_level(event)
        if LOG_LEVELS.index(level) < self._floor:
            return
        self.line(
            level,
            event.message,
            app=event.app,
            revision=event.revision,
            kind=event.kind.value,
            at=event.time,
            resource=event.resource.display if event.resource else "",
            wave=event.wave,
        )

    def line(
        self,
        level: str,
        message: str,
        *,
        app: str = "",
        revision: str = "",
        kind: str = "Log",
        at: float | None = None,
        resource: str = "",
        wave: str = "",
    ) -> None:
        """One line of ``level`` (the loop's own lines: start, servers, webhooks)."""
        if LOG_LEVELS.index(level) < self._floor:
            return
        record: dict[str, Any] = {
            "time": rfc3339(time.time() if at is None else at),
            "level": level,
            "app": app,
            "revision": revision,
            "kind": kind,
            "message": message,
        }
        if resource:
            record["resource"] = resource
        if wave:
            record["wave"] = wave
        text = json.dumps(record, ensure_ascii=False)
        with self._lock:
            self._write(text)


@contextmanager
def _sink(ctx: Context, *also: EventSink) -> Iterator[Callable[[Event], None]]:
    """Every event into the timeline (in batches), the shown ones on stdout
    (or every one as a JSON log line), and to ``also``."""
    printer: EventSink = _Printer(ctx)
    if getattr(ctx.args, "log_format", "text") == "json":
        printer = JsonLog(_stdout_line, level=getattr(ctx.args, "log_level", "info"))
    with TimelineWriter(ctx.store) as record:

        def sink(event: Event) -> None:
            record(event)
            printer(event)
            for other in also:
                other(event)

        yield sink


def _stdout_line(text: str) -> None:
    # Straight to stdout: rich would wrap long lines and break the JSON.
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


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
        request=ctx.sync_request(),
        only=tuple(ctx.args.app or ()),
        step_ms=ctx.args.debounce,
        ignore_paths=(ctx.state_dir.resolve(),),
        allow_local_repos=ctx.allow_local_repos,
        concurrent=check_concurrent(ctx.args.concurrent),
        selector=ctx.args.selector,
        # `gitwave status APP` (any verb taking a PATH) then finds a watched app from anywhere.
        on_load=lambda names: remember_found(
            ctx, list(names), location=ctx.args.path, revision=None
        ),
    )
    stop = threading.Event()
    ready = threading.Event()

    def announce() -> None:
        if ready.wait() and not stop.is_set() and ctx.output != "json":
            ctx.err(
                ctx.paint(f"watching {ctx.args.path} → {ctx.target_name} (Ctrl-C to stop)", "bold")
            )

    threading.Thread(target=announce, daemon=True).start()
    with _stop_on_signals(stop), _sink(ctx) as sink:
        watch(
            ctx.args.path,
            targets=ctx.targets,
            fleet=ctx.fleet,
            store=ctx.store,
            sink=sink,
            stop=stop,
            options=options,
            ready=ready,
        )
    ready.set()
    return EXIT_OK


def cmd_run(ctx: Context) -> int:
    from gitwave.engine.reconciler import DEFAULT_INTERVAL_S, LoopOptions, Reconciler

    args = ctx.args
    options = LoopOptions(
        interval_s=args.interval,  # seconds (the parser reads durations), None: each app's
        heal_limit=args.heal_limit,
        heal_window_s=args.heal_window,
        auto_rollback=args.auto_rollback,
        rollback_window_s=args.rollback_window,
        request=ctx.sync_request(),
        allow_local_repos=ctx.allow_local_repos,
        concurrent=check_concurrent(args.concurrent),
        selector=args.selector,
    )
    # Flags checked before anything starts: a bad one refuses the command (exit 2).
    metrics_at = parse_address(args.metrics_addr, "--metrics-addr") if args.metrics_addr else None
    webhook_at = parse_address(args.webhook_addr, "--webhook-addr") if args.webhook_addr else None
    webhook_config = _webhook_config(args) if webhook_at is not None else None
    metrics = LoopMetrics() if metrics_at is not None else None
    json_log = JsonLog(_stdout_line, level=args.log_level) if args.log_format == "json" else None

    def say(message: str, *, app: str = "", level: str = "info") -> None:
        if json_log is not None:
            json_log.line(level, message, app=app, kind="Run")
        elif ctx.output != "json":
            ctx.err(ctx.paint(message, "bold" if level == "info" else "yellow"))

    stop = threading.Event()
    also: tuple[EventSink, ...] = (metrics,) if metrics is not None else ()
    notifying = start_notifications(args.path, say=say)
    if notifying is not None:
        also = (*also, notifying[0])
    with ExitStack() as stack:
        if notifying is not None:
            stack.callback(notifying[1].close)
        stack.enter_context(_stop_on_signals(stop))
        sink = stack.enter_context(_sink(ctx, *also))
        stack.enter_context(image_automation(ctx, args.path, say=say, stop=stop))
        on_pass = None
        if metrics is not None:
            metrics.time([ctx.targets])
            on_pass = _metrics_pass(metrics, ctx.fleet)
        if notifying is not None:
            on_pass = ticking(notifying[0], on_pass)

        reconciler = Reconciler(
            args.path,
            targets=ctx.targets,
            fleet=ctx.fleet,
            store=ctx.store,
            sink=sink,
            options=options,
            only=tuple(args.app or ()),
            on_pass=on_pass,
        )
        reconciler.start()
        names = [app.name for app in reconciler.apps]
        remember_found(ctx, names, location=args.path, revision=None)
        for app in reconciler.apps:
            policy = app.policy
            mode = (
                "automated"
                + (", prune" if policy.prune else "")
                + (", selfHeal" if policy.self_heal else "")
                if policy.automated
                else "manual (reported only)"
            )
            every = options.interval_s or app.interval_s or DEFAULT_INTERVAL_S
            pin = reconciler.ledger.pin_of(app.name)
            pinned = f"; pinned to {pin.revision[:7]}" if pin else ""
            say(f"{app.name}: {mode}, every {every:g}s{pinned}", app=app.name)
        if metrics is not None:
            metrics.watch(reconciler.statuses, reconciler.queue_depth)
        if notifying is not None:
            notifying[0].watch(reconciler.statuses, secrets=reconciler.secret_values)
        webhooks = None
        if webhook_config is not None:
            webhooks = WebhookEndpoint(
                config=webhook_config,
                trigger=reconciler.refresh,
                metrics=metrics,
                log=lambda level, message: say(message, level=level),
            )
        for address, serves in _servers(metrics_at, webhook_at):
            server = LoopServer(
                address,
                metrics=metrics if "metrics" in serves else None,
                webhooks=webhooks if "webhooks" in serves else None,
            )
            stack.callback(server.close)
            if "metrics" in serves:
                say(f"metrics: {server.url}/metrics")
            if "webhooks" in serves:
                unsigned = " (unsigned requests accepted)" if args.webhook_allow_unsigned else ""
                say(f"webhooks: {server.url}/api/webhook{unsigned}")
        reconciler.run(stop)
    return EXIT_OK


def _metrics_pass(metrics: LoopMetrics, fleet: Fleet) -> Callable[[float, int], None]:
    def on_pass(seconds: float, apps: int) -> None:
        metrics.on_pass(seconds, apps)
        metrics.time(fleet.routers())  # a cluster first used in this pass

    return on_pass


def _servers(
    metrics_at: Address | None, webhook_at: Address | None
) -> list[tuple[Address, frozenset[str]]]:
    """The servers to start: one per address, serving what names it."""
    found: dict[Address, set[str]] = {}
    if metrics_at is not None:
        found.setdefault(metrics_at, set()).add("metrics")
    if webhook_at is not None:
        found.setdefault(webhook_at, set()).add("webhooks")
    # Port 0 asks for a free port each: two such flags are two servers.
    if metrics_at is not None and metrics_at == webhook_at and metrics_at.port == 0:
        return [(metrics_at, frozenset({"metrics"})), (metrics_at, frozenset({"webhooks"}))]
    return [(address, frozenset(serves)) for address, serves in found.items()]


def _webhook_config(args: Any) -> WebhookConfig:
    """The webhook secret from ``--webhook-secret-file`` or the environment
    (never printed); ValidationError when there is none and unsigned requests
    were not allowed."""
    from gitwave.engine.webhook import WebhookConfig

    secret: bytes | None = None
    if args.webhook_secret_file:
        path = Path(args.webhook_secret_file).expanduser()
        try:
            secret = path.read_bytes().strip()
        except OSError as exc:
            raise ValidationError(
                "--webhook-secret-file", f"cannot read {path}: {exc.strerror or exc}"
            ) from None
        if not secret:
            raise ValidationError("--webhook-secret-file", f"{path} is empty")
    elif os.environ.get(WEBHOOK_SECRET_ENV, "").strip():
        secret = os.environ[WEBHOOK_SECRET_ENV].strip().encode()
    if secret is None and not args.webhook_allow_unsigned:
        raise ValidationError(
            "--webhook-addr",
            "no webhook secret: every request would be refused",
            hint=f"give --webhook-secret-file FILE (or set {WEBHOOK_SECRET_ENV}); "
            "--webhook-allow-unsigned accepts requests nobody signed",
        )
    return WebhookConfig(secret=secret, insecure=args.webhook_allow_unsigned)


def cmd_events(ctx: Context) -> int:
    names, by_path = named_or_selected(ctx)
    since = parse_since(ctx.args.since, now=ctx.clock()) if ctx.args.since else 0.0
    events = _events_of(ctx, names, since=since, limit=ctx.args.limit)
    if not by_path and not events and fail_unknown_app(ctx, names[0], what="events"):
        return EXIT_FAILED
    if ctx.args.follow:
        return _follow_events(ctx, names, since, by_path=by_path)
    if ctx.output in ("json", "yaml"):
        ctx.out(dump([_event_dict(e) for e in events], ctx.output))
        return EXIT_OK
    if not events:
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
                    line = stream_document(_event_dict(event), ctx.output)
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


def cmd_unpin(ctx: Context) -> int:
    name = ctx.args.app_name
    lifted = ctx.loop_store.unpin(name, reason=f"gitwave unpin by {current_user()}")
    if lifted is None and fail_unknown_app(ctx, name, what="syncs"):  # as suspend: not found
        return EXIT_FAILED
    if ctx.output in ("json", "yaml"):
        was = None if lifted is None else {"revision": lifted.revision, "skipped": lifted.skipped}
        ctx.out(dump({"app": name, "pinned": False, "unpinned": was}, ctx.output))
    if lifted is None:
        if ctx.output not in ("json", "yaml"):
            ctx.out(f"{name}: not pinned")
        return EXIT_OK
    ctx.store.record_event(
        Event(
            EventKind.PIN,
            name,
            f"unpinned by hand (was pinned to {lifted.revision[:7]}, "
            f"skipping {lifted.skipped[:7]})",
            revision=lifted.revision,
        )
    )
    if ctx.output not in ("json", "yaml"):
        ctx.out(
            f"{name}: unpinned (was pinned to {lifted.revision[:7]}, skipping "
            f"{lifted.skipped[:7]}); a running `gitwave run` syncs the latest commit again"
        )
    return EXIT_OK
