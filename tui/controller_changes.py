"""The controller's operations that change the target: preview, sync, watch
and roll back (``Controller`` mixes them in; the reads are in ``controller``)."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING

from gitwave.engine import operations, prune_guard
from gitwave.engine.apps import AppSpec
from gitwave.engine.events import Event, EventSink, discard
from gitwave.engine.fleet import Fleet
from gitwave.engine.loop_store import LoopStore
from gitwave.engine.model import Plan
from gitwave.engine.operations import AppState, SyncRequest
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.engine.sync import SyncResult
from gitwave.engine.watch import WatchOptions, watch
from gitwave.tui.formatting import revision_text
from gitwave.tui.views import PlanChangedError


def _plan_signature(plan: Plan) -> tuple[str, tuple[tuple[str, str], ...]]:
    """What a confirmation covers: the revision and what happens to which object."""
    return plan.revision, tuple(
        (str(t.key), t.action.value) for t in plan.tasks() if t.action.changes_target
    )


class TargetChanges:
    if TYPE_CHECKING:
        targets: ProviderRouter
        fleet: Fleet
        store: Store
        pins: LoopStore
        allow_local_repos: tuple[str, ...]
        concurrent: int

        def app(self, name: str) -> AppSpec: ...
        def _now(self) -> datetime: ...

    def preview(self, name: str, request: SyncRequest) -> Plan:
        """The plan ``sync(name, request)`` would carry out, for a confirmation.

        Raises GitwaveError for bad input (nothing is applied)."""
        app = self.app(name)
        return operations.plan(app, request, targets=self.fleet.targets_for(app)).plan

    def preview_guarded(
        self, name: str, request: SyncRequest
    ) -> tuple[Plan, prune_guard.BlastRadius]:
        """As ``preview``, with the plan's blast radius: whether the prune guard
        stops it (the TUI then asks for the app's name typed).

        Raises GitwaveError for bad input (nothing is applied)."""
        app = self.app(name)
        state = operations.plan(app, request, targets=self.fleet.targets_for(app))
        return state.plan, prune_guard.blast_radius(state, limit=request.prune_limit)

    def _sink(self, sink: EventSink, request: SyncRequest) -> EventSink:
        if request.dry_run:
            return sink  # like the CLI: a dry run leaves no trace in the timeline

        def both(event: Event) -> None:
            self.store.record_event(event)
            sink(event)

        return both

    def sync(
        self,
        name: str,
        request: SyncRequest,
        *,
        confirmed: Plan | None = None,
        sink: EventSink = discard,
    ) -> SyncResult:
        """Sync app ``name`` (or one resource of it) and record it in the history.

        With ``confirmed`` (the plan a user said yes to), the sync stops with
        PlanChangedError before applying anything if the new plan differs
        (another commit, or drift since). Raises GitwaveError for bad input;
        a failed object does not raise, it is in the result."""
        app = self.app(name)
        events = self._sink(sink, request)
        checked = False

        def check(state: AppState) -> None:
            nonlocal checked
            if confirmed is None or checked:
                return  # only the first attempt: a retry re-plans what is left
            checked = True
            plan = state.plan
            if _plan_signature(plan) != _plan_signature(confirmed):
                if plan.revision != confirmed.revision:
                    detail = (
                        f"the source moved from {revision_text(confirmed.revision)} "
                        f"to {revision_text(plan.revision)}"
                    )
                else:
                    detail = "the live state changed since the plan was shown"
                raise PlanChangedError(app.name, detail)

        if request.resource is None and not request.force:
            return operations.sync_app(
                app,
                targets=self.fleet.targets_for(app),
                store=self.store,
                request=request,
                ledger=self.pins,
                sink=events,
                on_plan=check,
                clock=self._now,
            ).result
        # One resource, or everything forced: planned once, not retried.
        if not request.dry_run:
            operations.check_manual_window(app, self._now())
        targets = self.fleet.targets_for(app)
        state = operations.plan(app, request, targets=targets)
        check(state)
        what = f" (only {request.resource.display})" if request.resource else " (forced)"
        return operations.sync(
            state,
            targets=targets,
            store=self.store,
            request=request,
            ledger=self.pins,
            sink=events,
            source=app.source.describe + what,
        ).result

    def watch(self, path: str, *, sink: EventSink, stop: threading.Event) -> None:
        """Watch mode on ``path`` (``gitwave tui --watch``) into this controller's
        targets and history until ``stop`` is set; blocks, so call it from a
        worker. Raises GitwaveError when the apps cannot be loaded at the start."""
        watch(
            path,
            targets=self.targets,
            fleet=self.fleet,
            store=self.store,
            sink=sink,
            stop=stop,
            options=WatchOptions(
                allow_local_repos=self.allow_local_repos, concurrent=self.concurrent
            ),
        )

    def rollback_preview(self, name: str, sync_id: int) -> Plan:
        """The plan a rollback to history entry ``sync_id`` would carry out (a dry run)."""
        app = self.app(name)
        synced = operations.rollback(
            app,
            sync_id,
            targets=self.fleet.targets_for(app),
            store=self.store,
            request=SyncRequest(dry_run=True),
        )
        return synced.plan

    def rollback(self, name: str, sync_id: int, *, sink: EventSink = discard) -> SyncResult:
        """Re-apply the manifests of history entry ``sync_id``; recorded in the history."""
        app = self.app(name)
        return operations.rollback(
            app,
            sync_id,
            targets=self.fleet.targets_for(app),
            store=self.store,
            sink=self._sink(sink, SyncRequest()),
        ).result
