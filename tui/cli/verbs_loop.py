"""CLI verbs of the long-running modes: watch, run, unpin (``events`` is in
``verbs_events``, how their events are written in ``event_lines``).

``watch`` and ``run`` print one line per cycle (``HH:MM:SS app: what changed →
plan → result``) and store every event in the timeline; ``events`` replays it.
Ctrl-C or SIGTERM stops them after the running sync (exit 0); a second one
quits at once (exit 130), leaving that sync unrecorded.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

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
from gitwave.tui.cli.event_lines import EventPrinter, JsonLog
from gitwave.tui.cli.loop_http import Address, LoopServer, WebhookEndpoint, parse_address
from gitwave.tui.cli.loop_notify import start_notifications, ticking
from gitwave.tui.cli.output import dump
from gitwave.tui.cli.verbs_app import fail_unknown_app
from gitwave.tui.cli.verbs_image import image_automation

# Where `run` reads the webhook secret from when no --webhook-secret-file is given.
WEBHOOK_SECRET_ENV = "GITWAVE_WEBHOOK_SECRET"


@contextmanager
def _sink(ctx: Context, *also: EventSink) -> Iterator[Callable[[Event], None]]:
    """Every event into the timeline (in batches), the shown ones on stdout
    (or every one as a JSON log line), and to ``also``."""
    printer: EventSink = EventPrinter(ctx)
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
