"""One app's reconcile in the controller: parse, decide, compare or sync, write status.

``AppReconciler.reconcile`` is what a worker thread (``workers.AppWorkers``)
runs for one app of a held shard; ``Controller`` (loop.py) decides which apps
to queue. Per app, only one worker at a time, so the per-app bookkeeping
(``_Seen``) is never written by two threads at once.
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


@dataclass
class _Seen:
    generation: int = -1
    checked: datetime | None = None
    synced: datetime | None = None
    # The generation whose ``operation`` this replica ran and cleared: setting
    # an operation bumps the generation, a status write does not, so a watch
    # event still carrying it (written before the clear) is not a new request.
    operated: int = -1
    # What the last parse said: None before one, False for a manual Argo app
    # (never synced unless asked), and whether it failed (asked again each pass).
    automated: bool | None = None
    invalid: bool = False
    # The resourceVersion the object had once this replica removed its refresh
    # annotation: a watch cache a step behind (the status write seen, the
    # removal not yet) still shows it, and that copy is not a new request.
    refreshed: str = ""


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
        self._seen: dict[str, _Seen] = {}
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
        """False when ``reconcile`` would surely do nothing (no parse needed to
        tell): a pass comes at every watch event, most apps are not due."""
        if self._refresh_pending(obj):
            # ``argocd app get --refresh``: compared now, backing off or not
            # (a refresh is not a sync; ``_due`` says whether it syncs).
            return True
        backoff = self._retries.queueing(obj, now)
        if backoff is not None:
            return backoff
        if is_suspended(obj):
            return bool(reconcile_requested(obj))
        seen = self._seen.get(obj.app_id)
        if seen is None or seen.invalid or seen.generation != obj.generation:
            return True
        if (obj.body.get("operation") and seen.operated != obj.generation) or (
            reconcile_requested(obj)
        ):
            return True
        stale = seen.checked is None or now - seen.checked >= timedelta(
            seconds=self._options.resync_s
        )
        return stale or (seen.synced is None and seen.automated is not False)

    def _due(self, obj: AppObject, app: AppSpec | None, now: datetime) -> tuple[bool, bool]:
        """(sync now, compare now) for ``obj``."""
        if self._retries.due(obj, now):
            return True, True
        seen = self._seen.setdefault(obj.app_id, _Seen())
        changed = seen.generation != obj.generation
        resync = timedelta(seconds=self._options.resync_s)
        asked = obj.body.get("operation") and seen.operated != obj.generation
        if asked or reconcile_requested(obj):
            return True, True
        automated = app is not None and (app.policy.automated or obj.kind != ARGO_KIND)
        if self._refresh_pending(obj):
            # As Argo CD: a refresh compares with the newest commit; an automated
            # app then syncs as at its resync, unless a failed sync is waiting
            # out its back-off (``queueing`` lets it go when the commit moved).
            waiting = self._retries.queueing(obj, now) is False
            return automated and not waiting, True
        stale = seen.checked is None or now - seen.checked >= resync
        if automated and (changed or seen.synced is None or stale):
            return True, True
        return False, changed or stale

    def reconcile(self, obj: AppObject, shard: int, interrupt: threading.Event) -> bool:
        """Compare or sync ``obj`` if due; True when it synced. An Argo refresh
        asked for is removed once the app was compared (status written), as
        Argo CD does; left for the next holder when the shard went meanwhile."""
        synced = self._reconcile(obj, shard, interrupt)
        if refresh_requested(obj) and not is_suspended(obj) and not interrupt.is_set():
            # After the status: ``argocd app get --refresh`` waits for the
            # annotation to go, then reads the status.
            self._seen.setdefault(obj.app_id, _Seen()).refreshed = self._api.clear_refresh(obj)
        return synced

    def _refresh_pending(self, obj: AppObject) -> bool:
        """A refresh asked for and not yet done by this replica."""
        if not refresh_requested(obj) or is_suspended(obj):
            return False
        seen = self._seen.get(obj.app_id)
        done = seen.refreshed if seen is not None else ""
        version = str((obj.body.get("metadata") or {}).get("resourceVersion", "") or "")
        # resourceVersions ordered as numbers, as Argo CD's API server orders
        # them when it waits for a refresh; anything else is taken as new.
        return not (done.isdigit() and version.isdigit() and int(version) < int(done))

    def _reconcile(self, obj: AppObject, shard: int, interrupt: threading.Event) -> bool:
        if self._retries.held(obj):
            return False
        now = self._clock()
        seen = self._seen.setdefault(obj.app_id, _Seen())
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
        sync_now, compare_now = self._due(obj, app, now)
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
