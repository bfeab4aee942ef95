"""The reconcile loop's values and its shared core: options, the status of
each app, the mutable per-app run, and the output helpers every part uses."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from gitwave.engine.app_choice import ChosenApp
from gitwave.engine.app_pipeline import Desired
from gitwave.engine.apps import AppSpec, RetrySpec
from gitwave.engine.drift import DriftLoop, LoopGuard
from gitwave.engine.events import Event, EventKind, EventSink
from gitwave.engine.fleet import Fleet
from gitwave.engine.fleet_run import DEFAULT_CONCURRENT
from gitwave.engine.label_selector import LabelSelector
from gitwave.engine.loop_store import LoopStore, Pin
from gitwave.engine.model import Health, HealthCode, ResourceKey, SyncStatus
from gitwave.engine.operations import SyncRequest
from gitwave.engine.pauses import AutoSyncFlags
from gitwave.engine.render import Rendered
from gitwave.engine.retry import SELF_HEAL_BACKOFF, CommitRetry
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store

DEFAULT_INTERVAL_S = 180.0  # Argo CD's application resync period
DEFAULT_DRIFT_POLL_S = 0.2
# The loop never waits for an app another operation holds (it would hold up
# every other app): it asks once and looks again this much later.
BUSY_RETRY_S = 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopOptions:
    """How ``Reconciler`` runs. ``interval_s`` overrides every app's interval.
    ``heal_backoff`` is how a self-healing app retries a failed sync once its
    retry spec ran out, or without one (Argo CD's self-heal backoff)."""

    interval_s: float | None = None
    drift_poll_s: float = DEFAULT_DRIFT_POLL_S
    heal_limit: int = 3
    heal_window_s: float = 300.0
    auto_rollback: bool = False
    rollback_window_s: float = 300.0
    heal_backoff: RetrySpec = SELF_HEAL_BACKOFF
    request: SyncRequest = field(default_factory=SyncRequest)
    allow_local_repos: tuple[str, ...] = ()  # see load_apps
    # Apps stepped at once (engine.fleet_run); 1: one after another, on the loop's thread.
    concurrent: int = DEFAULT_CONCURRENT
    # ``-l``: only the apps whose labels match, read again on each pass (a label
    # changed in Git takes an app in or out, as argocd's selectors follow labels).
    selector: LabelSelector | None = None


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


def short(revision: str | None) -> str:
    return revision[:7] if revision else "-"


Fingerprint = tuple[tuple[ResourceKey, Any], ...]


def fingerprint(rendered: Rendered) -> Fingerprint:
    """What an app renders to, comparable across commits (in memory only)."""
    return tuple((r.key, r.manifest) for r in rendered.resources)


@dataclass
class AppRun:
    """The loop's mutable state of one app."""

    spec: AppSpec
    pinned: AppSpec  # the spec with its source fixed at ``revision``
    next_poll: float = 0.0
    revision: str | None = None  # None: not resolved yet
    moved_from: str | None = None  # the commit before, once a new one arrived
    rendered: Rendered | None = None
    desired: Desired | None = None  # what ``rendered`` composes to, with its graph
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
    # The newest history row (``Store.newest``) the current assessment decides
    # on: a sync it starts is refused if another operation recorded one since.
    decided_on: tuple[int, str] = (0, "")
    status: AppStatus | None = None


class LoopCore:
    """What the parts of ``Reconciler`` share: its collaborators, the per-app
    runs, and how it reports. ``Decisions`` and ``PinsAndRollbacks`` build on
    it, as does ``Polling``; ``Reconciler`` (``engine.reconciler.loop``) sets it up."""

    location: str
    targets: ProviderRouter  # the current target
    fleet: Fleet  # each app's destination and its router
    store: Store
    ledger: LoopStore
    autosync: AutoSyncFlags
    options: LoopOptions
    _sink: EventSink
    _clock: Callable[[], float]
    _rng: random.Random
    _guard: LoopGuard
    _runs: dict[str, AppRun]
    _broken: dict[str, ChosenApp]
    _broken_reported: dict[str, str]
    _lock: threading.Lock
    _stop: threading.Event | None

    def targets_for(self, app: AppSpec) -> ProviderRouter:
        """The router ``app`` is reconciled through (its destination cluster's,
        shared by the apps going there): asked for here, in one place."""
        return self.fleet.targets_for(app)

    @property
    def _request(self) -> SyncRequest:
        """The options' request, asking for an app's lock without waiting for it."""
        return replace(self.options.request, lock_timeout_s=0.0)

    def _auto_sync(self, app: AppSpec) -> bool:
        """syncPolicy.automated, unless someone paused the app's auto-sync."""
        return app.policy.automated and not self.autosync.is_paused(app.name)

    def _due(self, run: AppRun, now: float) -> bool:
        retry = run.retry
        armed = retry is not None and retry.armed and now >= (retry.next_at or 0.0)
        return now >= run.next_poll or run.assess or armed

    def _step_safely(self, run: AppRun) -> None:
        if self._stop is not None and self._stop.is_set():
            return  # stopping: no app starts any more
        try:
            self._step_app(run)
        except Exception as exc:  # one app's bug must not stop the others
            self._crashed(run, exc)

    def _step_app(self, run: AppRun) -> None:
        """Poll, plan and act on one app (``Reconciler``)."""
        raise NotImplementedError

    def _auto_rollback(self, run: AppRun, health: Health) -> None:
        """Roll back to the newest healthy revision and pin it (``PinsAndRollbacks``)."""
        raise NotImplementedError

    # -- output ----------------------------------------------------------------------

    def _emit(
        self,
        run: AppRun,
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
        self, run: AppRun, key: str, message: str, *, kind: EventKind = EventKind.CYCLE
    ) -> None:
        """Emit a CYCLE line once per distinct situation (``key``), not every poll."""
        if key == run.reported:
            return
        run.reported = key
        if kind is not EventKind.CYCLE:
            self._emit(run, kind, message)
        self._emit(run, EventKind.CYCLE, message)

    def _crashed(self, run: AppRun, exc: Exception) -> None:
        """An unexpected failure of one app (a gitwave bug): reported and retried at
        the app's next poll, while the other apps carry on. The exception's text is
        left out: it may quote a value from Git, a Secret's too."""
        run.assess = False
        where = exc.__traceback__.tb_frame.f_code.co_filename if exc.__traceback__ else ""
        message = f"internal error ({type(exc).__name__}); the other apps carry on"
        self._report(run, f"bug:{type(exc).__name__}:{where}", f"→ error: {message}")
        self._set_status(run, SyncStatus.UNKNOWN, message=message)

    def _set_broken(self, broken: Sequence[ChosenApp]) -> None:
        """Keep the apps that cannot be loaded, and report each one's error once
        per distinct error (not on every poll: its status carries it meanwhile)."""
        with self._lock:
            self._broken = {entry.name: entry for entry in broken}
        for entry in broken:
            line = f"app definition: error: nothing is synced or pruned for it: {entry.error}"
            if self._broken_reported.get(entry.name) != line:
                self._broken_reported[entry.name] = line
                self._sink(Event(kind=EventKind.CYCLE, app=entry.name, message=line))
        for name in list(self._broken_reported):
            if name not in self._broken:
                del self._broken_reported[name]

    def _set_status(
        self,
        run: AppRun,
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


def broken_status(entry: ChosenApp) -> AppStatus:
    """The status of an app that cannot be loaded: Unknown, with its error."""
    spec = entry.spec
    return AppStatus(
        app=entry.name,
        revision="",
        sync=SyncStatus.UNKNOWN,
        health=HealthCode.UNKNOWN,
        automated=spec.policy.automated if spec is not None else False,
        self_heal=spec.policy.self_heal if spec is not None else False,
        message=f"error: {entry.error}",
    )
