"""Which shard an app is in, and which live replica a shard belongs to.

Apps map to a fixed number of shards by a stable hash of the app's identity
(the same on every replica and across restarts, unlike Python's ``hash``).
Shards map to replicas by rendezvous (highest random weight) hashing with
bounded loads: each shard ranks the live members by a hash of (member, shard)
and goes to the highest-ranked one that has room, no member holding more than
``ceil(shards / members)``. Plain rendezvous hashing moves the fewest shards
but is lopsided past three replicas (64 shards over 4 members: 9, 14, 20, 21;
over 5: 6 to 22), and a run lasts as long as its busiest replica; with the
bound it is 16 each over 4 and 12-13 over 5, and a joining or leaving replica
still moves about ``shards / members`` shards, a few of them between the
members that stay (as Argo CD's ``consistent-hashing`` sharding algorithm).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from functools import lru_cache, partial


def _score(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


@lru_cache(maxsize=1 << 16)  # every pass asks it of every app (a SHA-256 each)
def shard_of(app_id: str, shards: int) -> int:
    """The shard (0 … shards-1) of the app whose identity is ``app_id``."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, got {shards}")
    return _score(app_id) % shards


def _rank(shard: int, member: str) -> tuple[int, str]:
    # The name breaks a (practically impossible) tie so every replica agrees.
    return (_score(f"{member}\0{shard}"), member)


def assign_shards(shards: int, members: Iterable[str]) -> Mapping[str, frozenset[int]]:
    """Every member's shards; each shard in exactly one member's set, no member
    with more than ``ceil(shards / members)``. A pure function of its arguments:
    every replica computes the same.

    Shards propose to members in their rank order and a member over the bound
    keeps the shards that rank it highest (a stable matching, so the result
    does not depend on the order of proposals)."""
    live = sorted(set(members))
    if not live:
        return {}
    room = -(-shards // len(live))
    choices = {
        shard: sorted(live, key=partial(_rank, shard), reverse=True) for shard in range(shards)
    }
    tried = dict.fromkeys(range(shards), 0)
    held: dict[str, list[int]] = {member: [] for member in live}
    homeless = list(range(shards))
    while homeless:
        shard = homeless.pop()
        member = choices[shard][tried[shard]]
        tried[shard] += 1
        kept = held[member]
        kept.append(shard)
        if len(kept) > room:
            kept.sort(key=lambda s: _rank(s, member))
            homeless.append(kept.pop(0))
    return {member: frozenset(found) for member, found in held.items()}


__all__ = ["assign_shards", "shard_of"]
