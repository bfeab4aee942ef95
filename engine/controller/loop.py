"""The controller loop: shard Leases kept, owned apps reconciled, status written back.

One thread (``ShardKeeper.run``) renews this replica's membership Lease and
its shard Leases every ``renew_s``; the reconcile thread (``Controller.run``)
queues each due app of a shard ``ShardKeeper.holds`` says is this replica's
for ``concurrent`` worker threads (``workers.AppWorkers``: one app at a time
per app, Flux ``dependsOn`` waited for before queueing); a worker asks again
right before the sync applies anything, and a shard goes back only when no app
of it is in flight (graceful shutdown and handover), so two replicas never
operate one app.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial

from gitwave.engine.controller.app_objects import repo_resolver
from gitwave.engine.controller.app_reconcile import AppReconciler, Operated
from gitwave.engine.controller.backoff import Backoff
from gitwave.engine.controller.dependencies import depends_on, waiting_for
from gitwave.engine.controller.finalizers import Finalizer, FinalizerApi
from gitwave.engine.controller.helm_releases import dependency_status
from gitwave.engine.controller.keeper import (
    ControllerApi,
    ControllerOptions,
    LeaseLost,
    ShardKeeper,
)
from gitwave.engine.controller.objects import ARGO_KIND, FLUX_KIND, AppObject
from gitwave.engine.controller.requests import (
    is_suspended,
    refresh_requested,
    source_refresh_asked,
)
from gitwave.engine.controller.set_loop import SetApi, SetReconciler
from gitwave.engine.controller.sharding import shard_of
from gitwave.engine.controller.workers import AppWorkers
from gitwave.engine.render.afresh import rendered_afresh
from gitwave.engine.router import ProviderRouter
from gitwave.engine.source_refs import RemoteRefs, shared_refs
from gitwave.engine.source_url import allowed_local_repos
from gitwave.engine.store import Store

log = logging.getLogger("gitwave.controller")


class Controller:
    """Reconciles the apps of the shards this replica holds."""

    def __init__(
        self,
        api: ControllerApi,
        keeper: ShardKeeper,
        *,
        targets: ProviderRouter,
        store: Store | None,
        options: ControllerOptions,
        clock: Callable[[], datetime],
        audit: Callable[[Operated], None] = lambda _: None,
        jitter: Callable[[], float] = random.random,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self._monotonic = monotonic
        self._keeper = keeper
        self._options = options
        self._clock = clock
        self._workers = AppWorkers(keeper, options.concurrent)
        self._resolve = repo_resolver(options.allow_local_repos)
        # A remote's branch heads, listed once per resync and shared by every
        # app of this replica (source_refs): as Flux resolves a GitRepository
        # once per interval for all its Kustomizations. On the controller's
        # clock, the one its resync deadlines are read from.
        self.remote_refs = RemoteRefs(max_age_s=options.resync_s, clock=lambda: clock().timestamp())
        # Failed automated syncs wait out their back-off (backoff.py) unqueued.
        self.backoff = Backoff(resync_s=options.resync_s, jitter=jitter)
        self._apps = AppReconciler(
            api,
            keeper,
            targets=targets,
            store=store,
            options=options,
            clock=clock,
            audit=audit,
            resolve=self._resolve,
            backoff=self.backoff,
        )
        # ApplicationSets and deleted Applications, when the cluster API offers them.
        self._sets = (
            SetReconciler(
                api,
                resolve=self._resolve,
                allowed_repos=allowed_local_repos(options.allow_local_repos),
                shards=options.shards,
                holds=keeper.holds,
                clock=clock,
                resync_s=options.resync_s,
            )
            if isinstance(api, SetApi)
            else None
        )
        self._finalizer = (
            Finalizer(
                api,
                targets=targets,
                store=store,
                resolve=self._resolve,
                shards=options.shards,
                holds=keeper.holds,
                in_flight=self._workers.busy,
            )
            if isinstance(api, FinalizerApi)
            else None
        )

    def reconcile_once(self) -> list[str]:
        """One pass over the apps of held shards: each one that may be due and is
        not in flight is queued for the workers; the ids queued. The
        ApplicationSets first (their Applications are then queued in this pass),
        the Applications being deleted last."""
        if self._sets is not None:
            self._sets.reconcile_once()
        apps = self._api.list_apps()
        now = self._clock()
        # A waiting app's look for a new commit (backoff) reads the replica's
        # shared branch heads, as its sync does.
        with shared_refs(self.remote_refs):
            queued = self._queue_due(apps, now)
        # Handed-over shards go back here, once none of their apps is in flight.
        self._keeper.release_pending()
        if self._finalizer is not None:
            self._finalizer.finalize_once()
        return queued

    def _queue_due(self, apps: list[AppObject], now: datetime) -> list[str]:
        """The pass's apps of held shards that are due, queued for the workers."""
        queued: list[str] = []
        for obj in apps:
            shard = shard_of(obj.app_id, self._options.shards)
            if not self._keeper.holds(shard) or self._workers.busy(obj.app_id):
                continue
            try:
                if not self._apps.worth_queueing(obj, now):
                    continue
                # A suspended app still answers a reconcile request, waiting or not.
                if not is_suspended(obj) and self._waits(obj, apps, now):
                    continue
            except Exception as error:  # one broken app never stops the others
                log.warning("%s: %s", obj.app_id, error)
                continue
            if self._workers.submit(obj.app_id, shard, partial(self._work, obj, shard)):
                queued.append(obj.app_id)
        return queued

    def _waits(self, obj: AppObject, apps: list[AppObject], now: datetime) -> bool:
        """Flux ``dependsOn``: True (and ``DependencyNotReady`` written once) while a
        dependency is not Ready; the app is not queued, so it takes no worker."""
        waiting = waiting_for(obj, apps)
        if not waiting:
            return False
        status = dependency_status(obj, waiting, now)
        if status:
            self._api.write_status(obj, status)
        return True

    def _work(self, obj: AppObject, shard: int, interrupt: threading.Event) -> None:
        """A worker's part: one app, stopped by ``interrupt`` (its shard is going)."""
        # Asked again at the start: a dependency may have changed since queued.
        if (
            depends_on(obj)
            and not is_suspended(obj)
            and self._waits(obj, self._api.list_apps(), self._clock())
        ):
            return
        # A hard refresh (Argo CD: its manifest cache dropped) renders anew too.
        with (
            shared_refs(self.remote_refs, fresh=source_refresh_asked(obj)),
            rendered_afresh(refresh_requested(obj) == "hard"),
        ):
            self._apps.reconcile(obj, shard, interrupt)

    def run(self, stop: threading.Event) -> None:
        """Reconcile until ``stop`` is set; return once no app is in flight (the
        keeper's shutdown interrupts them between waves), so every shard can
        be given back."""
        try:
            while not stop.is_set():
                started = self._monotonic()
                try:
                    self.reconcile_once()
                except Exception:
                    log.exception("reconcile pass failed")
                # The next pass at the next change of an app object (a watch,
                # which a finished sync's status write is), or after one tick
                # (deadlines: resync, a Lease taken over); and not before
                # pass_gap_s: the changes of the meantime are one pass, not
                # one pass over every app each (a pass costs O(apps)).
                if not stop.is_set():
                    self._api.wait_for_change(self._options.tick_s)
                rest = self._options.pass_gap_s - (self._monotonic() - started)
                if rest > 0:
                    stop.wait(rest)
        finally:
            # Apps queued by the last pass after the keeper's own final
            # interrupt are stopped too; then wait for all to be done.
            self._keeper.interrupt_all()
            self._workers.close()


def audit_line(operated: Operated) -> str:
    """One JSON line per sync, for operators and the no-double-operation audit."""
    return json.dumps(operated.__dict__, sort_keys=True)


__all__ = [
    "ARGO_KIND",
    "FLUX_KIND",
    "AppObject",
    "Controller",
    "ControllerApi",
    "ControllerOptions",
    "LeaseLost",
    "Operated",
    "ShardKeeper",
    "audit_line",
]
