"""The terminal UI's one door into the engine.

The Textual app computes nothing itself: it asks this controller for values
(the apps, an app's plan and live tree, the history, the events) and hands it
the operations a user confirmed (sync, sync one resource, roll back, pause
auto-sync). Every method blocks and may take seconds on a big app, so the app
calls them from thread workers, never from its event loop.

The controller depends on the ``ProviderRouter`` it is given, not on a
provider: the live tree lists the objects an app's resources own (Deployment →
ReplicaSet → Pod) only through a target that can list objects (``ObjectLister``,
which the sandbox is); elsewhere it shows the desired objects as observed.
The operations that change the target are in ``controller_changes``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from gitwave.engine import operations
from gitwave.engine.apps import AppSpec, checkout_for
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.events import Event
from gitwave.engine.fleet import Fleet
from gitwave.engine.fleet_run import DEFAULT_CONCURRENT, Finished, run_fleet
from gitwave.engine.loop_store import LoopStore
from gitwave.engine.model import (
    Health,
    HealthCode,
    ResourceKey,
    SyncStatus,
)
from gitwave.engine.operations import SyncRequest
from gitwave.engine.pauses import AUTOSYNC_FILE, AutoSyncFlags
from gitwave.engine.provider import ObjectLister
from gitwave.engine.router import ProviderRouter
from gitwave.engine.source import DIRTY_SUFFIX, commit_subject
from gitwave.engine.store import Store
from gitwave.engine.store_records import RUNNING, SyncRecord
from gitwave.tui.controller_changes import TargetChanges
from gitwave.tui.live_tree import live_tree
from gitwave.tui.object_views import LogText, ObjectInfo, inspect_object, object_logs
from gitwave.tui.views import (
    AppSummary,
    AppView,
    AutoSync,
    PlanChangedError,
    ResourceNode,
    Revision,
)

__all__ = [
    "AppSummary",
    "AppView",
    "AutoSync",
    "AutoSyncFlags",
    "Controller",
    "ObjectLister",
    "PlanChangedError",
    "ResourceNode",
    "Revision",
    "SyncRequest",
    "SyncStatus",
]


class Controller(TargetChanges):
    """Engine calls for the TUI, for the apps under one location.

    ``clock`` tells the time the screens compare history times with (ages
    like "2m ago"); tests fix it so screenshots do not change.
    """

    def __init__(
        self,
        location: str,
        *,
        targets: ProviderRouter,
        store: Store,
        state_dir: Path,
        revision: str | None = None,
        only: Sequence[str] = (),
        allow_local_repos: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
        concurrent: int = DEFAULT_CONCURRENT,
        fleet: Fleet | None = None,
    ) -> None:
        self.location = location
        self.concurrent = concurrent  # apps planned (the list) or cycled (watch) at once
        self.allow_local_repos = tuple(allow_local_repos)
        self.targets = targets  # the current target
        self.fleet = fleet or Fleet.single(targets)  # each app's destination
        self.store = store
        self.state_dir = Path(state_dir)
        self.source_revision = revision
        self.only = tuple(only)
        self.clock = clock
        self.flags = AutoSyncFlags(self.state_dir / AUTOSYNC_FILE)
        self.pins = LoopStore.beside(store)
        self._apps: list[AppSpec] | None = None
        self._subjects: dict[str, str] = {}
        self._views: dict[str, AppView] = {}
        self._lock = threading.Lock()

    # -- what there is ---------------------------------------------------------------

    @property
    def target_name(self) -> str:
        return self.targets.description

    @property
    def location_label(self) -> str:
        """The location as the title bar shows it: its last path component."""
        text = self.location.rstrip("/")
        return text.rsplit("/", 1)[-1] or text

    def apps(self, *, reload: bool = False) -> list[AppSpec]:
        """The apps under the location in sync order (an app of apps shows its
        children, as ``gitwave status`` does), filtered by ``only``.

        Raises what ``load_apps`` raises, and ValidationError for an unknown
        name in ``only``."""
        with self._lock:
            if self._apps is not None and not reload:
                return list(self._apps)
        apps = operations.select_apps(
            self.location,
            revision=self.source_revision,
            only=self.only,
            allow_local_repos=self.allow_local_repos,
            clusters=self.fleet,
        )
        with self._lock:
            self._apps = apps
        return list(apps)

    def cached_apps(self) -> list[AppSpec]:
        """The apps last listed by ``apps()``, without reading anything ([] before)."""
        with self._lock:
            return list(self._apps or ())

    def app(self, name: str) -> AppSpec:
        """The app called ``name``; ValidationError naming the known apps when none is."""
        apps = self.apps()
        for app in apps:
            if app.name == name:
                return app
        raise ValidationError(
            self.location,
            f"no app named {name!r}",
            hint="apps here: " + ", ".join(a.name for a in apps),
        )

    def auto_sync(self, app: AppSpec) -> AutoSync:
        pinned = self.pins.pin_of(app.name) is not None
        return AutoSync.of(app, paused=self.flags.is_paused(app.name), pinned=pinned)

    def set_paused(self, name: str, *, paused: bool) -> AutoSync:
        """Pause or resume auto-sync of app ``name``; returns the new state."""
        app = self.app(name)
        self.flags.set_paused(app.name, paused, now=self.clock())
        return self.auto_sync(app)

    def revision_of(self, app: AppSpec, sha: str) -> Revision:
        """``sha`` with its commit subject read from the app's checkout ("" when unknown)."""
        if not sha:
            return Revision("")
        with self._lock:
            subject = self._subjects.get(sha)
        if subject is None:
            try:
                subject = commit_subject(checkout_for(app).root, sha.removesuffix(DIRTY_SUFFIX))
            except GitwaveError:
                subject = ""
            with self._lock:
                self._subjects[sha] = subject
        return Revision(sha, subject)

    # -- reading an app --------------------------------------------------------------

    def last_view(self, name: str) -> AppView | None:
        """The view ``view(name)`` last returned, without planning again (None before)."""
        with self._lock:
            return self._views.get(name)

    def _now(self) -> datetime:
        """The controller's clock as an aware datetime, for sync windows."""
        return datetime.fromtimestamp(self.clock(), UTC)

    def view(self, name: str) -> AppView:
        """Plan ``name`` against the targets and build its live tree.

        A GitwaveError from planning (bad input, an unreachable target) does
        not raise: it is in ``summary.error``."""
        result = self._view(name)
        with self._lock:
            self._views[name] = result
        return result

    def running_operation(self, name: str) -> tuple[str, str]:
        """("Syncing", who) while a sync of ``name`` runs, in any process: its
        newest history row is Running and the app's lock is held by a live
        holder (a killed sync leaves a Running row and a stale lock); ("", "")
        otherwise."""
        _, result = self.store.newest(name)
        if result != RUNNING:
            return "", ""
        holder = self.store.locks.holder_of(name)
        if holder is None or self.store.locks.is_stale(holder):
            return "", ""
        return "Syncing", holder.describe()

    def _view(self, name: str) -> AppView:
        app = self.app(name)
        observed_at = self.clock()
        last = self.store.last(app.name)
        auto = self.auto_sync(app)
        operation, operation_by = self.running_operation(app.name)
        destination = ""
        try:
            destination = self.fleet.destination_of(app).display
            targets = self.fleet.targets_for(app)
            state = operations.plan(app, SyncRequest(), targets=targets)
        except GitwaveError as exc:
            error = str(exc) + (f" (hint: {exc.hint})" if exc.hint else "")
            summary = AppSummary(
                name=app.name,
                sync=SyncStatus.UNKNOWN,
                health=Health(HealthCode.UNKNOWN, "not planned"),
                revision=Revision(""),
                last=last,
                auto_sync=auto,
                error=error,
                destination=destination,
                operation=operation,
                operation_by=operation_by,
            )
            return AppView(app, summary, None, (), observed_at)
        healths = operations.resource_healths(state, targets=targets)
        nodes = live_tree(state, healths, targets)
        app_health = operations.app_health(state, targets=targets)
        window = operations.window_verdict(app, self._now())
        summary = AppSummary(
            name=app.name,
            sync=SyncStatus.of_plan(state.plan),
            health=app_health,
            revision=self.revision_of(app, state.plan.revision),
            last=last,
            auto_sync=auto,
            resources=len(state.graph.resources),
            destination=destination,
            window=window.brief,
            window_blocks=not window.auto_allowed,
            operation=operation,
            operation_by=operation_by,
        )
        return AppView(app, summary, state, nodes, observed_at)

    def inspect(self, name: str, key: ResourceKey, view: AppView | None = None) -> ObjectInfo:
        """Object ``key`` of app ``name`` read from its target now, masked, with
        the target's events about it and gitwave's (``object_views``)."""
        app = self.app(name)
        return inspect_object(
            view or self.last_view(name),
            key,
            targets=self.fleet.targets_for(app),
            store=self.store,
            app_name=app.name,
        )

    def logs(self, name: str, key: ResourceKey, view: AppView | None = None) -> LogText:
        """The last lines of the Pod ``key`` is or owns; LogsUnavailableError when
        the target keeps no logs (the sandbox)."""
        app = self.app(name)
        return object_logs(view or self.last_view(name), key, targets=self.fleet.targets_for(app))

    def view_all(
        self,
        names: Sequence[str],
        *,
        on_view: Callable[[AppView], None],
        on_error: Callable[[GitwaveError], None],
        stop: threading.Event,
    ) -> None:
        """``view`` each of ``names``, ``concurrent`` at a time (``engine.fleet_run``,
        as ``sync`` and ``watch`` run apps), calling ``on_view`` (or ``on_error``)
        from the thread that planned it as each ends. Once ``stop`` is set no
        other app starts. Blocks: call it from a thread worker."""

        def one(name: str) -> AppView | None:
            return None if stop.is_set() else self.view(name)

        def finished(done: Finished[AppView | None]) -> None:
            if done.value is not None:
                on_view(done.value)
            elif isinstance(done.error, GitwaveError):
                on_error(done.error)
            elif done.error is not None:
                raise done.error  # a bug: not an app's failure to show

        run_fleet(
            list(names),
            one,
            name_of=lambda name: name,
            concurrent=self.concurrent,
            interrupt=stop,
            on_finish=finished,
        )

    def summaries(self) -> Iterable[AppSummary]:
        """``view(app).summary`` for every app, one at a time, in sync order."""
        for app in self.apps():
            yield self.view(app.name).summary

    def history(self, name: str, *, limit: int = 100) -> list[SyncRecord]:
        """Past syncs of ``name``, newest first (a running or interrupted one too)."""
        return operations.history(self.store, name, limit=limit)

    def history_entry(self, sync_id: int) -> SyncRecord:
        """One history entry with its per-resource outcomes; StoreError when unknown."""
        return self.store.get(sync_id)

    def events(self, name: str, *, limit: int = 1000) -> list[Event]:
        """The recorded events of ``name``, oldest first."""
        return self.store.events(name, limit=limit)
