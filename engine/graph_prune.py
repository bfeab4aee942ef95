"""The reverse graph, for prune: which live objects to delete before which.

Objects to prune are no longer in the render, so the graph stage never saw
them; their dependencies are read again from what they are live: the
``gitwave.dev/depends-on`` annotation they were applied with, the implied
references of ``graph_edges`` (Namespace → its objects, CRD → its custom
resources, what a workload's pods use → the workload), and the edges a
target reads from its own fields (``provider.DependencyReader``: an RDS
instance names its subnet group). ``deletion_levels`` cuts them into levels:
an object is deleted only once everything that uses it is gone.

Pure functions over frozen values; the sync (``sync_prune``) does the I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from gitwave.engine.errors import ValidationError
from gitwave.engine.graph_edges import implied_edges, order_key, resolve_reference
from gitwave.engine.graph_facts import node_facts, split_annotation
from gitwave.engine.model import (
    ANNOTATION_DEPENDS_ON,
    HookPhase,
    Live,
    NodeFacts,
    Resource,
    ResourceKey,
)

__all__ = ["Edge", "deletion_levels", "live_edges", "users_of"]

# (before, after) in apply order: ``after`` uses ``before``, so it is deleted first.
Edge = tuple[ResourceKey, ResourceKey]

_PLAIN = NodeFacts((HookPhase.SYNC,), 0, is_hook=False, delete_policies=frozenset())


def _as_resource(live: Live) -> Resource:
    return Resource(live.key, str(live.manifest.get("apiVersion", "")), live.manifest)


def live_edges(lives: Sequence[Live]) -> list[Edge]:
    """The dependencies among ``lives`` that their manifests state: their
    ``depends-on`` annotations and the implied references. A dependency on
    an object not among ``lives`` (kept, or gone already) is no edge here, and
    a malformed annotation on a live object adds none: whoever edited it
    live, the prune goes on in kind order."""
    resources = {live.key: _as_resource(live) for live in lives}
    index: dict[tuple[str, str, str], list[ResourceKey]] = defaultdict(list)
    for key in resources:
        index[(key.kind, key.namespace, key.name)].append(key)
    edges: list[Edge] = []
    facts: dict[ResourceKey, NodeFacts] = {}
    for key, resource in resources.items():
        try:
            facts[key] = node_facts(resource) or _PLAIN
            entries = split_annotation(resource, ANNOTATION_DEPENDS_ON)
        except ValidationError:
            facts[key] = _PLAIN
            continue
        for text in entries:
            try:
                edges.append((resolve_reference(text, resource, index), key))
            except ValidationError:
                continue
    edges.extend(implied_edges(resources, facts))
    return [(u, v) for u, v in dict.fromkeys(edges) if u != v]


def deletion_levels(
    keys: Sequence[ResourceKey], edges: Iterable[Edge]
) -> tuple[tuple[ResourceKey, ...], ...]:
    """``keys`` in levels for deletion: level 0 holds the objects nothing among
    ``keys`` uses; each later level holds objects whose users are all in
    earlier levels. Inside a level, ``keys``' own order is kept (the objects
    of one level may be deleted in parallel).

    Edges with an end outside ``keys`` are ignored. When nothing left can go
    first (a cycle, which only a live edit can make, and what its members
    use), everything left goes together in a last level."""
    members = set(keys)
    users: dict[ResourceKey, set[ResourceKey]] = defaultdict(set)
    for before, after in edges:
        if before in members and after in members and before != after:
            users[before].add(after)
    level: dict[ResourceKey, int] = {}
    remaining = list(keys)
    depth = 0
    while remaining:
        ready = [k for k in remaining if all(u in level for u in users[k])]
        if not ready:
            ready = remaining  # a cycle: nothing left can go first
        for key in ready:
            level[key] = depth
        remaining = [k for k in remaining if k not in level]
        depth += 1
    # Every round places at least one object, so no level is empty.
    return tuple(tuple(k for k in keys if level[k] == n) for n in range(depth))


def users_of(edges: Iterable[Edge]) -> Mapping[ResourceKey, tuple[ResourceKey, ...]]:
    """For each object, the objects that use it (in kind order)."""
    found: dict[ResourceKey, set[ResourceKey]] = defaultdict(set)
    for before, after in edges:
        found[before].add(after)
    return {key: tuple(sorted(value, key=order_key)) for key, value in found.items()}
