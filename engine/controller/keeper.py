"""This replica's Leases, and the cluster seam the controller works through.

``ShardKeeper.run`` (its own thread) renews this replica's membership Lease
and its shard Leases every ``renew_s``, takes the shards rendezvous hashing
gives it once their Lease is free or expired, and hands shards over between
syncs; ``holds`` is what the reconcile thread asks before acting on an app.
``ControllerApi`` is the management cluster as the controller needs it
(``providers.kubernetes.controller_api.KubeControllerApi`` implements it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from gitwave.engine.controller.leases import (
    SHARD_PREFIX,
    LeasePlan,
    LeaseRecord,
    live_members,
    member_lease_name,
    plan_leases,
    shard_lease_name,
)
from gitwave.engine.controller.objects import AppObject
from gitwave.engine.controller.timeline import OperationEvent
from gitwave.engine.errors import GitwaveError

log = logging.getLogger("gitwave.controller")


class ControllerApi(Protocol):
    """The management cluster as the controller needs it (one implementation:
    ``providers.kubernetes.controller_api.KubeControllerApi``)."""

    def list_apps(self) -> list[AppObject]:
        """Every Application and Kustomization, in every namespace."""
        ...

    def list_git_repositories(self) -> list[Mapping[str, Any]]:
        """Every Flux GitRepository, as plain objects."""
        ...

    def list_app_projects(self) -> list[Mapping[str, Any]]:
        """The AppProjects that restrict Applications (the controller's namespace)."""
        ...

    def write_status(self, obj: AppObject, status: Mapping[str, Any]) -> None:
        """Merge ``status`` into the object's status subresource."""
        ...

    def clear_operation(self, obj: AppObject) -> None:
        """Remove the Argo-style top-level ``operation`` field (as Argo CD does once run)."""
        ...

    def wait_for_change(self, timeout: float) -> bool:
        """Block until an app object changed (True: a watch saw it) or ``timeout``
        passed (False); an API without watches just waits out ``timeout``."""
        ...

    def record_event(self, obj: AppObject, event: OperationEvent) -> None:
        """Create a Kubernetes Event about ``obj`` (the timeline kept in the cluster)."""
        ...

    def list_leases(self) -> list[LeaseRecord]:
        """The controller's Leases (membership and shards) in its namespace."""
        ...

    def put_lease(
        self,
        name: str,
        *,
        holder: str,
        now: datetime,
        duration_s: int,
        previous: LeaseRecord | None,
    ) -> bool:
        """Create or renew Lease ``name`` for ``holder``; False when someone else
        wrote it since ``previous`` was read (a lost race), never an exception."""
        ...

    def release_lease(self, lease: LeaseRecord) -> None:
        """Clear the holder of ``lease`` (if it is still as read)."""
        ...


@dataclass(frozen=True)
class ControllerOptions:
    """How a replica runs (the ``gitwave controller`` flags)."""

    replica: str
    shards: int = 4
    lease_s: int = 10
    renew_s: float = 2.0
    resync_s: float = 30.0
    tick_s: float = 1.0
    allow_local_repos: tuple[str, ...] = ()


class LeaseLost(GitwaveError):
    """This replica no longer holds the shard of the app it was about to sync."""

    retriable = True


class ShardKeeper:
    """This replica's Leases: renews membership, claims, renews and releases shards."""

    def __init__(
        self, api: ControllerApi, options: ControllerOptions, clock: Callable[[], datetime]
    ) -> None:
        self._api = api
        self._options = options
        self._clock = clock
        self._lock = threading.Lock()
        # shard → until when this replica may act on it (renewal time + duration,
        # less one renew period so it stops before anyone else may start).
        self._held: dict[int, datetime] = {}
        self._handover: set[int] = set()
        # The interrupt Event of each running sync, by shard: set when the
        # shard is lost, handed over or the replica stops, so the sync stops
        # at its next safe point (the start of a wave, a wait).
        self._running: dict[int, threading.Event] = {}

    def register(self, shard: int, interrupt: threading.Event) -> None:
        """``interrupt`` is set as soon as this replica must stop acting on ``shard``."""
        with self._lock:
            self._running[shard] = interrupt
        if not self.holds(shard):
            interrupt.set()

    def unregister(self, shard: int) -> None:
        with self._lock:
            self._running.pop(shard, None)

    def _interrupt(self, *, everything: bool = False) -> None:
        with self._lock:
            running = list(self._running.items())
        for shard, interrupt in running:
            if everything or not self.holds(shard):
                interrupt.set()

    def holds(self, shard: int) -> bool:
        """True while this replica's Lease on ``shard`` is safely current."""
        with self._lock:
            until = self._held.get(shard)
            return until is not None and self._clock() < until and shard not in self._handover

    def held(self) -> frozenset[int]:
        with self._lock:
            now = self._clock()
            return frozenset(s for s, until in self._held.items() if now < until)

    def step(self) -> LeasePlan:
        """One round: renew membership, then claim/renew/release shards."""
        options = self._options
        now = self._clock()
        leases = self._api.list_leases()
        by_name = {lease.name: lease for lease in leases}
        me = options.replica
        self._api.put_lease(
            member_lease_name(me),
            holder=me,
            now=now,
            duration_s=options.lease_s,
            previous=by_name.get(member_lease_name(me)),
        )
        shard_leases = {
            int(lease.name.removeprefix(SHARD_PREFIX)): lease
            for lease in leases
            if lease.name.startswith(SHARD_PREFIX)
            and lease.name.removeprefix(SHARD_PREFIX).isdigit()
        }
        decision = plan_leases(
            me=me,
            shards=options.shards,
            members=live_members(leases, now),
            shard_leases=shard_leases,
            now=now,
        )
        margin = timedelta(seconds=max(options.lease_s - options.renew_s, 1.0))
        for shard in sorted(decision.claim):
            won = self._api.put_lease(
                shard_lease_name(shard),
                holder=me,
                now=now,
                duration_s=options.lease_s,
                previous=shard_leases.get(shard),
            )
            with self._lock:
                if won:
                    if shard not in self._held:
                        log.info("replica %s took shard %d", me, shard)
                    self._held[shard] = now + margin
                else:
                    self._held.pop(shard, None)
        with self._lock:
            # Stop acting on shards to hand over at once; the Lease goes back
            # once no sync of that shard runs (``release_pending``).
            self._handover |= set(decision.release)
            for shard in list(self._held):
                if shard not in decision.claim and shard not in decision.release:
                    self._held.pop(shard, None)
        self._interrupt()
        return decision

    def release_pending(self, busy: Iterable[int] = ()) -> None:
        """Give back the Leases of shards handed over and not ``busy``."""
        busy_shards = set(busy)
        with self._lock:
            ready = sorted(self._handover - busy_shards)
        if not ready:
            return
        leases = {lease.name: lease for lease in self._api.list_leases()}
        for shard in ready:
            lease = leases.get(shard_lease_name(shard))
            if lease is not None and lease.holder == self._options.replica:
                self._api.release_lease(lease)
                log.info("replica %s released shard %d", self._options.replica, shard)
            with self._lock:
                self._held.pop(shard, None)
                self._handover.discard(shard)

    def release_all(self) -> None:
        """Graceful shutdown: every shard and the membership Lease go back."""
        with self._lock:
            self._handover |= set(self._held)
        self.release_pending()
        for lease in self._api.list_leases():
            if lease.name == member_lease_name(self._options.replica):
                self._api.release_lease(lease)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.step()
            except Exception:  # an API hiccup: keep going, Leases expire safely
                log.exception("lease round failed")
                with self._lock:
                    self._held.clear()
                self._interrupt()
            stop.wait(self._options.renew_s)
        # Graceful shutdown: a running sync stops at its next wave, then the
        # reconcile thread returns and every Lease goes back.
        self._interrupt(everything=True)


__all__ = ["ControllerApi", "ControllerOptions", "LeaseLost", "ShardKeeper"]
