"""Continuous reconcile: keep every application at what Git says, until stopped.

``Reconciler`` (and ``run_loop``, its one-call form) polls each app's Git
source at its interval (Flux's ``spec.interval``; Argo CD Applications have
none, so 3 minutes, Argo's default resync period) with shallow fetches, and
re-renders only when the app's commit changed (the render cache keys renders
by commit and path). What it then does follows ``syncPolicy.automated``:

- a new commit of an automated app is synced; of any other app it is only
  reported (OutOfSync), as Argo CD does;
- a failed sync is retried per ``syncPolicy.retry`` with capped, jittered
  exponential backoff, per commit: a newer commit resets the backoff and is
  synced at once;
- drift comes from the targets' change feeds (``engine.provider.ChangeFeed``,
  polled every ~200 ms): an app owning a changed object is planned again; with
  ``selfHeal`` the drift is healed, without it only reported. A field healed
  ``heal_limit`` times within ``heal_window_s`` is left alone (``drift.LoopGuard``);
- an app pinned after a rollback (``engine.loop_store``) does not sync the commit it
  was rolled away from; with ``auto_rollback`` a Degraded health shortly after
  a sync rolls back to the last healthy revision and pins it.

Hooks run once per (app, revision): a hook that succeeded is recorded as soon
as it does, so a sync resumed after a crash or a stop skips it. Stopping: the
``stop`` Event is checked between apps and between the waves of a running
sync, which then ends Terminated at that safe point and is recorded, so nothing
is left half-recorded. A hard kill leaves the sync Running in the history; the
next operation on the app marks it Interrupted and syncs that commit again,
waiting for a hook the killed one had started.
Each sync takes the app's operation lock (``engine.locks``) without waiting:
while ``gitwave sync`` or the TUI holds an app, the loop says who and looks
again a moment later.

Each app fails alone: one that cannot be loaded (``engine.apps.broken``) is
reported and never planned (nothing of it pruned), as is a bug hit by one app.
A child removed from an app of apps is followed until its objects are pruned.

Apps due in a pass are reconciled ``options.concurrent`` at a time
(``engine.fleet_run``), each after the apps it follows (dependsOn, earlier
app-of-apps waves); ``concurrent=1`` steps them one after another on the
loop's own thread. Each decision is an Event (``EventKind.CYCLE``), stored by the caller's sink.

A Git webhook (``refresh``, from ``gitwave run --webhook-addr``) makes the
apps reading the pushed repository and branch due at the next pass. ``on_pass``
is told how long each pass took and how many apps it stepped, and
``queue_depth`` how many wait: ``metrics`` reads the loop through those and
its events, and changes nothing in it.

The rules above are carried out here in the order they are written; when
to look at Git and at the targets is ``polling``, the decisions themselves
are ``decide``, pins and auto-rollback ``pins``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Collection

from gitwave.engine import operations
from gitwave.engine.app_choice import ChosenApp
from gitwave.engine.app_pipeline import desired_of
from gitwave.engine.apps import AppSpec
from gitwave.engine.drift import LoopGuard
from gitwave.engine.errors import GitwaveError
from gitwave.engine.events import EventKind, EventSink, discard
from gitwave.engine.fleet import Fleet
from gitwave.engine.fleet_run import run_fleet
from gitwave.engine.locks import AppBusyError, SupersededError
from gitwave.engine.loop_store import LoopStore
from gitwave.engine.model import Action, SyncStatus
from gitwave.engine.pauses import AUTOSYNC_FILE, AutoSyncFlags
from gitwave.engine.provider import ChangeFeed
from gitwave.engine.reconciler.decide import Decisions
from gitwave.engine.reconciler.pins import PinsAndRollbacks
from gitwave.engine.reconciler.polling import Polling
from gitwave.engine.reconciler.state import (
    BUSY_RETRY_S,
    AppRun,
    AppStatus,
    LoopOptions,
    broken_status,
    short,
)
from gitwave.engine.router import ProviderRouter
from gitwave.engine.source import opened_once
from gitwave.engine.store import Store
from gitwave.engine.webhook import Push, push_concerns


class Reconciler(Decisions, PinsAndRollbacks, Polling):
    """Keeps the apps ``location`` defines reconciled; see the module docstring.

    Use ``run(stop)`` in a thread of its own (the TUI's worker) or the main
    thread (``gitwave run``); ``statuses()`` may be called from any thread.
    ``only`` names the apps to reconcile (default: all, app-of-apps parents
    left out as ``gitwave sync`` does)."""

    def __init__(
        self,
        location: str,
        *,
        targets: ProviderRouter,
        store: Store,
        sink: EventSink = discard,
        options: LoopOptions | None = None,
        only: Collection[str] = (),
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        fleet: Fleet | None = None,
        on_pass: Callable[[float, int], None] | None = None,
    ) -> None:
        self.location = location
        self.targets = targets
        self.fleet = fleet or Fleet.single(targets)
        self.store = store
        self.ledger = LoopStore.beside(store)
        # Pauses set from the TUI (or by hand) live beside the history.
        self.autosync = AutoSyncFlags(store.path.parent / AUTOSYNC_FILE)
        options = options or LoopOptions()
        self.options = options
        self._sink = sink
        self._only = frozenset(only)
        self._clock = clock
        self._rng = rng or random.Random()
        self._guard = LoopGuard(
            limit=options.heal_limit, window_s=options.heal_window_s, clock=clock
        )
        self._runs: dict[str, AppRun] = {}
        self._follows: dict[str, tuple[str, ...]] = {}  # the apps each one steps after
        # Apps that cannot be loaded: reported on every root poll, never planned.
        self._broken: dict[str, ChosenApp] = {}
        self._broken_reported: dict[str, str] = {}
        self._feeds: list[tuple[ChangeFeed, str]] = []
        self._fed: set[int] = set()  # the routers whose feeds are open
        self._root_revision: str | None = None
        self._root_next = 0.0
        self._lock = threading.Lock()
        self._stop: threading.Event | None = None
        self._started = False
        # Told the duration of each pass and how many apps it stepped (metrics).
        self._on_pass = on_pass

    # -- public ----------------------------------------------------------------------

    def start(self) -> None:
        """Open the change feeds and load the apps. Raises GitwaveError when the
        apps cannot be loaded at all (nothing to reconcile: the location cannot be
        read, or every app is broken); one broken app beside good ones is reported
        while the others run."""
        self._feeds = []
        self._fed = set()
        self._open_feeds(self.targets)
        self._poll_root(self._clock(), first=True)
        self._started = True

    def run(self, stop: threading.Event) -> None:
        """Reconcile until ``stop`` is set; a running sync finishes first.
        Calls ``start`` unless it was called before."""
        self._stop = stop
        if not self._started:
            self.start()
        while not stop.is_set():
            wait = self.step()
            if wait > 0:
                stop.wait(wait)

    def step(self) -> float:
        """One pass over every app with something to do, ``options.concurrent``
        at a time (``engine.fleet_run``: an app steps after the apps it follows,
        its dependsOn and earlier app-of-apps waves, stepped); returns how long
        to wait before the next pass."""
        started = time.perf_counter()
        self._poll_root(self._clock())
        self._poll_feeds()
        now = self._clock()
        due = [run for run in self._runs.values() if self._due(run, now)]
        try:
            self._step_due(due)
        finally:
            if self._on_pass is not None:
                self._on_pass(time.perf_counter() - started, len(due))
        return self._next_wait()

    def _step_due(self, due: list[AppRun]) -> None:
        if len(due) <= 1 or self.options.concurrent == 1:
            for run in due:
                self._step_safely(run)
        else:
            with opened_once():  # the apps of one repository share its checkout
                run_fleet(
                    due,
                    self._step_safely,
                    name_of=lambda run: run.spec.name,
                    follows_of=lambda run: self._follows.get(run.spec.name, ()),
                    concurrent=self.options.concurrent,
                )

    def _step_app(self, run: AppRun) -> None:
        now = self._clock()
        if now >= run.next_poll:
            self._poll_app(run, now)
        retry = run.retry
        if retry is not None and retry.armed and now >= (retry.next_at or 0.0):
            retry.armed = False  # acted on once: no busy loop while it stays blocked
            if retry.revision == run.revision:
                run.assess = True
        if run.assess:
            self._assess(run)

    def statuses(self) -> list[AppStatus]:
        """The status of every app, in sync order, then the apps that cannot be loaded."""
        with self._lock:
            statuses = [run.status for run in self._runs.values() if run.status is not None]
            broken = list(self._broken.values())
        return statuses + [broken_status(entry) for entry in broken]

    def queue_depth(self) -> int:
        """How many apps are due (to be polled or assessed) and not stepped yet;
        callable from any thread."""
        with self._lock:
            runs = list(self._runs.values())
        now = self._clock()
        return sum(1 for run in runs if self._due(run, now))

    def secret_values(self, app: str) -> tuple[str, ...]:
        """Every form of the values of the Secrets ``app`` renders to at its
        current commit (decrypted SOPS ones included): what a message about
        it must mask (engine.mask.redact). Callable from any thread."""
        from gitwave.engine.mask import is_secret_manifest, secret_values

        with self._lock:
            run = self._runs.get(app)
            rendered = run.rendered if run is not None else None
        if rendered is None:
            return ()
        found: set[str] = set()
        for resource in rendered.resources:
            if is_secret_manifest(resource.manifest):
                found.update(secret_values(resource.manifest))
        return tuple(sorted(found))

    def refresh(self, push: Push) -> list[str]:
        """Poll at the next pass (within ``options.drift_poll_s``) the apps
        whose source reads what ``push`` moved, and the app definitions with
        them, rather than at their interval (a Git webhook); the names of those
        apps. Callable from any thread."""
        with self._lock:
            runs = list(self._runs.values())
        concerned = [run for run in runs if push_concerns(run.spec.source, push)]
        for run in concerned:
            self._emit(run, EventKind.CYCLE, f"webhook: {push.display} → polling now")
            run.next_poll = 0.0
        if concerned:
            self._root_next = 0.0  # the definitions may live in the pushed repository too
        return [run.spec.name for run in concerned]

    @property
    def broken(self) -> list[ChosenApp]:
        """The apps that cannot be loaded, each with its error."""
        with self._lock:
            return list(self._broken.values())

    @property
    def apps(self) -> list[AppSpec]:
        """The apps being reconciled, in sync order."""
        with self._lock:
            return [run.spec for run in self._runs.values()]

    def _assess(self, run: AppRun) -> None:
        run.assess = False
        if run.rendered is None or run.revision is None:
            return
        app = run.pinned
        # Read before anything else: a rollback recorded from here on makes the
        # sync this assessment may start stale (operations.sync checks it).
        run.decided_on = self.store.newest(app.name)
        try:
            if run.desired is None:  # composed and graphed once per commit
                run.desired = desired_of(run.rendered.resources)
            state = operations.plan(
                app,
                self.options.request,
                targets=self.targets_for(app),
                rendered=run.rendered,
                desired=run.desired,
            )
        except GitwaveError as exc:
            self._failed_before_sync(run, exc)
            return
        plan = state.plan
        run.keys = frozenset(state.graph.resources) | frozenset(
            t.key for t in plan.tasks() if t.action is Action.PRUNE
        )
        health = operations.app_health(state, targets=self.targets_for(app))
        pin = self._pin(run)
        if pin is not None:
            self._pinned(run, pin, plan, health)
            return
        last = self.store.last(app.name, succeeded_only=True)
        try:
            if self._is_new(run, plan, last):
                self._new_revision(run, state, health, last)
            elif plan.has_changes:
                self._drift(run, state, health)
            else:
                run.drift_seen = frozenset()
                self._set_status(run, SyncStatus.SYNCED, health=health.code)
            self._watch_health(run, health)
        except AppBusyError as exc:
            self._busy(run, exc)
        except SupersededError:
            run.assess = True  # decide again on the history as it is now

    def _busy(self, run: AppRun, exc: AppBusyError) -> None:
        """Another operation (``gitwave sync``, the TUI) holds the app: say who,
        once, and look again shortly rather than wait and hold up the other apps."""
        self._report(
            run,
            f"busy:{exc.holder.holder}",
            f"{short(run.revision)} → waiting: {exc}",
            kind=EventKind.WAITING,
        )
        self._set_status(run, SyncStatus.UNKNOWN, message=str(exc))
        run.next_poll = min(run.next_poll, self._clock() + BUSY_RETRY_S)


def run_loop(
    location: str,
    *,
    targets: ProviderRouter,
    store: Store,
    sink: EventSink = discard,
    stop: threading.Event,
    options: LoopOptions | None = None,
    only: Collection[str] = (),
    fleet: Fleet | None = None,
) -> None:
    """Reconcile the apps at ``location`` until ``stop`` is set (``gitwave run``).

    Raises GitwaveError when the apps cannot be loaded at the start (an app
    naming an unknown destination is reported and skipped; the others run)."""
    Reconciler(
        location, targets=targets, store=store, sink=sink, options=options, only=only, fleet=fleet
    ).run(stop)
