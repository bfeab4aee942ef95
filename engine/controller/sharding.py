"""Which shard an app is in, and which live replica a shard belongs to.

Apps map to a fixed number of shards by a stable hash of the app's identity
(the same on every replica and across restarts, unlike Python's ``hash``).
Shards map to replicas by rendezvous (highest random weight) hashing over the
live members: when a replica joins, only the shards it wins move to it; when
one leaves, only its shards move, each to the replica that scores next highest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping


def _score(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def shard_of(app_id: str, shards: int) -> int:
    """The shard (0 … shards-1) of the app whose identity is ``app_id``."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, got {shards}")
    return _score(app_id) % shards


def owner_of(shard: int, members: Iterable[str]) -> str | None:
    """The member that should hold ``shard`` (None when there is no member)."""
    best: tuple[int, str] | None = None
    for member in members:
        # The name breaks a (practically impossible) tie so every replica agrees.
        candidate = (_score(f"{member}\0{shard}"), member)
        if best is None or candidate > best:
            best = candidate
    return None if best is None else best[1]


def assign_shards(shards: int, members: Iterable[str]) -> Mapping[str, frozenset[int]]:
    """Every member's shards; each shard in exactly one member's set."""
    live = sorted(set(members))
    owned: dict[str, set[int]] = {member: set() for member in live}
    for shard in range(shards):
        owner = owner_of(shard, live)
        if owner is not None:
            owned[owner].add(shard)
    return {member: frozenset(found) for member, found in owned.items()}


__all__ = ["assign_shards", "owner_of", "shard_of"]
