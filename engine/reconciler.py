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
as it does, so a sync resumed after a crash or a stop skips it.

Stopping: the ``stop`` Event is checked between apps and between the waves of
a running sync, which then ends Terminated at that safe point and is
recorded, so nothing is left half-recorded. A hard kill records
nothing for the interrupted sync; the next start syncs that commit again.

The loop is single-threaded: apps are reconciled one after another in
dependency order. Everything it does is an Event (``EventKind.CYCLE`` carries
one line per decision for people), stored in the timeline by the caller's sink.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from gitwave.engine import operations, plan_filters
from gitwave.engine.app_pipeline import AppState
from gitwave.engine.apps import AppSpec, load_apps, render_app
from gitwave.engine.drift import DriftedField, DriftLoop, LoopGuard, drifted_fields
from gitwave.engine.errors import GitwaveError, ProviderError
from gitwave.engine.events import Event, EventKind, EventSink, discard
from gitwave.engine.loop_store import LoopStore, Pin, pin_rollback
from gitwave.engine.model import Action, Health, HealthCode, Live, Plan, ResourceKey, SyncStatus
from gitwave.engine.operations import SyncRequest, plan_summary, result_summary
from gitwave.engine.pauses import AUTOSYNC_FILE, AutoSyncFlags
from gitwave.engine.provider import ChangeFeed
from gitwave.engine.render import Rendered
from gitwave.engine.retry import CommitRetry
from gitwave.engine.source import is_remote, open_source
from gitwave.engine.store import Store, SyncRecord
from gitwave.engine.sync import SyncPhase, SyncResult, Targets

DEFAULT_INTERVAL_S = 180.0  # Argo CD's application resync period
DEFAULT_DRIFT_POLL_S = 0.2
_FULL_SHA = re.compile(r"[0-9a-f]{40}")


# --- change feeds ------------------------------------------------------------------------


class _VersionedTarget(Protocol):
    def changes_since(self, resource_version: str) -> tuple[str, list[Live]]: ...

    def deletions_since(self, resource_version: str) -> tuple[str, list[ResourceKey]]: ...


class _VersionFeed:
    """A ChangeFeed over a target that answers ``changes_since`` and
    ``deletions_since`` with resource versions (the sandbox)."""

    # A version no object has yet: asking for changes after it returns the
    # current version alone, without reading every object.
    _FUTURE = str(2**62)

    def __init__(self, target: _VersionedTarget) -> None:
        self._target = target

    def changes(self, cursor: str) -> tuple[str, frozenset[ResourceKey] | None]:
        if not cursor:
            current, _ = self._target.deletions_since(self._FUTURE)
            return current, frozenset()
        # Changes first: a deletion after that read shows up again next time
        # (the cursor is the first read's), never not at all.
        current, changed = self._target.changes_since(cursor)
        _, deleted = self._target.deletions_since(cursor)
        return current, frozenset(live.key for live in changed) | frozenset(deleted)


def change_feed(provider: object) -> ChangeFeed | None:
    """The provider's change feed: itself when it implements ``ChangeFeed``, an
    adapter when it answers ``changes_since``/``deletions_since`` (the sandbox),
    else None (its drift is seen by polling at the app's interval)."""
    if isinstance(provider, ChangeFeed):
        return provider
    if callable(getattr(provider, "changes_since", None)) and callable(
        getattr(provider, "deletions_since", None)
    ):
        return _VersionFeed(provider)  # type: ignore[arg-type]
    return None


# --- the loop ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopOptions:
    """How ``Reconciler`` runs. ``interval_s`` overrides every app's interval."""

    interval_s: float | None = None
    drift_poll_s: float = DEFAULT_DRIFT_POLL_S
    heal_limit: int = 3
    heal_window_s: float = 300.0
    auto_rollback: bool = False
    rollback_window_s: float = 300.0
    request: SyncRequest = field(default_factory=SyncRequest)


@dataclass(frozen=True, slots=True)
class AppStatus:
    """What the loop knows of one app now (for ``gitwave run`` and the TUI)."""

    app: str
    revision: str
    sync: SyncStatus
    health: HealthCode
    automated: bool
    self_heal: bool
    pinned: Pin | None = None
    message: str = ""
    loops: tuple[DriftLoop, ...] = ()
    retry_at: float | None = None


