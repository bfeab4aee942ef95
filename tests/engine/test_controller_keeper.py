"""The replica's keeper with several apps of a shard in flight, and the worker pool.

The keeper runs against ``Leases``, an in-memory Lease store with the API
server's compare-and-swap on resourceVersion (what the keeper relies on), and
a passed clock; no cluster. What is checked is what the other replica and the
operators see: who holds which Lease, and which in-flight apps were told to
stop.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from gitwave.engine.controller.keeper import ControllerOptions, ShardKeeper
from gitwave.engine.controller.leases import LeaseRecord, shard_lease_name
from gitwave.engine.controller.sharding import assign_shards
from gitwave.engine.controller.workers import AppWorkers

T0 = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)
SHARDS = 8


class Leases:
    """Leases as the API server keeps them: a write with a stale resourceVersion loses."""

    def __init__(self) -> None:
        self.items: dict[str, LeaseRecord] = {}
        self._version = 0

    def list_leases(self) -> list[LeaseRecord]:
        return list(self.items.values())

    def put_lease(
        self,
        name: str,
        *,
        holder: str,
        now: datetime,
        duration_s: int,
        previous: LeaseRecord | None,
    ) -> bool:
        current = self.items.get(name)
        if (current is None) != (previous is None) or (
            current is not None
            and previous is not None
            and current.resource_version != previous.resource_version
        ):
            return False
        self._version += 1
        self.items[name] = LeaseRecord(name, holder, now, duration_s, str(self._version))
        return True

    def release_lease(self, lease: LeaseRecord) -> None:
        current = self.items.get(lease.name)
        if current is not None and current.resource_version == lease.resource_version:
            self._version += 1
            self.items[lease.name] = replace(
                current, holder=None, resource_version=str(self._version)
            )

    def holder(self, shard: int, shards: int = SHARDS) -> str | None:
        found = self.items.get(shard_lease_name(shard, shards))
        return None if found is None else found.holder


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def keeper(leases: Leases, clock: Clock, replica: str, shards: int = SHARDS) -> ShardKeeper:
    options = ControllerOptions(replica=replica, shards=shards, lease_s=10, renew_s=2.0)
    return ShardKeeper(leases, options, clock)  # type: ignore[arg-type]


def settled(k: ShardKeeper, clock: Clock) -> None:
    """Two rounds: a replica acts on a shard from its second round."""
    k.step()
    clock.now += timedelta(seconds=1)
    k.step()


def test_each_app_of_a_handed_over_shard_is_interrupted_and_its_lease_waits_for_all() -> None:
    leases, clock = Leases(), Clock()
    a = keeper(leases, clock, "a")
    settled(a, clock)
    assert a.held() == frozenset(range(SHARDS))
    moving = sorted(assign_shards(SHARDS, ["a", "b"])["b"])
    staying = sorted(assign_shards(SHARDS, ["a", "b"])["a"])
    shard, kept = moving[0], staying[0]
    first, second, other = threading.Event(), threading.Event(), threading.Event()
    a.register(shard, "Kustomization/apps/web", first)
    a.register(shard, "Kustomization/apps/db", second)
    a.register(kept, "Kustomization/apps/cache", other)

    b = keeper(leases, clock, "b")
    b.step()  # b is a member now; a's shards it wins are still a's Leases
    clock.now += timedelta(seconds=1)
    a.step()
    # Both apps of the shard going to b are told to stop, not only the last one.
    assert first.is_set() and second.is_set()
    assert not other.is_set()
    assert not a.holds(shard)
    # Released only when no app of that shard is in flight any more.
    a.release_pending()
    assert leases.holder(shard) == "a"
    a.unregister(shard, "Kustomization/apps/web")
    a.release_pending()
    assert leases.holder(shard) == "a"  # db still stopping
    # Meanwhile the Lease does not lapse: a renews it although it acts on nothing.
    for _ in range(8):  # 16 s of rounds, past the 10 s Lease duration
        clock.now += timedelta(seconds=2)
        a.step()
        b.step()
    assert leases.holder(shard) == "a" and not b.holds(shard)
    a.unregister(shard, "Kustomization/apps/db")
    a.release_pending()
    assert leases.holder(shard) is None
    # Shards with nothing in flight went back at once; b takes them all.
    for moved in moving:
        assert leases.holder(moved) in (None, "b")
    clock.now += timedelta(seconds=1)
    settled(b, clock)
    assert b.held() == frozenset(moving)
    assert a.held() == frozenset(staying)


def test_stopping_interrupts_every_app_in_flight() -> None:
    leases, clock = Leases(), Clock()
    a = keeper(leases, clock, "a")
    settled(a, clock)
    events = [threading.Event() for _ in range(3)]
    for i, event in enumerate(events):
        a.register(i % 2, f"Application/argocd/app{i}", event)
    stop = threading.Event()
    stop.set()
    a.run(stop)  # returns at once, interrupting everything still registered
    assert all(event.is_set() for event in events)


def test_an_app_registered_on_a_shard_not_held_is_interrupted_at_once() -> None:
    leases, clock = Leases(), Clock()
    a = keeper(leases, clock, "a")
    event = threading.Event()
    a.register(3, "Application/argocd/late", event)
    assert event.is_set()


def test_leases_of_another_shard_count_keep_a_replica_from_acting_until_they_go() -> None:
    leases, clock = Leases(), Clock()
    # An older gitwave's shard Lease (``gitwave-shard-N``: no count in the name).
    assert leases.put_lease("gitwave-shard-3", holder="old", now=T0, duration_s=10, previous=None)
    new = keeper(leases, clock, "new", shards=64)
    settled(new, clock)
    assert new.held() == frozenset()
    assert not any(lease.holder == "new" for lease in leases.list_leases() if "-of-" in lease.name)
    # The old replica stops and gives its Lease back (or it expires).
    leases.release_lease(leases.items["gitwave-shard-3"])
    clock.now += timedelta(seconds=1)
    new.step()  # the first clear round: claims written, nothing acted on yet
    assert new.held() == frozenset()
    clock.now += timedelta(seconds=1)
    new.step()
    assert new.held() == frozenset(range(64))


def test_two_counts_starting_together_never_both_act() -> None:
    leases, clock = Leases(), Clock()
    eight, sixty_four = keeper(leases, clock, "a", shards=8), keeper(leases, clock, "b", shards=64)
    for _ in range(4):
        eight.step()
        sixty_four.step()
        clock.now += timedelta(seconds=1)
        assert not (eight.held() and sixty_four.held())


def test_workers_run_an_app_once_at_a_time_and_at_most_n_apps_at_once() -> None:
    leases, clock = Leases(), Clock()
    a = keeper(leases, clock, "a")
    settled(a, clock)
    workers = AppWorkers(a, concurrent=2)
    gate = threading.Event()
    started: dict[str, threading.Event] = {n: threading.Event() for n in ("x", "y", "z")}
    lock = threading.Lock()
    running, most = 0, 0

    def work(name: str) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        started[name].set()
        gate.wait(30)
        with lock:
            running -= 1

    try:
        for name in ("x", "y", "z"):
            assert workers.submit(name, 0, lambda _interrupt, n=name: work(n))
        # x is queued or running: never a second one of it.
        assert not workers.submit("x", 0, lambda _interrupt: work("x"))
        assert started["x"].wait(30) and started["y"].wait(30)
        assert workers.in_flight() == {"x": 0, "y": 0, "z": 0}
        assert a.busy() == frozenset({0})
        gate.set()
        assert workers.drain(30)
        assert started["z"].is_set() and most == 2
        assert a.busy() == frozenset()
    finally:
        gate.set()
        workers.close()


def test_a_queued_app_whose_shard_went_away_does_not_run() -> None:
    leases, clock = Leases(), Clock()
    a = keeper(leases, clock, "a")
    settled(a, clock)
    workers = AppWorkers(a, concurrent=1)
    gate, ran = threading.Event(), threading.Event()
    try:
        assert workers.submit("first", 0, lambda _interrupt: gate.wait(30))
        assert workers.submit("queued", 1, lambda _interrupt: ran.set())
        # Every shard lost (the API is unreachable: the keeper's round failed).
        stop = threading.Event()
        stop.set()
        a.run(stop)
        gate.set()
        assert workers.drain(30)
        assert not ran.is_set()
    finally:
        gate.set()
        workers.close()
