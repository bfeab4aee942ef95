"""Graph stage: desired resources → one dependency DAG, cut into stages in run order.

A sync runs the stages of a :class:`ResourceGraph` one after the other: every
object of a stage is applied in parallel, then waited on until healthy. The
stages follow DESIGN.md "Ordering rules", in this order of precedence:

1. hook phase: PreSync → Sync → PostSync (SyncFail hooks only run on failure and
   live in ``fail_stages``; ``Skip`` hooks are never applied);
2. sync wave (``argocd.argoproj.io/sync-wave`` or ``gitwave.dev/sync-wave``);
3. explicit dependencies (``gitwave.dev/depends-on`` and the caller's
   ``extra_edges``: Flux ``dependsOn``, composition references, and the
   writer of a connection Secret before the workloads that use it);
4. implied references (Namespace → its objects, CRD → its custom resources,
   ConfigMap/Secret/PVC/ServiceAccount → the workloads that use them);
5. kind order, then namespace, then name (only sorts; never makes a stage wait).

The stage has three parts: ``graph_facts.py`` reads each object's annotations
and pod spec once into a :class:`~gitwave.engine.model.NodeFacts` (rules 1, 2
and what rule 4 needs), ``graph_edges.py`` finds the edges of rules 3 to 5,
and this module checks them for cycles and cuts the stages. The facts stay on
the graph (``ResourceGraph.facts``): the plan and the sync read them, never
the annotations.

Dependencies never override waves: an explicit one that points backwards in
(phase, wave) is an error, an implied one that would is dropped. Inside one
(phase, wave), objects that depend on each other are split into steps
(``Stage.step``) by dependency depth.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from gitwave.engine.dag import Dag
from gitwave.engine.errors import CycleError, ValidationError
from gitwave.engine.graph_edges import explicit_edges, implied_edges, order_key
from gitwave.engine.graph_facts import node_facts
from gitwave.engine.model import (
    Dependency,
    HookDeletePolicy,
    HookPhase,
    NodeFacts,
    Resource,
    ResourceKey,
)

__all__ = [
    "ResourceGraph",
    "Stage",
    "build_graph",
    "order_key",
    "to_dot",
]


@dataclass(frozen=True, slots=True)
class Stage:
    """Objects applied together, then waited on until healthy.

    ``step`` numbers the dependency depth inside one (phase, wave): step 1 holds
    the objects that depend on something in step 0, and so on.
    """

    phase: HookPhase
    wave: int
    step: int
    keys: tuple[ResourceKey, ...]

    @property
    def label(self) -> str:
        base = f"{self.phase.value} wave {self.wave}"
        return f"{base} step {self.step}" if self.step else base


@dataclass(frozen=True, eq=False)
class ResourceGraph:
    """The desired objects of one app, ordered for a sync.

    ``dag`` holds the dependency edges (explicit and implied, after filtering):
    an edge u→v means u must be applied, and healthy, before v. Phase and wave
    order is not in ``dag`` but in ``stages``. ``facts`` holds what was read
    from each object's annotations and pod spec. The Dag is read-only, shared,
    not copied.
    """

    resources: Mapping[ResourceKey, Resource]
    dag: Dag[ResourceKey]
    order: tuple[ResourceKey, ...]
    stages: tuple[Stage, ...]
    fail_stages: tuple[Stage, ...]
    facts: Mapping[ResourceKey, NodeFacts]
    skipped: tuple[ResourceKey, ...] = ()

    def facts_of(self, key: ResourceKey) -> NodeFacts:
        """What the graph read from ``key``'s annotations and pod spec. KeyError if unknown."""
        return self.facts[key]

    def phase_of(self, key: ResourceKey) -> HookPhase:
        """The first phase ``key`` runs in (Sync for ordinary objects). KeyError if unknown."""
        return self.facts[key].phases[0]

    def phases_of(self, key: ResourceKey) -> tuple[HookPhase, ...]:
        """Every phase ``key`` runs in, in run order. KeyError if unknown."""
        return self.facts[key].phases

    def wave_of(self, key: ResourceKey) -> int:
        """The sync wave of ``key``. KeyError if unknown."""
        return self.facts[key].wave

    def is_hook(self, key: ResourceKey) -> bool:
        """True when ``key`` is a hook (re-run every sync). KeyError if unknown."""
        return self.facts[key].is_hook

    def hook_delete_policies(self, key: ResourceKey) -> frozenset[HookDeletePolicy]:
        """When a hook is deleted; BeforeHookCreation when the hook names none, and
        empty for an ordinary object. KeyError if unknown."""
        return self.facts[key].delete_policies

    def dependencies_of(self, key: ResourceKey) -> tuple[ResourceKey, ...]:
        """The objects ``key`` waits for directly, in kind order."""
        return tuple(sorted(self.dag.predecessors(key), key=order_key))

    @property
    def has_objects(self) -> bool:
        """True when the render holds at least one object that is not a hook."""
        return any(not f.is_hook for f in self.facts.values())