def _short(revision: str | None) -> str:
    return revision[:7] if revision else "-"


Fingerprint = tuple[tuple[ResourceKey, Any], ...]


def _fingerprint(rendered: Rendered) -> Fingerprint:
    """What an app renders to, comparable across commits (in memory only)."""
    return tuple((r.key, r.manifest) for r in rendered.resources)


@dataclass
class _AppRun:
    """The loop's mutable state of one app."""

    spec: AppSpec
    pinned: AppSpec  # the spec with its source fixed at ``revision``
    next_poll: float = 0.0
    revision: str | None = None  # None: not resolved yet
    moved_from: str | None = None  # the commit before, once a new one arrived
    rendered: Rendered | None = None
    assess: bool = True
    keys: frozenset[ResourceKey] = frozenset()
    retry: CommitRetry | None = None
    adopted: str | None = None  # a commit taken as synced: it renders as the last synced one
    synced_render: Fingerprint | None = None
    reported: str = ""
    drift_seen: frozenset[tuple[ResourceKey, str, str]] = frozenset()
    loops_seen: frozenset[tuple[ResourceKey, str]] = frozenset()
    health_watch: tuple[str, float] | None = None  # (revision synced, watch until)
    seen_rollback: int | None = None
    status: AppStatus | None = None


class Reconciler:
    """Keeps the apps ``location`` defines reconciled; see the module docstring.

    Use ``run(stop)`` in a thread of its own (the TUI's worker) or the main
    thread (``gitwave run``); ``statuses()`` may be called from any thread.
    ``only`` names the apps to reconcile (default: all, app-of-apps parents
    left out as ``gitwave sync`` does)."""

    def __init__(
        self,
        location: str,
        *,
        targets: Targets,
        store: Store,
        sink: EventSink = discard,
        options: LoopOptions = LoopOptions(),
        only: Collection[str] = (),
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.location = location
        self.targets = targets
        self.store = store
        self.ledger = LoopStore.beside(store)
        # Pauses set from the TUI (or by hand) live beside the history.
        self.autosync = AutoSyncFlags(store.path.parent / AUTOSYNC_FILE)
        self.options = options
        self._sink = sink
        self._only = frozenset(only)
        self._clock = clock
        self._rng = rng or random.Random()
        self._guard = LoopGuard(
            limit=options.heal_limit, window_s=options.heal_window_s, clock=clock
        )
        self._runs: dict[str, _AppRun] = {}
        self._feeds: list[tuple[ChangeFeed, str]] = []
        self._root_revision: str | None = None
        self._root_next = 0.0
        self._lock = threading.Lock()
        self._stop: threading.Event | None = None
        self._started = False

    # -- public ----------------------------------------------------------------------

    def start(self) -> None:
        """Open the change feeds and load the apps. Raises GitwaveError when the
        apps cannot be loaded at all (nothing to reconcile)."""
        self._feeds = []
        for provider in self.targets.providers:
            feed = change_feed(provider)
            if feed is None:
                continue
            try:
                cursor, _ = feed.changes("")
            except ProviderError:
                cursor = ""
            self._feeds.append((feed, cursor))
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
        """One pass over every app; returns how long to wait before the next."""
        self._poll_root(self._clock())
        self._poll_feeds()
        for run in list(self._runs.values()):
            if self._stop is not None and self._stop.is_set():
                break
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
        return self._next_wait()

    def statuses(self) -> list[AppStatus]:
        """The status of every app, in sync order."""
        with self._lock:
            return [run.status for run in self._runs.values() if run.status is not None]

    @property
    def apps(self) -> list[AppSpec]:
        """The apps being reconciled, in sync order."""
        with self._lock:
            return [run.spec for run in self._runs.values()]

    # -- polling ---------------------------------------------------------------------

    def _interval(self, app: AppSpec) -> float:
        return self.options.interval_s or app.interval_s or DEFAULT_INTERVAL_S

    def _next_wait(self) -> float:
        now = self._clock()
        due = [self._root_next]
        for run in self._runs.values():
            due.append(run.next_poll)
            retry = run.retry
            if retry is not None and retry.armed and retry.next_at is not None:
                due.append(retry.next_at)
        wait = max(0.0, min(due) - now)
        return min(wait, self.options.drift_poll_s if self._feeds else 1.0)

    def _read_root(self) -> str:
        """The commit the app definitions are read at ("" for a plain directory)."""
        if is_remote(self.location):
            return open_source(self.location).revision
        path = Path(self.location)
        directory = path if path.is_dir() else path.parent
        return open_source(str(directory)).revision

    def _poll_root(self, now: float, *, first: bool = False) -> None:
        if now < self._root_next and not first:
            return
        intervals = [self._interval(run.spec) for run in self._runs.values()]
        self._root_next = now + (min(intervals) if intervals else self._interval_default())
        try:
            revision = self._read_root()
            if revision and revision == self._root_revision:
                return
            _, apps = load_apps(self.location, revision=revision or None)
            chosen = self._select(apps)
        except GitwaveError as exc:
            if first:
                raise
            for run in self._runs.values():
                self._report(run, f"apps:{exc}", f"app definitions: error: {exc}")
            return
        self._root_revision = revision
        self._set_apps(chosen)
        intervals = [self._interval(run.spec) for run in self._runs.values()]
        if intervals:
            self._root_next = now + min(intervals)

    def _interval_default(self) -> float:
        return self.options.interval_s or DEFAULT_INTERVAL_S

    def _select(self, apps: Iterable[AppSpec]) -> list[AppSpec]:
        return operations.choose_apps(apps, only=self._only, location=self.location)

    def _set_apps(self, apps: Sequence[AppSpec]) -> None:
        runs: dict[str, _AppRun] = {}
        for app in apps:
            run = self._runs.get(app.name)
            if run is None:
                run = _AppRun(spec=app, pinned=app)
            elif run.spec != app:
                run.spec = app
                run.next_poll = 0.0  # resolve the new definition now
            runs[app.name] = run
        with self._lock:
            self._runs = runs

    def _poll_feeds(self) -> None:
        for index, (feed, cursor) in enumerate(self._feeds):
            try:
                new_cursor, keys = feed.changes(cursor)
            except ProviderError:
                continue  # unreachable for now: the next poll asks again
            self._feeds[index] = (feed, new_cursor)
            if keys is not None and not keys:
                continue
            for run in self._runs.values():
                if keys is None or run.keys & keys:
                    run.assess = True

    def _poll_app(self, run: _AppRun, now: float) -> None:
        run.next_poll = now + self._interval(run.spec)
        run.assess = True  # polling also catches drift on targets without a change feed
        source = run.spec.source
        try:
            if source.fetch_revision and _FULL_SHA.fullmatch(source.fetch_revision):
                revision = source.fetch_revision
            else:
                # Shallow for a URL; a local work tree counts at its HEAD commit
                # (uncommitted edits are watch mode's business).
                revision = open_source(source.fetch_from, revision=source.fetch_revision).revision
            pinned = (
                replace(run.spec, source=replace(source, fetch_revision=revision))
                if revision
                else run.spec
            )
        except GitwaveError as exc:
            self._report(run, f"source:{exc}", f"source: error: {exc}")
            self._set_status(run, SyncStatus.UNKNOWN, message=str(exc))
            return
        if revision == run.revision and pinned == run.pinned and (revision or run.rendered):
            return
        previous = run.revision
        run.revision, run.pinned = revision, pinned
        if previous is not None and revision != previous:
            run.moved_from = previous
            self._emit(
                run,
                EventKind.SOURCE_CHANGED,
                f"new commit {_short(revision)} (was {_short(previous)})",
            )
            self._guard.reset(run.spec.name)  # Git may have settled a fight
            run.loops_seen = frozenset()
        elif previous is None:
            self._emit(run, EventKind.SOURCE_CHANGED, f"at commit {_short(revision)}")
        try:
            run.rendered = render_app(pinned)
        except GitwaveError as exc:
            run.rendered = None
            self._report(run, f"render:{revision}:{exc}", f"{_short(revision)} → error: {exc}")
            self._set_status(run, SyncStatus.UNKNOWN, message=str(exc))

    # -- deciding ----------------------------------------------------------------------

    def _assess(self, run: _AppRun) -> None:
        run.assess = False
        if run.rendered is None or run.revision is None:
            return
        app = run.pinned
        try:
            state = operations.plan(
                app, self.options.request, targets=self.targets, rendered=run.rendered
            )
        except GitwaveError as exc:
            self._failed_before_sync(run, exc)
            return
        plan = state.plan
        run.keys = frozenset(state.graph.resources) | frozenset(
            t.key for t in plan.tasks() if t.action is Action.PRUNE
        )
        health = operations.app_health(state, targets=self.targets)
        pin = self._pin(run)
        if pin is not None:
            self._pinned(run, pin, plan, health)
            return
        last = self.store.last(app.name, succeeded_only=True)
        if self._is_new(run, plan, last):
            self._new_revision(run, state, health, last)
        elif plan.has_changes:
            self._drift(run, state, health)
        else:
            run.drift_seen = frozenset()
            self._set_status(run, SyncStatus.SYNCED, health=health.code)
        self._watch_health(run, health)

    def _is_new(self, run: _AppRun, plan: Plan, last: SyncRecord | None) -> bool:
        """True when the app's commit (or, for a plain directory, its render) was not synced."""
        assert run.rendered is not None and run.revision is not None
        if last is None:
            return True
        if not run.revision:
            return run.synced_render != _fingerprint(run.rendered)
        if run.revision in (last.revision, run.adopted):
            return False
        if not plan.has_changes and run.synced_render == _fingerprint(run.rendered):
            # The commit changed nothing this app renders: nothing to sync, no hooks to run.
            run.adopted = run.revision
            self._report(
                run,
                f"adopt:{run.revision}",
                f"new commit {_short(run.revision)} → no changes for this app",
            )
            return False
        return True

    def _auto_sync(self, app: AppSpec) -> bool:
        """syncPolicy.automated, unless someone paused the app's auto-sync."""
        return app.policy.automated and not self.autosync.is_paused(app.name)

    def _new_revision(
        self, run: _AppRun, state: AppState, health: Health, last: SyncRecord | None
    ) -> None:
        app = run.pinned
        plan = state.plan
        assert run.revision is not None
        moved = run.moved_from is not None or (last is not None and last.revision != run.revision)
        cause = f"new commit {_short(run.revision)}" if moved else _short(run.revision)
        if not self._auto_sync(app):
            why = "auto-sync paused" if app.policy.automated else "auto-sync off"
            # Sync status compares with the live state, whatever the commit.
            if not plan.has_changes:
                self._set_status(run, SyncStatus.SYNCED, health=health.code)
                return
            self._set_status(
                run,
                SyncStatus.OUT_OF_SYNC,
                health=health.code,
                message=why,
            )
            self._report(
                run,
                f"manual:{run.revision}:{plan_summary(plan)}",
                f"{cause} → {plan_summary(plan)} → OutOfSync ({why})",
                kind=EventKind.PLAN,
            )
            return
        waiting = self._waiting_for(app)
        if waiting:
            message = f"waiting for {waiting} to be synced and healthy (dependsOn)"
            self._set_status(run, SyncStatus.OUT_OF_SYNC, health=health.code, message=message)
            self._report(run, f"deps:{run.revision}:{waiting}", f"{cause} → {message}")
            return
        now = self._clock()
        if run.retry is not None and run.retry.blocks(run.revision, now):
            at = run.retry.next_at
            message = (
                "sync failed; no retry left for this commit"
                if at is None
                else f"sync failed; retry at {time.strftime('%H:%M:%S', time.localtime(at))}"
            )
            self._set_status(run, SyncStatus.OUT_OF_SYNC, health=health.code, message=message)
            return
        self._sync(run, state, cause=cause, heal=False)

    def _waiting_for(self, app: AppSpec) -> str:
        """The first dependency (Flux dependsOn) not synced and healthy yet, or ""."""
        for name in app.depends_on:
            dep = self._runs.get(name)
            if dep is None or dep.status is None:
                continue
            if dep.status.sync is not SyncStatus.SYNCED or not dep.status.health.is_settled:
                return name
        return ""

    def _drift(self, run: _AppRun, state: AppState, health: Health) -> None:
        app = run.pinned
        plan = state.plan
        drift = drifted_fields(plan)
        signature = frozenset((d.key, d.path, repr(d.live)) for d in drift)
        if signature != run.drift_seen:
            run.drift_seen = signature
            by_key: dict[ResourceKey, list[DriftedField]] = {}
            for item in drift:
                by_key.setdefault(item.key, []).append(item)
            for key, items in by_key.items():
                fields = "; ".join(i.describe.removeprefix(f"{key.display} ") for i in items)
                self._emit(run, EventKind.DRIFT_DETECTED, fields, resource=key)
        what = _drift_line(drift)
        if not (self._auto_sync(app) and app.policy.self_heal):
            self._set_status(
                run,
                SyncStatus.OUT_OF_SYNC,
                health=health.code,
                message="drift detected; selfHeal off",
            )
            self._report(
                run,
                f"drift:{sorted(map(str, signature))}",
                f"drift: {what} → OutOfSync (selfHeal off)",
            )
            return
        healable, loops = self._guard.split(app.name, drift)
        for loop in loops:
            if (loop.key, loop.path) not in run.loops_seen:
                run.loops_seen |= {(loop.key, loop.path)}
                self._emit(
                    run,
                    EventKind.DRIFT_LOOP,
                    f"{loop.message}\n{loop.ignore_rule}",
                    resource=loop.key,
                )
        if not plan_filters.without_paused_fields(plan, loops).has_changes:
            names = ", ".join(f"{lp.key.display} {lp.path}" for lp in loops)
            self._report(
                run,
                f"loop:{sorted(map(str, signature))}",
                f"drift: {what} → not healed (drift loop: healing of this field is paused)",
            )
            self._set_status(
                run,
                SyncStatus.OUT_OF_SYNC,
                health=health.code,
                message=f"drift loop on {names}: not healed",
                loops=loops,
            )
            return
        for item in healable:
            self._guard.record_heal(app.name, item)
        if loops:
            what = _drift_line(healable)  # the line says what is healed, not what is paused
        ran, result = self._sync(run, state, cause=f"drift: {what}", heal=True, loops=loops)
        self._emit(
            run,
            EventKind.HEAL,
            # What ran: the hooks that already ran for this revision were left out.
            f"{'healed' if result.ok else 'heal failed'}: {plan_summary(ran)}"
            + ("" if result.ok else f": {result.message}"),
        )

    def _sync(
        self,
        run: _AppRun,
        state: AppState,
        *,
        cause: str,
        heal: bool,
        loops: tuple[DriftLoop, ...] = (),
    ) -> tuple[Plan, SyncResult]:
        """Run the plan of ``state`` (less the fields of ``loops``) and record
        it; the plan that ran (without the hooks already done for this
        revision) and its result."""
        app = run.pinned
        assert run.rendered is not None and run.revision is not None
        synced = operations.sync(
            state,
            targets=self.targets,
            store=self.store,
            request=self.options.request,
            ledger=self.ledger,
            paused=loops,
            sink=self._sink,
            source=app.source.describe + (" (self-heal)" if heal else ""),
            stop=self._stop,
        )
        plan, result = synced.plan, synced.result
        now = self._clock()
        outcome = result_summary(result)
        if heal and result.ok:
            outcome = outcome.replace("Synced", "Healed", 1)
        line = f"{cause} → {plan_summary(plan)} → {outcome}"
        if result.ok:
            run.retry = None
            if not heal:
                run.synced_render = _fingerprint(run.rendered)
            self._set_status(run, SyncStatus.SYNCED, health=result.health.code, loops=loops)
        elif not heal:
            retry = run.retry if run.retry and run.retry.revision == run.revision else None
            retry = retry or CommitRetry(run.revision)
            delay = retry.failed(app.policy.retry, now=now, jitter=self._rng.random, retriable=True)
            run.retry = retry
            if delay is None:
                line += "; no retry left for this commit (a new commit is synced at once)"
            else:
                spec = app.policy.retry
                limit = "unlimited" if spec is None or spec.limit < 0 else str(spec.limit)
                line += f"; retry {retry.failures}/{limit} in {delay:.1f}s"
            self._emit(run, EventKind.ERROR, line.split(" → ")[-1])
            self._set_status(
                run,
                SyncStatus.OUT_OF_SYNC,
                health=result.health.code,
                message=result.message,
                retry_at=retry.next_at,
            )
        self._emit(run, EventKind.CYCLE, line)
        run.reported = ""
        if self.options.auto_rollback and not heal:
            run.health_watch = (run.revision, now + self.options.rollback_window_s)
            if result.health.code is HealthCode.DEGRADED:
                self._auto_rollback(run, result.health)
        return plan, result

    def _failed_before_sync(self, run: _AppRun, exc: GitwaveError) -> None:
        """A plan that could not be made (a missing namespace, an unreachable
        target, an unsafe prune): reported once per attempt (not on every poll);
        retried per the retry spec when trying again can help."""
        app = run.pinned
        assert run.revision is not None
        last = self.store.last(app.name, succeeded_only=True)
        new = last is None or run.revision not in (last.revision, run.adopted)
        retry_at: float | None = None
        attempts = 0
        line = f"{_short(run.revision)} → error: {exc}"
        if new and self._auto_sync(app):
            retry = run.retry if run.retry and run.retry.revision == run.revision else None
            retry = retry or CommitRetry(run.revision)
            if not retry.blocks(run.revision, self._clock()):
                delay = retry.failed(
                    app.policy.retry,
                    now=self._clock(),
                    jitter=self._rng.random,
                    retriable=exc.retriable,
                )
                run.retry = retry
                line += "" if delay is None else f"; retry {retry.failures} in {delay:.1f}s"
            retry_at = retry.next_at
            attempts = retry.failures
        # Each retry is a line of its own, as a failed sync's are.
        self._report(run, f"plan:{run.revision}:{exc}:{attempts}", line)
        self._set_status(run, SyncStatus.UNKNOWN, message=str(exc), retry_at=retry_at)

    # -- pins and rollbacks ---------------------------------------------------------------

    def _pin(self, run: _AppRun) -> Pin | None:
        """The app's standing pin; a rollback recorded by someone else (``gitwave
        rollback``) pins an automated app first."""
        name = run.spec.name
        newest = self.store.last(name)
        if (
            newest is not None
            and newest.rollback_of is not None
            and newest.id != run.seen_rollback
            and run.spec.policy.automated
        ):
            run.seen_rollback = newest.id
            made = pin_rollback(self.store, self.ledger, name, newest.id)
            if made is not None:
                self._emit(
                    run,
                    EventKind.PIN,
                    f"pinned to {_short(made.revision)} after rollback #{newest.id}; commit "
                    f"{_short(made.skipped)} is skipped until a newer commit or "
                    f"`gitwave unpin {name}`",
                )
        return self.ledger.pin_of(name)

    def _pinned(self, run: _AppRun, pin: Pin, plan: Plan, health: Health) -> None:
        assert run.revision is not None
        name = run.spec.name
        if not pin.holds(run.revision):
            self.ledger.unpin(name, reason=f"new commit {_short(run.revision)}")
            self._emit(
                run,
                EventKind.PIN,
                f"unpinned: new commit {_short(run.revision)} (was pinned to "
                f"{_short(pin.revision)}, skipping {_short(pin.skipped)})",
            )
            run.assess = True
            return
        message = (
            f"pinned to {_short(pin.revision)} ({pin.reason}); skipping {_short(pin.skipped)} "
            f"until a newer commit or `gitwave unpin {name}`"
        )
        self._report(run, f"pin:{pin.id}:{run.revision}", f"{_short(run.revision)} → {message}")
        sync = SyncStatus.OUT_OF_SYNC if plan.has_changes else SyncStatus.SYNCED
        self._set_status(run, sync, health=health.code, message=message, pinned=pin)

    def _watch_health(self, run: _AppRun, health: Health) -> None:
        if not self.options.auto_rollback or run.health_watch is None:
            return
        revision, until = run.health_watch
        if self._clock() > until or revision != run.revision:
            run.health_watch = None
        elif health.code is HealthCode.DEGRADED:
            self._auto_rollback(run, health)

    def _auto_rollback(self, run: _AppRun, health: Health) -> None:
        """Roll back to the newest healthy revision and pin it (``--auto-rollback``)."""
        assert run.revision is not None
        run.health_watch = None
        name = run.spec.name
        bad = run.revision
        target = next(
            (
                r
                for r in self.store.history(name, limit=200)
                if r.result == SyncPhase.SUCCEEDED.value
                and not r.dry_run
                and r.revision
                and r.revision != bad
            ),
            None,
        )
        if target is None:
            self._emit(
                run,
                EventKind.ERROR,
                f"health {health} after syncing {_short(bad)}; no earlier healthy revision "
                "to roll back to",
            )
            return
        request = replace(
            self.options.request,
            prune=operations.effective_prune(run.pinned, self.options.request),
        )
        result = operations.rollback(
            run.pinned,
            target.id,
            targets=self.targets,
            store=self.store,
            request=request,
            sink=self._sink,
        ).result
        rolled = self.store.last(name)
        rolled_id = rolled.id if rolled is not None else None
        run.seen_rollback = rolled_id
        self.ledger.pin(
            name,
            revision=target.revision,
            skipped=bad,
            sync_id=rolled_id,
            reason=f"auto-rollback: {health.code.value} after syncing {_short(bad)}",
        )
        self._emit(
            run,
            EventKind.ROLLBACK,
            f"auto-rollback: {health} after syncing {_short(bad)}; rolled back to "
            f"#{target.id} @ {_short(target.revision)} → {result_summary(result)}",
        )
        self._emit(
            run,
            EventKind.PIN,
            f"pinned to {_short(target.revision)}; commit {_short(bad)} is skipped until a "
            f"newer commit or `gitwave unpin {name}`",
        )
        run.assess = True

    # -- output ----------------------------------------------------------------------

    def _emit(
        self,
        run: _AppRun,
        kind: EventKind,
        message: str,
        *,
        resource: ResourceKey | None = None,
    ) -> None:
        self._sink(
            Event(
                kind=kind,
                app=run.spec.name,
                message=message,
                revision=run.revision or "",
                resource=resource,
            )
        )

    def _report(
        self, run: _AppRun, key: str, message: str, *, kind: EventKind = EventKind.CYCLE
    ) -> None:
        """Emit a CYCLE line once per distinct situation (``key``), not every poll."""
        if key == run.reported:
            return
        run.reported = key
        if kind is not EventKind.CYCLE:
            self._emit(run, kind, message)
        self._emit(run, EventKind.CYCLE, message)

    def _set_status(
        self,
        run: _AppRun,
        sync: SyncStatus,
        *,
        health: HealthCode | None = None,
        message: str = "",
        pinned: Pin | None = None,
        loops: tuple[DriftLoop, ...] = (),
        retry_at: float | None = None,
    ) -> None:
        previous = run.status
        status = AppStatus(
            app=run.spec.name,
            revision=run.revision or "",
            sync=sync,
            health=health or (previous.health if previous else HealthCode.UNKNOWN),
            automated=run.spec.policy.automated,
            self_heal=run.spec.policy.self_heal,
            pinned=pinned,
            message=message,
            loops=loops,
            retry_at=retry_at,
        )
        with self._lock:
            run.status = status


def _drift_line(drift: Sequence[DriftedField]) -> str:
    """The first drifted field, and how many more: for one-line output."""
    if not drift:
        return "no fields"
    first = drift[0].describe
    return first if len(drift) == 1 else f"{first} (+{len(drift) - 1} more)"


def run_loop(
    location: str,
    *,
    targets: Targets,
    store: Store,
    sink: EventSink = discard,
    stop: threading.Event,
    options: LoopOptions = LoopOptions(),
    only: Collection[str] = (),
) -> None:
    """Reconcile the apps at ``location`` until ``stop`` is set (``gitwave run``).

    Raises GitwaveError when the apps cannot be loaded at the start."""
    Reconciler(location, targets=targets, store=store, sink=sink, options=options, only=only).run(
        stop
    )
