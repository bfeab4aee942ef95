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
    LeasePlan,
    LeaseRecord,
    foreign_leases,
    live_members,
    member_lease_name,
    plan_leases,
    shard_lease_name,
    shard_leases_of,
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

    def clear_refresh(self, obj: AppObject) -> str:
        """Remove the ``argocd.argoproj.io/refresh`` annotation (as Argo CD does once
        the app was compared): a merge patch of that key alone, without a
        resourceVersion, so it races no other writer of the object. Returns the
        object's resourceVersion after it ("" when the API keeps none)."""
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
    shards: int = 64
    concurrent: int = 4
    lease_s: int = 10
    renew_s: float = 2.0
    resync_s: float = 30.0
    tick_s: float = 1.0
    # Passes over every app start at most this often: with a thousand apps,
    # each status write (a watch event) started a pass over all of them.
    pass_gap_s: float = 0.5
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
        # The interrupt Event of each app in flight (queued or running), by
        # shard then app: all set when the shard is lost, handed over or the
        # replica stops, so each of them stops at its next safe point (the
        # start of a wave, a wait); a shard with any app here is busy and its
        # Lease is neither released nor left to expire (``release_pending``).
        self._running: dict[int, dict[str, threading.Event]] = {}
        # Rounds in a row without a live Lease of another shard count: shards
        # are acted on only from the second (``step``).
        self._clear_rounds = 0
        self._foreign_said: tuple[str, ...] = ()

    def register(self, shard: int, app_id: str, interrupt: threading.Event) -> None:
        """``app_id`` (of ``shard``) is in flight until ``unregister``: ``interrupt``
        is set as soon as this replica must stop acting on ``shard``."""
        with self._lock:
            self._running.setdefault(shard, {})[app_id] = interrupt
        if not self.holds(shard):
            interrupt.set()

    def unregister(self, shard: int, app_id: str) -> None:
        with self._lock:
            apps = self._running.get(shard)
            if apps is not None:
                apps.pop(app_id, None)
                if not apps:
                    del self._running[shard]

    def busy(self) -> frozenset[int]:
        """The shards with an app in flight."""
        with self._lock:
            return frozenset(self._running)

    def _interrupt(self, *, everything: bool = False) -> None:
        with self._lock:
            running = [(shard, list(apps.values())) for shard, apps in self._running.items()]
        for shard, interrupts in running:
            if everything or not self.holds(shard):
                for interrupt in interrupts:
                    interrupt.set()

    def interrupt_all(self) -> None:
        """Stop every app in flight at its next safe point (shutdown)."""
        self._interrupt(everything=True)

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
        shard_leases = shard_leases_of(leases, options.shards)
        decision = plan_leases(
            me=me,
            shards=options.shards,
            members=live_members(leases, now),
            shard_leases=shard_leases,
            now=now,
        )
        foreign = foreign_leases(leases, options.shards, now)
        if foreign:
            decision = self._stand_down(decision, foreign)
        self._clear_rounds = 0 if foreign else self._clear_rounds + 1
        margin = timedelta(seconds=max(options.lease_s - options.renew_s, 1.0))
        for shard in sorted(decision.claim):
            won = self._api.put_lease(
                shard_lease_name(shard, options.shards),
                holder=me,
                now=now,
                duration_s=options.lease_s,
                previous=shard_leases.get(shard),
            )
            with self._lock:
                if won and self._clear_rounds >= 2:
                    if shard not in self._held:
                        log.info("replica %s took shard %d", me, shard)
                    self._held[shard] = now + margin
                elif not won:
                    self._held.pop(shard, None)
        for shard in sorted(decision.release & self.busy()):
            # Handed over but an app of it still in flight: the Lease is kept
            # (renewed, not acted on) until that app stops, so the next holder
            # cannot start on it meanwhile.
            kept = shard_leases.get(shard)
            if kept is None or not kept.held_by(me, now):
                continue
            self._api.put_lease(
                shard_lease_name(shard, options.shards),
                holder=me,
                now=now,
                duration_s=options.lease_s,
                previous=kept,
            )
        with self._lock:
            # Stop acting on shards to hand over at once; the Lease goes back
            # once no sync of that shard runs (``release_pending``).
            self._handover |= set(decision.release)
            for shard in list(self._held):
                if shard not in decision.claim and shard not in decision.release:
                    self._held.pop(shard, None)
        self._interrupt()
        return decision

    def _stand_down(self, decision: LeasePlan, foreign: list[str]) -> LeasePlan:
        """Another shard count's Leases are live (an upgrade that changed
        ``--shards`` or from ``gitwave-shard-N`` names, or replicas started with
        different ``--shards``): claim nothing, hand every shard back. A shard is
        acted on only after two rounds in a row saw no such Lease, the first of
        them writing this replica's claims: of two replicas of different counts
        starting together, the later reader sees the other's claims."""
        if tuple(foreign) != self._foreign_said:
            log.warning(
                "replica %s (%d shards) holds no shard while Leases of another shard "
                "count are held: %s",
                self._options.replica,
                self._options.shards,
                ", ".join(foreign[:4]) + (" ..." if len(foreign) > 4 else ""),
            )
            self._foreign_said = tuple(foreign)
        with self._lock:
            mine = frozenset(self._held)
        # ``claim`` holds the shards whose Lease is this replica's (written in
        # a round before): given back too, only those still held by it are.
        return LeasePlan(
            claim=frozenset(),
            release=mine | decision.claim,
            waiting=decision.claim | decision.waiting,
        )

    def release_pending(self, busy: Iterable[int] = ()) -> None:
        """Give back the Leases of shards handed over with no app in flight
        (registered, or in ``busy``): between waves, never under a running app."""
        with self._lock:
            in_flight = set(busy) | {shard for shard, apps in self._running.items() if apps}
            ready = sorted(self._handover - in_flight)
        if not ready:
            return
        leases = {lease.name: lease for lease in self._api.list_leases()}
        for shard in ready:
            lease = leases.get(shard_lease_name(shard, self._options.shards))
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
        busy = self.busy()
        for lease in self._api.list_leases():
            if lease.holder != self._options.replica:
                continue
            # Claims of the first round (written, never acted on) go back too.
            shard = shard_leases_of([lease], self._options.shards)
            if lease.name == member_lease_name(self._options.replica) or (
                shard and not set(shard) & busy
            ):
                self._api.release_lease(lease)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.step()
            except Exception:  # an API hiccup: keep going, Leases expire safely
                log.exception("lease round failed")
                with self._lock:
                    self._held.clear()
                    # Its claims may have lapsed meanwhile: two clean rounds again.
                    self._clear_rounds = 0
                self._interrupt()
            stop.wait(self._options.renew_s)
        # Graceful shutdown: a running sync stops at its next wave, then the
        # reconcile thread returns and every Lease goes back.
        self._interrupt(everything=True)


__all__ = ["ControllerApi", "ControllerOptions", "LeaseLost", "ShardKeeper"]
