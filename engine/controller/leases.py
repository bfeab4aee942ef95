"""What a replica does with each Lease at one instant: a pure decision.

Two kinds of ``coordination.k8s.io/v1`` Lease: ``gitwave-member-<replica>``
says a replica is alive (it renews it), ``gitwave-shard-N-of-S`` says which
replica operates shard N of S. The shard count is in the name because shard N
of 8 and shard N of 64 are different sets of apps: replicas started with
another ``--shards`` (or an older gitwave, whose Leases were ``gitwave-shard-N``)
hold Leases this replica never takes, and while any of those is held it takes
no shard at all (``foreign_leases``), so an upgrade that changes the count never
has two replicas operating one app. A replica takes a shard only when rendezvous hashing over the
live members gives it that shard and the Lease is free, expired or already its
own; it lets go of a shard that now belongs to another live member, so shards
move when replicas come and go. Writes use the Lease's resourceVersion, so two
replicas racing for one Lease cannot both win.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from gitwave.engine.controller.sharding import assign_shards

MEMBER_PREFIX = "gitwave-member-"
SHARD_PREFIX = "gitwave-shard-"


def shard_lease_name(shard: int, shards: int) -> str:
    """The Lease of ``shard`` when apps are split into ``shards`` shards."""
    return f"{SHARD_PREFIX}{shard}-of-{shards}"


def parse_shard_lease(name: str) -> tuple[int, int | None] | None:
    """(shard, shard count) of a shard Lease name; the count is None for the
    older ``gitwave-shard-N`` names (count unknown); None for other Leases."""
    if not name.startswith(SHARD_PREFIX):
        return None
    shard, sep, count = name.removeprefix(SHARD_PREFIX).partition("-of-")
    if not shard.isdigit() or (sep and not count.isdigit()):
        return None
    return int(shard), int(count) if sep else None


def member_lease_name(replica: str) -> str:
    return f"{MEMBER_PREFIX}{replica}"


@dataclass(frozen=True)
class LeaseRecord:
    """A Lease as read: who holds it, when it was last renewed, for how long."""

    name: str
    holder: str | None
    renewed: datetime | None
    duration_s: int
    resource_version: str = ""

    def expired(self, now: datetime) -> bool:
        """Free, never renewed, or not renewed within its duration."""
        if not self.holder or self.renewed is None:
            return True
        return now >= self.renewed + timedelta(seconds=self.duration_s)

    def held_by(self, replica: str, now: datetime) -> bool:
        return self.holder == replica and not self.expired(now)


@dataclass(frozen=True)
class LeasePlan:
    """Shards to take or renew (``claim``), to give back (``release``), and
    the shards this replica wants but another live replica still holds."""

    claim: frozenset[int]
    release: frozenset[int]
    waiting: frozenset[int]


def live_members(leases: Iterable[LeaseRecord], now: datetime) -> frozenset[str]:
    """The replicas whose membership Lease is held and not expired."""
    return frozenset(
        lease.name.removeprefix(MEMBER_PREFIX)
        for lease in leases
        if lease.name.startswith(MEMBER_PREFIX) and not lease.expired(now)
    )


def shard_leases_of(leases: Iterable[LeaseRecord], shards: int) -> dict[int, LeaseRecord]:
    """The Leases of this shard count, by shard."""
    found: dict[int, LeaseRecord] = {}
    for lease in leases:
        parsed = parse_shard_lease(lease.name)
        if parsed is not None and parsed[1] == shards and parsed[0] < shards:
            found[parsed[0]] = lease
    return found


def foreign_leases(leases: Iterable[LeaseRecord], shards: int, now: datetime) -> list[str]:
    """The held, unexpired shard Leases of another shard count (or of an older
    gitwave's ``gitwave-shard-N``): their holders operate apps this replica's
    shards also hold, so while one is live this replica must operate nothing."""
    return sorted(
        lease.name
        for lease in leases
        if (parsed := parse_shard_lease(lease.name)) is not None
        and parsed[1] != shards
        and not lease.expired(now)
    )


def plan_leases(
    *,
    me: str,
    shards: int,
    members: Iterable[str],
    shard_leases: Mapping[int, LeaseRecord],
    now: datetime,
) -> LeasePlan:
    """What ``me`` does with the shard Leases at ``now``, given the live ``members``
    (``me`` counts as live) and the shard Leases as read (a missing one is free)."""
    wanted = assign_shards(shards, {*members, me})[me]
    claim: set[int] = set()
    waiting: set[int] = set()
    release: set[int] = set()
    for shard in range(shards):
        lease = shard_leases.get(shard)
        mine = lease is not None and lease.held_by(me, now)
        if shard in wanted:
            if lease is None or lease.expired(now) or mine:
                claim.add(shard)
            else:
                waiting.add(shard)
        elif mine:
            # Handover: another live replica wins this shard now.
            release.add(shard)
    return LeasePlan(frozenset(claim), frozenset(release), frozenset(waiting))


__all__ = [
    "MEMBER_PREFIX",
    "SHARD_PREFIX",
    "LeasePlan",
    "LeaseRecord",
    "foreign_leases",
    "live_members",
    "member_lease_name",
    "parse_shard_lease",
    "plan_leases",
    "shard_lease_name",
    "shard_leases_of",
]
