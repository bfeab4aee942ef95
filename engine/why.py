"""Why an object is not ready, as a chain through the graph.

An operator waits for one object (the Deployment of the app); it waits for
what it depends on (the Secret it mounts), which waits for what makes it (the
DBInstance whose connection Secret it is): the object worth looking at is at
the other end. ``blocking_chain`` walks from the object waited for to the one
that holds it: at each step, to the first dependency (graph edges, kind
order) that is not settled, else to the first unsettled object of the
nearest earlier stage (a later wave is not even applied while an earlier
one waits). It stops at an object nothing unsettled holds: the holder.

    Deployment/shop/api ← Secret/shop/db-conn ← DBInstance/shop/db: Progressing: creating, 4m10s

Pure: the graph and the healths are given (the sync passes what it observed,
``gitwave why`` and the TUI what ``operations.resource_healths`` read).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from gitwave.engine.graph import ResourceGraph, order_key
from gitwave.engine.model import Health, HealthCode, Live, ResourceKey

__all__ = [
    "Chain",
    "blocking_chain",
    "blocking_chains",
    "chain_through",
    "elapsed_text",
    "since_created",
]

ARROW = " ← "


@dataclass(frozen=True, slots=True)
class Chain:
    """From the object waited for (first) to the one holding it (last), with
    the holder's health and how long it has been so (None: not known)."""

    keys: tuple[ResourceKey, ...]
    health: Health
    for_s: float | None = None

    @property
    def holder(self) -> ResourceKey:
        return self.keys[-1]

    def text(self) -> str:
        """``A ← B ← C: Progressing: creating, 4m10s``."""
        path = ARROW.join(key.display for key in self.keys)
        took = f", {elapsed_text(self.for_s)}" if self.for_s is not None else ""
        return f"{path}: {self.health}{took}"

    def as_dict(self) -> dict[str, object]:
        """For ``-o json|yaml``: keys as ``group/Kind/namespace/name``."""
        return {
            "chain": [str(key) for key in self.keys],
            "holder": str(self.holder),
            "health": self.health.code.value,
            "message": self.health.message,
            "forSeconds": None if self.for_s is None else round(self.for_s, 3),
        }


def _settled(health: Health | None) -> bool:
    # Not read (None): nothing says it holds anything.
    return health is None or health.code.is_settled


def blocking_chain(
    graph: ResourceGraph,
    healths: Mapping[ResourceKey, Health],
    start: ResourceKey,
    *,
    for_s: Mapping[ResourceKey, float] | None = None,
) -> Chain:
    """The chain from ``start`` to what holds it (``start`` alone when nothing
    else does). ``for_s`` gives how long each object has been as it is."""
    stage_of = {key: i for i, stage in enumerate(graph.stages) for key in stage.keys}
    path = [start]
    seen = {start}
    while True:
        key = path[-1]
        nxt = _held_by(graph, healths, key, seen, stage_of)
        if nxt is None:
            break
        path.append(nxt)
        seen.add(nxt)
    holder = path[-1]
    health = healths.get(holder, Health(HealthCode.UNKNOWN, "not read"))
    return Chain(tuple(path), health, (for_s or {}).get(holder))


def _held_by(
    graph: ResourceGraph,
    healths: Mapping[ResourceKey, Health],
    key: ResourceKey,
    seen: set[ResourceKey],
    stage_of: Mapping[ResourceKey, int],
) -> ResourceKey | None:
    if key in graph.dag:
        for dep in graph.dependencies_of(key):
            if dep not in seen and not _settled(healths.get(dep)):
                return dep
    here = stage_of.get(key)
    if here is None:
        return None
    for stage in reversed(graph.stages[:here]):
        waiting = sorted(
            (k for k in stage.keys if k not in seen and not _settled(healths.get(k))),
            key=order_key,
        )
        if waiting:
            return waiting[0]
    return None


def chain_through(
    graph: ResourceGraph,
    healths: Mapping[ResourceKey, Health],
    key: ResourceKey,
    *,
    for_s: Mapping[ResourceKey, float] | None = None,
) -> Chain:
    """The whole chain ``key`` is on: from the object furthest up the graph
    that waits for it (through unsettled dependents, the first in kind order
    at each step: what the operator is waiting for) down to the object that
    holds ``key``. A sync waiting on ``key`` says this, not ``key`` alone.
    Falls back to ``blocking_chain(key)`` when the chain from the top does
    not pass through ``key`` (it waits for something else first)."""
    start = key
    seen = {key}
    while start in graph.dag:
        waiting = sorted(
            (
                dependent
                for dependent in graph.dag.successors(start)
                if dependent not in seen
                and not graph.is_hook(dependent)
                and not _settled(healths.get(dependent))
            ),
            key=order_key,
        )
        if not waiting:
            break
        start = waiting[0]
        seen.add(start)
    chain = blocking_chain(graph, healths, start, for_s=for_s)
    if start == key or key in chain.keys:
        return chain
    return blocking_chain(graph, healths, key, for_s=for_s)


def blocking_chains(
    graph: ResourceGraph,
    healths: Mapping[ResourceKey, Health],
    *,
    for_s: Mapping[ResourceKey, float] | None = None,
) -> list[Chain]:
    """One chain per object the app waits for: each unsettled object no other
    unsettled object waits for (the ends of what is stuck), hooks left out, in
    graph order. Empty when everything is settled."""
    unsettled = [
        key for key in graph.order if not graph.is_hook(key) and not _settled(healths.get(key))
    ]
    held: set[ResourceKey] = set()
    chains: list[Chain] = []
    for key in reversed(unsettled):  # the last objects first: they wait for the others
        if key in held:
            continue
        chain = blocking_chain(graph, healths, key, for_s=for_s)
        held.update(chain.keys)
        chains.append(chain)
    chains.reverse()
    return chains


def since_created(live: Live | None, now: datetime) -> float | None:
    """Seconds since ``live`` was created (metadata.creationTimestamp), None when unknown."""
    if live is None:
        return None
    meta = live.manifest.get("metadata")
    stamp = meta.get("creationTimestamp") if isinstance(meta, Mapping) else None
    if not isinstance(stamp, str):
        return None
    try:
        created = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if created.tzinfo is None:
        return None
    return max((now - created).total_seconds(), 0.0)


def elapsed_text(seconds: float) -> str:
    """``4m10s``, ``35s``, ``1h2m``: how long a wait has lasted, as kubectl writes ages."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs}s" if secs else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m" if minutes else f"{hours}h"