def build_graph(
    resources: Sequence[Resource],
    *,
    extra_edges: Iterable[Dependency | tuple[ResourceKey, ResourceKey]] = (),
) -> ResourceGraph:
    """Order ``resources`` for a sync.

    ``extra_edges`` are dependencies found by an earlier stage (the Compose
    stage's ``Composed.edges``, Flux ``dependsOn``): Dependency values, or
    (u, v) pairs meaning u before v (a REFERENCE). An edge touching a ``Skip``
    hook is ignored.

    Raises ValidationError for a bad annotation (sync wave, hook, delete policy,
    depends-on), a duplicate object, a dependency on an object that is not in
    the render or one that points to a later wave; CycleError for a cycle.
    """
    by_key: dict[ResourceKey, Resource] = {}
    for resource in resources:
        if resource.key in by_key:
            first = by_key[resource.key]
            raise ValidationError(
                resource.where, f"duplicate object: {first.where} has the same kind and name"
            )
        by_key[resource.key] = resource
    ordered = sorted(by_key, key=order_key)

    facts: dict[ResourceKey, NodeFacts] = {}
    skipped: list[ResourceKey] = []
    for key in ordered:
        found = node_facts(by_key[key])
        if found is None:
            skipped.append(key)
        else:
            facts[key] = found
    kept = {key: by_key[key] for key in ordered if key in facts}
    skipped_set = frozenset(skipped)

    # The graph algorithms run on integer ids: hashing 10,000 dataclass keys a
    # few hundred thousand times is what makes a networkx-only build slow.
    keys = list(kept)
    index = {key: i for i, key in enumerate(keys)}
    position = [facts[key].position for key in keys]
    edges = _Edges(len(keys))
    for u, v in explicit_edges(kept, by_key, facts, skipped_set, extra_edges):
        edges.add(index[u], index[v])
    if edges.topological_order() is None:
        raise CycleError([keys[i] for i in edges.find_cycle()])
    implied: set[tuple[int, int]] = set()
    for u, v in implied_edges(kept, facts):
        iu, iv = index[u], index[v]
        if iu != iv and position[iu] <= position[iv] and edges.add(iu, iv):
            implied.add((iu, iv))
    topo = edges.topological_order()
    while topo is None:
        # Explicit dependencies outrank implied references: the explicit edges
        # alone are acyclic, so every cycle left holds an implied edge to drop.
        ring = edges.find_cycle()
        pairs = zip(ring, ring[1:] + ring[:1], strict=True)
        edges.remove(*next(pair for pair in pairs if pair in implied))
        topo = edges.topological_order()

    stages, fail_stages = _stages(keys, facts, edges, topo)
    seen: dict[ResourceKey, None] = {}
    for stage in (*stages, *fail_stages):
        for key in stage.keys:
            seen.setdefault(key, None)
    # Nodes and edges go in in run order, so iterating the Dag is deterministic.
    rank = [0] * len(keys)
    for position_in_order, key in enumerate(seen):
        rank[index[key]] = position_in_order
    by_rank = sorted(range(len(keys)), key=rank.__getitem__)
    dag = Dag(
        seen,
        (
            (keys[u], keys[v])
            for u in by_rank
            for v in sorted(edges.successors[u], key=rank.__getitem__)
        ),
    )
    return ResourceGraph(
        resources=MappingProxyType({key: kept[key] for key in seen}),
        dag=dag,
        order=tuple(seen),
        stages=stages,
        fail_stages=fail_stages,
        facts=MappingProxyType({key: facts[key] for key in seen}),
        skipped=tuple(skipped),
    )


