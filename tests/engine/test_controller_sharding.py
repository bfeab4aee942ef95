"""Shards and Leases of ``gitwave controller``: the pure decisions, with a passed clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from gitwave.engine.controller.leases import (
    LeaseRecord,
    live_members,
    member_lease_name,
    plan_leases,
    shard_lease_name,
)
from gitwave.engine.controller.sharding import assign_shards, shard_of

T0 = datetime(2026, 12, 3, 23, 0, tzinfo=UTC)
SHARDS = 16


def lease(
    name: str, holder: str | None, renewed: datetime | None, duration_s: int = 10
) -> LeaseRecord:
    return LeaseRecord(name=name, holder=holder, renewed=renewed, duration_s=duration_s)


def test_shard_of_is_stable_and_spread() -> None:
    apps = [f"Application/argocd/app-{i}" for i in range(1000)]
    first = [shard_of(a, SHARDS) for a in apps]
    assert first == [shard_of(a, SHARDS) for a in apps]  # no per-process salt
    counts = [first.count(s) for s in range(SHARDS)]
    assert min(counts) > 1000 / SHARDS / 2, counts  # no shard starves
    with pytest.raises(ValueError, match="at least 1"):
        shard_of("x", 0)


def test_every_shard_has_exactly_one_owner() -> None:
    owned = assign_shards(SHARDS, ["a", "b", "c"])
    together = sorted(s for shards in owned.values() for s in shards)
    assert together == list(range(SHARDS))
    assert all(owned[m] for m in owned)  # 16 shards over 3: nobody idle
    assert assign_shards(SHARDS, []) == {}


def test_no_replica_holds_more_than_its_share_of_shards() -> None:
    """A run lasts as long as its busiest replica: plain rendezvous hashing
    gave 64 shards over 5 replicas as 6 to 22; the bound keeps it at ceil."""
    for shards in (16, 64, 1024):
        for count in range(1, 9):
            members = [f"gitwave-controller-{i}" for i in range(count)]
            owned = assign_shards(shards, members)
            together = sorted(s for held in owned.values() for s in held)
            assert together == list(range(shards))
            assert max(len(held) for held in owned.values()) <= -(-shards // count)
            # Every replica computes the same, whatever order it lists members in.
            assert assign_shards(shards, reversed(members)) == owned
    assert sorted(len(h) for h in assign_shards(64, "abcd").values()) == [16, 16, 16, 16]


def test_a_joining_or_leaving_replica_moves_about_its_share_of_shards() -> None:
    shards = 64
    for count in range(2, 9):
        before = assign_shards(shards, [f"r{i}" for i in range(count)])
        after = assign_shards(shards, [f"r{i}" for i in range(count + 1)])
        newcomer = after[f"r{count}"]
        assert len(newcomer) >= shards // (2 * (count + 1))  # it takes a share
        moved = {s for m, held in before.items() for s in held if s not in after[m]}
        assert newcomer <= moved  # what it holds came from the others
        # About its share moves (9 to 22 of 64 here; plain rendezvous hashing
        # moved only the newcomer's, 3 to 22): never a reshuffle of everything.
        assert len(moved) <= 3 * -(-shards // (count + 1)), (count, len(moved))
        # The newcomer leaving again puts every shard back where it was.
        assert assign_shards(shards, [f"r{i}" for i in range(count)]) == before


@dataclass(frozen=True)
class Case:
    reason: str
    holder: str | None
    renewed_ago_s: float | None
    wanted: bool
    want: str  # claim | wait | release | none


CASES = [
    Case("free lease of a wanted shard is taken", None, None, True, "claim"),
    Case("own lease is renewed", "me", 3, True, "claim"),
    Case("live lease of another replica is waited for", "other", 3, True, "wait"),
    Case("expired lease of a dead replica is taken", "other", 10, True, "claim"),
    Case("own lease of a shard now another's is handed over", "me", 3, False, "release"),
    Case("another's shard is left alone", "other", 3, False, "none"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.reason)
def test_plan_leases(case: Case) -> None:
    members = ["me", "other"]
    owned = assign_shards(SHARDS, members)
    shard = min(owned["me"] if case.wanted else owned["other"])
    renewed = None if case.renewed_ago_s is None else T0 - timedelta(seconds=case.renewed_ago_s)
    leases = {shard: lease(shard_lease_name(shard, SHARDS), case.holder, renewed)}
    plan = plan_leases(me="me", shards=SHARDS, members=members, shard_leases=leases, now=T0)
    got = (
        "claim"
        if shard in plan.claim
        else "wait"
        if shard in plan.waiting
        else "release"
        if shard in plan.release
        else "none"
    )
    assert got == case.want


def test_a_dead_replica_drops_out_of_membership_when_its_lease_expires() -> None:
    leases = [
        lease(member_lease_name("a"), "a", T0),
        lease(member_lease_name("b"), "b", T0 - timedelta(seconds=4)),
        lease(shard_lease_name(0, SHARDS), "b", T0),  # a shard Lease is not a member
    ]
    assert live_members(leases, T0) == {"a", "b"}
    # b was killed: it renews no more; 10 s after its last renewal it is gone.
    assert live_members(leases, T0 + timedelta(seconds=6)) == {"a"}
    # ... and a takes every shard, including the ones b held (expired by then).
    later = T0 + timedelta(seconds=11)
    held_by_b = {s: lease(shard_lease_name(s, SHARDS), "b", T0) for s in range(SHARDS)}
    plan = plan_leases(
        me="a",
        shards=SHARDS,
        members=live_members(leases, later),
        shard_leases=held_by_b,
        now=later,
    )
    assert plan.claim == frozenset(range(SHARDS)) and not plan.waiting


def test_rebalance_hands_over_then_the_newcomer_takes_over() -> None:
    # a held everything alone; b joins.
    held = {s: lease(shard_lease_name(s, SHARDS), "a", T0) for s in range(SHARDS)}
    a_plan = plan_leases(me="a", shards=SHARDS, members=["a", "b"], shard_leases=held, now=T0)
    b_plan = plan_leases(me="b", shards=SHARDS, members=["a", "b"], shard_leases=held, now=T0)
    assert a_plan.release == b_plan.waiting != frozenset()
    assert not b_plan.claim  # b waits: never two holders at once
    released = {
        s: (lease(shard_lease_name(s, SHARDS), None, None) if s in a_plan.release else held[s])
        for s in range(SHARDS)
    }
    b_next = plan_leases(me="b", shards=SHARDS, members=["a", "b"], shard_leases=released, now=T0)
    assert b_next.claim == a_plan.release and not b_next.waiting
