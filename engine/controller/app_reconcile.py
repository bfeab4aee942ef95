"""One app's reconcile in the controller: parse, decide, compare or sync, write status.

``AppReconciler.reconcile`` is what a worker thread (``workers.AppWorkers``)
runs for one app of a held shard; ``Controller`` (loop.py) decides which apps
to queue by asking ``worth_queueing``; when an app is due is decided in
app_due.py. Per app, only one worker at a time, so the per-app bookkeeping
(``app_due.Seen``) is never written by two threads at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gitwave.engine.app_pipeline import AppState
from gitwave.engine.app_status import app_health
from gitwave.engine.apps.model import AppSpec, RepoResolver
from gitwave.engine.controller.app_due import Seen, due, worth_queueing
from gitwave.engine.controller.app_objects import parse_app_object
from gitwave.engine.controller.backoff import Backoff
from gitwave.engine.controller.hook_ledger import ConfigMapHookLedger, ConfigMapStore
from gitwave.engine.controller.keeper import (
    ControllerApi,
    ControllerOptions,
    LeaseLost,
    ShardKeeper,
)
from gitwave.engine.controller.objects import ARGO_KIND, HELM_KIND, AppObject
from gitwave.engine.controller.release_store import record_release
from gitwave.engine.controller.requests import (
    is_suspended,
    reconcile_requested,
    refresh_requested,
)
from gitwave.engine.controller.retry_reconcile import Retries, source_head
from gitwave.engine.controller.status import argo_status, running_state
from gitwave.engine.controller.status_of import failure_status, synced_status
from gitwave.engine.controller.timeline import operation_event
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.hooks import HookLedger
from gitwave.engine.interrupts import Interrupted, interruptible
from gitwave.engine.model import HealthCode
from gitwave.engine.operations import SyncRequest, plan, sync_app
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store

log = logging.getLogger("gitwave.controller")


@dataclass(frozen=True)
class Operated:
    """One sync this replica ran: what the audit log line records."""

    app_id: str
    replica: str
    shard: int
    started: str
    finished: str
    phase: str


class AppReconciler:
    """Reconciles one app at a time per app (any number of apps at once); a
    failed automated sync waits out its back-off (``Retries``, retry_reconcile.py)."""

    def __init__(
        self,
        api: ControllerApi,
        keeper: ShardKeeper,
        *,
        targets: ProviderRouter,
        store: Store | None,
        options: ControllerOptions,
        clock: Callable[[], datetime],
        audit: Callable[[Operated], None],
        resolve: RepoResolver,
        backoff: Backoff,
        head: Callable[[AppSpec], str | None] = source_head,
    ) -> None:
        self._api = api
        self._keeper = keeper
        self._targets = targets
        self._store = store
        self._options = options
        self._clock = clock
        self._audit = audit
        self._resolve = resolve
        self._seen: dict[str, Seen] = {}
        self._resync = timedelta(seconds=options.resync_s)
        self._retries = Retries(
            api, backoff=backoff, clock=clock, targets=targets, store=store, head=head
        )

    def _ledger(self, obj: AppObject) -> HookLedger | None:
        """Hook runs in a ConfigMap when the cluster API keeps ConfigMaps, so a
        replica taking the app over does not run its hooks again."""
        if isinstance(self._api, ConfigMapStore):
            scope = f"operation-{obj.generation}" if obj.body.get("operation") else "auto"
            return ConfigMapHookLedger(self._api, obj.app_id, scope=scope)
        return None

    def _parse(self, obj: AppObject) -> AppSpec:
        app = parse_app_object(obj, self._api, self._resolve)
        self._retries.parsed(obj, app)
        return app

    def worth_queueing(self, obj: AppObject, now: datetime) -> bool:
        """False when ``reconcile`` would surely do nothing (``app_due.worth_queueing``)."""
        return worth_queueing(
            obj, now, self._seen.get(obj.app_id), retries=self._retries, resync=self._resync
        )

    def reconcile(self, obj: AppObject, shard: int, interrupt: threading.Event) -> bool:
        """Compare or sync ``obj`` if due; True when it synced. An Argo refresh
        asked for is removed once the app was compared (status written), as
        Argo CD does; left for the next holder when the shard went meanwhile."""
        synced = self._reconcile(obj, shard, interrupt)
        if refresh_requested(obj) and not is_suspended(obj) and not interrupt.is_set():
            # After the status: ``argocd app get --refresh`` waits for the
            # annotation to go, then reads the status.
            self._seen.setdefault(obj.app_id, Seen()).refreshed = self._api.clear_refresh(obj)
        return synced

    def _reconcile(self, obj: AppObject, shard: int, interrupt: threading.Event) -> bool:
        if self._retries.held(obj):
            return False
        now = self._clock()
        seen = self._seen.setdefault(obj.app_id, Seen())
        if is_suspended(obj):
            # Argo's skip-reconcile, Flux's spec.suspend: nothing is compared or
            # applied. A Flux reconcile request is still answered (as Flux
            # records lastHandledReconcileAt), so whoever asked sees it was seen.
            asked = reconcile_requested(obj)
            if asked:
                self._api.write_status(obj, {"lastHandledReconcileAt": asked})
            return False
        try:
            app = self._parse(obj)
        except ValidationError as error:
            if seen.generation != obj.generation or refresh_requested(obj):
                self._write_failure(obj, str(error), now)
                seen.generation = obj.generation
            seen.invalid = True
            return False
        seen.invalid = False
        seen.automated = app.policy.automated or obj.kind != ARGO_KIND
        sync_now, compare_now = due(obj, app, now, seen, retries=self._retries, resync=self._resync)
        if not compare_now:
            return False
        if not sync_now:
            self._compare(obj, app, now)
        else:
            self._sync(obj, app, shard, now, interrupt)
        seen.generation = obj.generation
        seen.checked = now
        return sync_now

    def _compare(self, obj: AppObject, app: AppSpec, now: datetime) -> None:
        try:
            state = plan(app, SyncRequest(), targets=self._targets)
        except GitwaveError as error:
            self._write_failure(obj, str(error), now)
            return
        health = app_health(state, targets=self._targets)
        self._write(
            obj,
            state,
            in_sync=not state.plan.has_changes,
            health_message=health.message,
            health=health.code,
            now=now,
        )

    def _write(
        self,
        obj: AppObject,
        state: AppState,
        *,
        in_sync: bool,
        health: HealthCode,
        health_message: str,
        now: datetime,
    ) -> None:
        if obj.kind == ARGO_KIND:
            self._api.write_status(
                obj,
                argo_status(
                    in_sync=in_sync,
                    revision=state.revision,
                    health=health,
                    health_message=health_message,
                    now=now,
                ),
            )

    def _write_failure(self, obj: AppObject, message: str, now: datetime) -> dict[str, Any]:
        status = failure_status(obj, message, now)
        self._api.write_status(obj, status)
        return status

    def _sync(
        self, obj: AppObject, app: AppSpec, shard: int, now: datetime, interrupt: threading.Event
    ) -> None:
        operation = obj.body.get("operation")
        initiated = "automated"
        if isinstance(operation, Mapping):
            who = (operation.get("initiatedBy") or {}).get("username")
            initiated = str(who) if who else "operation"

        def still_mine(_: AppState) -> None:
            # Checked once more right before anything is applied: a Lease lost
            # while planning stops this sync before it touches the target.
            if not self._keeper.holds(shard):
                raise LeaseLost(f"{obj.app_id}: shard {shard} is no longer held by this replica")

        started = self._clock()
        # A line when the sync starts too: a replica killed mid-sync leaves
        # its start in the audit, so an overlap with the next holder shows.
        self._operated(
            obj,
            Operated(
                app_id=obj.app_id,
                replica=self._options.replica,
                shard=shard,
                started=started.isoformat(),
                finished="",
                phase="Running",
            ),
            initiated,
        )
        phase = "Error"
        try:
            phase, written = self._run_sync(
                obj, app, operation, initiated, still_mine, now, interrupt
            )
        finally:
            # Every start gets an end (Succeeded, Failed, Error, Interrupted),
            # written after the status: the app is this replica's until then.
            self._operated(
                obj,
                Operated(
                    app_id=obj.app_id,
                    replica=self._options.replica,
                    shard=shard,
                    started=started.isoformat(),
                    finished=self._clock().isoformat(),
                    phase=phase,
                ),
                initiated,
            )
        # After the audit's end line: the retry's status completes the failure's.
        self._retries.synced(obj, phase, written, interrupted=interrupt.is_set())

    def _operated(self, obj: AppObject, operated: Operated, initiated: str) -> None:
        """The audit line, and the same as an Event on the app (the cluster's copy)."""
        self._audit(operated)
        event = operation_event(
            obj,
            replica=operated.replica,
            started=operated.started,
            finished=operated.finished,
            phase=operated.phase,
            initiated=initiated,
        )
        try:
            self._api.record_event(obj, event)
        except Exception as error:  # the timeline never stops a sync
            log.warning("%s: recording the %s Event failed: %s", obj.app_id, event.reason, error)

    def _run_sync(
        self,
        obj: AppObject,
        app: AppSpec,
        operation: object,
        initiated: str,
        still_mine: Callable[[AppState], None],
        now: datetime,
        interrupt: threading.Event,
    ) -> tuple[str, Mapping[str, Any]]:
        """Sync ``app`` and write its status; the phase it ended in and that
        status. ``interrupt``
        (registered with the keeper by the workers) stops it between waves."""
        asked: Mapping[str, Any] = operation if isinstance(operation, Mapping) else {}
        found = asked.get("sync")
        sync_asked: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        if asked and obj.kind == ARGO_KIND:
            # As Argo CD: the operation shows as Running while it runs.
            self._api.write_status(obj, {"operationState": running_state(asked, now)})
        try:
            with interruptible(interrupt):
                synced = sync_app(
                    app,
                    targets=self._targets,
                    store=self._store,
                    request=SyncRequest(
                        lock_timeout_s=0,
                        retry=False,
                        prune=True if sync_asked.get("prune") is True else None,
                    ),
                    on_plan=still_mine,
                    ledger=self._ledger(obj),
                )
        except (LeaseLost, Interrupted):
            # Stopped before a wave: the next holder of the shard syncs it again.
            log.info("%s: stopped between waves (its shard given up)", obj.app_id)
            return "Interrupted", {}
        except GitwaveError as error:
            written = self._write_failure(obj, str(error), now)
            if operation and not interrupt.is_set():
                self._cleared(obj)
            return "Error", written
        result = synced.result
        finished = self._clock()
        self._seen[obj.app_id].synced = finished
        status = synced_status(obj, app, synced, initiated=initiated, now=finished)
        self._api.write_status(obj, status)
        if obj.kind == HELM_KIND:
            record_release(self._api, obj, app, synced, status)
        if operation and not interrupt.is_set():
            # After the status: whoever waits for the operation to go reads
            # the operationState of this run, as with Argo CD. Interrupted
            # (shard lost, shutdown): left for the next holder, as before.
            self._cleared(obj)
        return str(result.phase.value), status

    def _cleared(self, obj: AppObject) -> None:
        self._api.clear_operation(obj)
        self._seen[obj.app_id].operated = obj.generation


__all__ = ["AppReconciler", "Operated"]