class _Edges:
    """Adjacency lists over integer node ids, with Kahn's topological sort."""

    def __init__(self, size: int) -> None:
        self.successors: list[list[int]] = [[] for _ in range(size)]
        self.predecessors: list[list[int]] = [[] for _ in range(size)]
        self._set: set[tuple[int, int]] = set()

    def add(self, u: int, v: int) -> bool:
        """Add u→v; False when it was already there."""
        if (u, v) in self._set:
            return False
        self._set.add((u, v))
        self.successors[u].append(v)
        self.predecessors[v].append(u)
        return True

    def remove(self, u: int, v: int) -> None:
        self._set.discard((u, v))
        self.successors[u].remove(v)
        self.predecessors[v].remove(u)

    def topological_order(self) -> list[int] | None:
        """Node ids, every edge pointing forward; None when there is a cycle."""
        waiting = [len(p) for p in self.predecessors]
        ready = [i for i, count in enumerate(waiting) if count == 0]
        result: list[int] = []
        while ready:
            node = ready.pop()
            result.append(node)
            for after in self.successors[node]:
                waiting[after] -= 1
                if waiting[after] == 0:
                    ready.append(after)
        return result if len(result) == len(waiting) else None

    def find_cycle(self) -> list[int]:
        """The members of one cycle, starting from the smallest id (the smallest
        key in kind order). Only called when topological_order() is None."""
        import networkx as nx  # an error's path only: 0.1-0.3 s to import

        graph = nx.DiGraph()
        graph.add_nodes_from(range(len(self.successors)))
        graph.add_edges_from(sorted(self._set))
        members: list[int] = [u for u, _ in nx.find_cycle(graph)]
        start = members.index(min(members))
        return members[start:] + members[:start]


# --- cycles and stages ---------------------------------------------------------


def _stages(
    keys: Sequence[ResourceKey],
    facts: Mapping[ResourceKey, NodeFacts],
    edges: _Edges,
    topo: Sequence[int],
) -> tuple[tuple[Stage, ...], tuple[Stage, ...]]:
    groups: dict[tuple[HookPhase, int], list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        found = facts[key]
        for phase in found.phases:
            groups[(phase, found.wave)].append(i)
    topo_index = [0] * len(keys)
    for rank, node in enumerate(topo):
        topo_index[node] = rank

    stages: list[Stage] = []
    fail_stages: list[Stage] = []
    for phase, wave in sorted(groups, key=lambda g: (g[0].order, g[1])):
        members = groups[(phase, wave)]
        member_set = set(members)
        depth: dict[int, int] = {}
        for node in sorted(members, key=topo_index.__getitem__):
            depth[node] = max(
                (depth[p] + 1 for p in edges.predecessors[node] if p in member_set), default=0
            )
        steps: dict[int, list[int]] = defaultdict(list)
        # ``members`` is in kind order already (keys are sorted by order_key).
        for node in members:
            steps[depth[node]].append(node)
        target = fail_stages if phase is HookPhase.SYNC_FAIL else stages
        for step in sorted(steps):
            target.append(Stage(phase, wave, step, tuple(keys[i] for i in steps[step])))
    return tuple(stages), tuple(fail_stages)


# --- Graphviz ------------------------------------------------------------------


def to_dot(graph: ResourceGraph) -> str:
    """The graph in Graphviz DOT: one cluster per stage, in run order, and the
    dependency edges. A multi-phase hook is drawn once per phase; edges start
    and end at an object's first stage."""
    position = {key: i for i, key in enumerate(graph.order)}
    first: dict[ResourceKey, str] = {}
    lines = [
        "digraph gitwave {",
        "  rankdir=LR;",
        '  node [shape=box, fontname="monospace"];',
    ]
    for index, stage in enumerate((*graph.stages, *graph.fail_stages)):
        lines.append(f"  subgraph cluster_{index} {{")
        lines.append(f"    label={_dot_string(stage.label)};")
        for key in stage.keys:
            node = f"n{position[key]}_s{index}"
            first.setdefault(key, node)
            lines.append(f"    {node} [label={_dot_string(key.display)}];")
        lines.append("  }")
    for before in graph.order:
        for after in sorted(graph.dag.successors(before), key=position.__getitem__):
            lines.append(f"  {first[before]} -> {first[after]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
