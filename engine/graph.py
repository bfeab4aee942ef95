"""Graph stage: desired resources → one dependency DAG, cut into stages in run order.

A sync runs the stages of a :class:`ResourceGraph` one after the other: every
object of a stage is applied in parallel, then waited on until healthy. The
stages follow DESIGN.md "Ordering rules", in this order of precedence:

1. hook phase: PreSync → Sync → PostSync (SyncFail hooks only run on failure and
   live in ``fail_stages``; ``Skip`` hooks are never applied);
2. sync wave (``argocd.argoproj.io/sync-wave`` or ``gitwave.dev/sync-wave``);
3. explicit dependencies (``gitwave.dev/depends-on`` and the caller's
   ``extra_edges``: Flux ``dependsOn``, composition references);
4. implied references (Namespace → its objects, CRD → its custom resources,
   ConfigMap/Secret/PVC/ServiceAccount → the workloads that use them);
5. kind order, then namespace, then name (only sorts; never makes a stage wait).

Dependencies never override waves: an explicit one that points backwards in
(phase, wave) is an error, an implied one that would is dropped. Inside one
(phase, wave), objects that depend on each other are split into steps
(``Stage.step``) by dependency depth.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import networkx as nx

from gitwave.engine.errors import CycleError, ValidationError
from gitwave.engine.kinds import kind_rank
from gitwave.engine.model import (
    ANNOTATION_DEPENDS_ON,
    ANNOTATION_HOOK_ARGO,
    ANNOTATION_HOOK_DELETE_POLICY_ARGO,
    ANNOTATION_SYNC_WAVE,
    ANNOTATION_SYNC_WAVE_ARGO,
    HookDeletePolicy,
    HookPhase,
    Resource,
    ResourceKey,
)

__all__ = [
    "Placement",
    "ResourceGraph",
    "Stage",
    "build_graph",
    "order_key",
    "parse_sync_wave",
    "pod_references",
    "to_dot",
]

# Argo CD deletes a hook before it is created again unless told otherwise.
DEFAULT_HOOK_DELETE_POLICIES = frozenset({HookDeletePolicy.BEFORE_HOOK_CREATION})

_INTEGER = re.compile(r"[+-]?[0-9]+")
_HOOK_NAMES = ", ".join(p.value for p in HookPhase)
_POLICY_NAMES = ", ".join(p.value for p in HookDeletePolicy)

_CRD = ("apiextensions.k8s.io", "CustomResourceDefinition")

# Where the pod template sits in each workload kind.
_POD_SPEC_PATHS: Mapping[tuple[str, str], tuple[str, ...]] = MappingProxyType(
    {
        ("", "Pod"): ("spec",),
        ("", "ReplicationController"): ("spec", "template", "spec"),
        ("apps", "Deployment"): ("spec", "template", "spec"),
        ("apps", "StatefulSet"): ("spec", "template", "spec"),
        ("apps", "DaemonSet"): ("spec", "template", "spec"),
        ("apps", "ReplicaSet"): ("spec", "template", "spec"),
        ("extensions", "Deployment"): ("spec", "template", "spec"),
        ("extensions", "DaemonSet"): ("spec", "template", "spec"),
        ("extensions", "ReplicaSet"): ("spec", "template", "spec"),
        ("batch", "Job"): ("spec", "template", "spec"),
        ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
    }
)


def order_key(key: ResourceKey) -> tuple[int, str, str, str, str]:
    """The sort key of rule 5: kind order, then namespace, then name.

    Kind and group break ties between unknown kinds (which share one rank), so
    the order is total.
    """
    return (kind_rank(key.group, key.kind), key.kind, key.group, key.namespace, key.name)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one object runs: its phases (several for a multi-phase hook), wave,
    and, for hooks, when the hook object is deleted."""

    phases: tuple[HookPhase, ...]
    wave: int
    is_hook: bool
    delete_policies: frozenset[HookDeletePolicy]

    @property
    def position(self) -> tuple[int, int]:
        """(phase order, wave) of the first run; dependencies may only point forward in it."""
        return (self.phases[0].order, self.wave)

    def label(self) -> str:
        return f"{self.phases[0].value} wave {self.wave}"


# The placement of every object without a wave or hook annotation.
_ORDINARY = Placement((HookPhase.SYNC,), 0, is_hook=False, delete_policies=frozenset())


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
    order is not in ``dag`` but in ``stages``. The DiGraph is shared, not
    copied: callers must not mutate it.
    """

    resources: Mapping[ResourceKey, Resource]
    dag: nx.DiGraph
    order: tuple[ResourceKey, ...]
    stages: tuple[Stage, ...]
    fail_stages: tuple[Stage, ...]
    placements: Mapping[ResourceKey, Placement]
    skipped: tuple[ResourceKey, ...] = ()

    def phase_of(self, key: ResourceKey) -> HookPhase:
        """The first phase ``key`` runs in (Sync for ordinary objects). KeyError if unknown."""
        return self.placements[key].phases[0]

    def phases_of(self, key: ResourceKey) -> tuple[HookPhase, ...]:
        """Every phase ``key`` runs in, in run order. KeyError if unknown."""
        return self.placements[key].phases

    def wave_of(self, key: ResourceKey) -> int:
        """The sync wave of ``key``. KeyError if unknown."""
        return self.placements[key].wave

    def is_hook(self, key: ResourceKey) -> bool:
        """True when ``key`` is a hook (re-run every sync). KeyError if unknown."""
        return self.placements[key].is_hook

    def hook_delete_policies(self, key: ResourceKey) -> frozenset[HookDeletePolicy]:
        """When a hook is deleted; BeforeHookCreation when the hook names none, and
        empty for an ordinary object. KeyError if unknown."""
        return self.placements[key].delete_policies

    def dependencies_of(self, key: ResourceKey) -> tuple[ResourceKey, ...]:
        """The objects ``key`` waits for directly, in kind order."""
        return tuple(sorted(self.dag.predecessors(key), key=order_key))

    @property
    def has_objects(self) -> bool:
        """True when the render holds at least one object that is not a hook."""
        return any(not p.is_hook for p in self.placements.values())


def build_graph(
    resources: Sequence[Resource],
    *,
    extra_edges: Iterable[tuple[ResourceKey, ResourceKey]] = (),
) -> ResourceGraph:
    """Order ``resources`` for a sync.

    ``extra_edges`` are explicit dependencies found elsewhere (Flux ``dependsOn``,
    composition references): (u, v) means u before v. An edge touching a
    ``Skip`` hook is ignored.

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

    placements: dict[ResourceKey, Placement] = {}
    skipped: list[ResourceKey] = []
    for key in ordered:
        placement = _placement(by_key[key])
        if placement is None:
            skipped.append(key)
        else:
            placements[key] = placement
    kept = {key: by_key[key] for key in ordered if key in placements}
    skipped_set = frozenset(skipped)

    # The graph algorithms run on integer ids: hashing 10,000 dataclass keys a
    # few hundred thousand times is what makes a networkx-only build slow.
    keys = list(kept)
    index = {key: i for i, key in enumerate(keys)}
    position = [placements[key].position for key in keys]
    edges = _Edges(len(keys))
    for u, v in _explicit_edges(kept, by_key, placements, skipped_set, extra_edges):
        edges.add(index[u], index[v])
    if edges.topological_order() is None:
        raise CycleError([keys[i] for i in edges.find_cycle()])
    implied: set[tuple[int, int]] = set()
    for u, v in _implied_edges(kept):
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

    stages, fail_stages = _stages(keys, placements, edges, topo)
    seen: dict[ResourceKey, None] = {}
    for stage in (*stages, *fail_stages):
        for key in stage.keys:
            seen.setdefault(key, None)
    # Nodes and edges go in in run order, so iterating the DiGraph is deterministic.
    rank = [0] * len(keys)
    for position_in_order, key in enumerate(seen):
        rank[index[key]] = position_in_order
    by_rank = sorted(range(len(keys)), key=rank.__getitem__)
    dag = nx.DiGraph()
    dag.add_nodes_from(seen)
    dag.add_edges_from(
        (keys[u], keys[v])
        for u in by_rank
        for v in sorted(edges.successors[u], key=rank.__getitem__)
    )
    return ResourceGraph(
        resources=MappingProxyType({key: kept[key] for key in seen}),
        dag=dag,
        order=tuple(seen),
        stages=stages,
        fail_stages=fail_stages,
        placements=MappingProxyType({key: placements[key] for key in seen}),
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
        graph = nx.DiGraph()
        graph.add_nodes_from(range(len(self.successors)))
        graph.add_edges_from(sorted(self._set))
        members: list[int] = [u for u, _ in nx.find_cycle(graph)]
        start = members.index(min(members))
        return members[start:] + members[:start]


def parse_sync_wave(annotations: Mapping[str, Any], *, subject: str) -> int:
    """The sync wave an object's annotations ask for (0 when none).

    Raises ValidationError naming ``subject`` for a wave that is not an integer
    or for two wave annotations that disagree.
    """
    waves: dict[str, int] = {}
    for name in (ANNOTATION_SYNC_WAVE_ARGO, ANNOTATION_SYNC_WAVE):
        if name not in annotations:
            continue
        raw = annotations[name]
        text = raw.strip() if isinstance(raw, str) else raw
        if isinstance(text, int) and not isinstance(text, bool):
            waves[name] = text
        elif isinstance(text, str) and _INTEGER.fullmatch(text):
            waves[name] = int(text)
        else:
            raise ValidationError(
                subject,
                f"annotation {name} is {raw!r}, not an integer",
                hint='a sync wave is a whole number such as "-1", "0" or "5"',
            )
    if len(set(waves.values())) > 1:
        found = ", ".join(f"{name}={value}" for name, value in waves.items())
        raise ValidationError(
            subject, f"sync wave annotations disagree: {found}", hint="keep one of them"
        )
    return next(iter(waves.values()), 0)


def _placement(resource: Resource) -> Placement | None:
    """The placement of ``resource``; None for a ``Skip`` hook (never applied)."""
    annotations = resource.annotations
    if not annotations:  # most objects: no wave, no hook
        return _ORDINARY
    wave = parse_sync_wave(annotations, subject=resource.where)
    phases = _hook_phases(resource)
    policies = _delete_policies(resource)
    if HookPhase.SKIP in phases:
        return None
    if not phases:
        return Placement((HookPhase.SYNC,), wave, is_hook=False, delete_policies=frozenset())
    return Placement(phases, wave, is_hook=True, delete_policies=policies)


def _split_annotation(resource: Resource, name: str) -> list[str]:
    raw = resource.annotations.get(name)
    if raw is None:
        return []
    if not isinstance(raw, str):
        raise ValidationError(resource.where, f"annotation {name} is {raw!r}, not a string")
    return [part.strip() for part in raw.split(",") if part.strip()]


def _hook_phases(resource: Resource) -> tuple[HookPhase, ...]:
    phases: set[HookPhase] = set()
    for name in _split_annotation(resource, ANNOTATION_HOOK_ARGO):
        try:
            phases.add(HookPhase(name))
        except ValueError:
            raise ValidationError(
                resource.where,
                f"unknown hook {name!r} in annotation {ANNOTATION_HOOK_ARGO}",
                hint=f"use one or more of {_HOOK_NAMES}, comma separated",
            ) from None
    return tuple(sorted(phases, key=lambda p: p.order))


def _delete_policies(resource: Resource) -> frozenset[HookDeletePolicy]:
    policies: set[HookDeletePolicy] = set()
    for name in _split_annotation(resource, ANNOTATION_HOOK_DELETE_POLICY_ARGO):
        try:
            policies.add(HookDeletePolicy(name))
        except ValueError:
            raise ValidationError(
                resource.where,
                f"unknown hook delete policy {name!r} in annotation "
                f"{ANNOTATION_HOOK_DELETE_POLICY_ARGO}",
                hint=f"use one or more of {_POLICY_NAMES}, comma separated",
            ) from None
    return frozenset(policies) or DEFAULT_HOOK_DELETE_POLICIES


# --- explicit dependencies ---------------------------------------------------


def _explicit_edges(
    kept: Mapping[ResourceKey, Resource],
    every: Mapping[ResourceKey, Resource],
    placements: Mapping[ResourceKey, Placement],
    skipped: frozenset[ResourceKey],
    extra_edges: Iterable[tuple[ResourceKey, ResourceKey]],
) -> list[tuple[ResourceKey, ResourceKey]]:
    index: dict[tuple[str, str, str], list[ResourceKey]] = defaultdict(list)
    for key in every:
        index[(key.kind, key.namespace, key.name)].append(key)

    edges: list[tuple[ResourceKey, ResourceKey]] = []
    for key, resource in kept.items():
        for text in _split_annotation(resource, ANNOTATION_DEPENDS_ON):
            target = _resolve_reference(text, resource, index)
            if target in skipped:
                continue
            _check_forward(
                target, key, placements, every, via=f"annotation {ANNOTATION_DEPENDS_ON}"
            )
            edges.append((target, key))

    extra: list[tuple[ResourceKey, ResourceKey]] = []
    for before, after in extra_edges:
        if before in skipped or after in skipped:
            continue
        for end, other in ((before, after), (after, before)):
            if end not in every:
                subject = every[other].where if other in every else other.display
                raise ValidationError(
                    subject,
                    f"depends on {end.display}, which is not in the render",
                    hint="add it to the source, or remove the reference",
                )
        extra.append((before, after))
    for before, after in sorted(extra, key=lambda e: (order_key(e[1]), order_key(e[0]))):
        _check_forward(before, after, placements, every, via="a dependency")
        edges.append((before, after))
    return edges


def _resolve_reference(
    text: str, resource: Resource, index: Mapping[tuple[str, str, str], list[ResourceKey]]
) -> ResourceKey:
    """Resolve one ``Kind[.group]/namespace/name`` or ``Kind[.group]/name`` entry.

    Without a group the core group wins, else the one object of that kind and
    name. ``Kind/name`` means a cluster-scoped object, or failing that one in
    the dependent's own namespace.
    """
    parts = [part.strip() for part in text.split("/")]
    if len(parts) not in (2, 3) or not all(parts):
        raise ValidationError(
            resource.where,
            f"annotation {ANNOTATION_DEPENDS_ON} has a malformed entry {text!r}",
            hint="write Kind[.group]/namespace/name (Kind[.group]/name if cluster-scoped)",
        )
    kind, dot, group = parts[0].partition(".")
    name = parts[-1]
    namespaces = [parts[1]] if len(parts) == 3 else ["", resource.key.namespace]
    for namespace in dict.fromkeys(namespaces):
        keys = index.get((kind, namespace, name), [])
        if dot:
            keys = [k for k in keys if k.group == group]
        elif len(keys) > 1:
            keys = [k for k in keys if k.group == ""] or keys
        if len(keys) == 1:
            return keys[0]
        if len(keys) > 1:
            choices = ", ".join(f"{k.kind}.{k.group}" for k in sorted(keys))
            raise ValidationError(
                resource.where,
                f"annotation {ANNOTATION_DEPENDS_ON} entry {text!r} matches several objects "
                f"({choices})",
                hint="name the API group: Kind.group/namespace/name",
            )
    raise ValidationError(
        resource.where,
        f"annotation {ANNOTATION_DEPENDS_ON} names {text!r}, which is not in the render",
        hint="add that object to the source, or remove it from the annotation",
    )


def _check_forward(
    before: ResourceKey,
    after: ResourceKey,
    placements: Mapping[ResourceKey, Placement],
    every: Mapping[ResourceKey, Resource],
    *,
    via: str,
) -> None:
    first, then = placements[before], placements[after]
    if first.position > then.position:
        raise ValidationError(
            every[after].where,
            f"{via} makes it wait for {every[before].where}, which runs later "
            f"({first.label()}, after {then.label()})",
            hint="move the dependency to the same or an earlier wave, or drop the dependency",
        )


# --- implied references ------------------------------------------------------


def _implied_edges(
    kept: Mapping[ResourceKey, Resource],
) -> Iterator[tuple[ResourceKey, ResourceKey]]:
    namespaces: set[str] = set()
    crds: dict[tuple[str, str], ResourceKey] = {}
    for key, resource in kept.items():
        if key.group == "" and key.kind == "Namespace":
            namespaces.add(key.name)
        elif (key.group, key.kind) == _CRD:
            spec = _mapping(resource.manifest.get("spec"))
            names = _mapping(spec.get("names"))
            group, kind = spec.get("group"), names.get("kind")
            if isinstance(group, str) and isinstance(kind, str):
                crds[(group, kind)] = key

    for key, resource in kept.items():
        if key.namespace in namespaces:
            yield (ResourceKey("", "Namespace", "", key.namespace), key)
        crd = crds.get((key.group, key.kind))
        if crd is not None:
            yield (crd, key)
        path = _POD_SPEC_PATHS.get((key.group, key.kind))
        if path is not None:
            pod = _walk_mapping(resource.manifest, path)
            for kind, name in sorted(set(pod_references(pod))):
                target = ResourceKey("", kind, key.namespace, name)
                if target in kept:
                    yield (target, key)


def pod_references(pod_spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(kind, name) of every ConfigMap, Secret, PVC and ServiceAccount a pod spec uses."""
    for volume in _mappings(pod_spec.get("volumes")):
        yield from _named("ConfigMap", _mapping(volume.get("configMap")), "name")
        yield from _named("Secret", _mapping(volume.get("secret")), "secretName")
        yield from _named(
            "PersistentVolumeClaim", _mapping(volume.get("persistentVolumeClaim")), "claimName"
        )
        for source in _mappings(_mapping(volume.get("projected")).get("sources")):
            yield from _named("ConfigMap", _mapping(source.get("configMap")), "name")
            yield from _named("Secret", _mapping(source.get("secret")), "name")
    for field_name in ("containers", "initContainers", "ephemeralContainers"):
        for container in _mappings(pod_spec.get(field_name)):
            for env_from in _mappings(container.get("envFrom")):
                yield from _named("ConfigMap", _mapping(env_from.get("configMapRef")), "name")
                yield from _named("Secret", _mapping(env_from.get("secretRef")), "name")
            for env in _mappings(container.get("env")):
                value_from = _mapping(env.get("valueFrom"))
                yield from _named("ConfigMap", _mapping(value_from.get("configMapKeyRef")), "name")
                yield from _named("Secret", _mapping(value_from.get("secretKeyRef")), "name")
    account = pod_spec.get("serviceAccountName") or pod_spec.get("serviceAccount")
    if isinstance(account, str) and account:
        yield ("ServiceAccount", account)
    for pull_secret in _mappings(pod_spec.get("imagePullSecrets")):
        yield from _named("Secret", pull_secret, "name")


def _named(kind: str, ref: Mapping[str, Any], field_name: str) -> Iterator[tuple[str, str]]:
    name = ref.get(field_name)
    if isinstance(name, str) and name:
        yield (kind, name)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _mappings(value: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item


def _walk_mapping(manifest: Mapping[str, Any], path: Sequence[str]) -> Mapping[str, Any]:
    node: Mapping[str, Any] = manifest
    for step in path:
        node = _mapping(node.get(step))
    return node


# --- cycles and stages ---------------------------------------------------------


def _stages(
    keys: Sequence[ResourceKey],
    placements: Mapping[ResourceKey, Placement],
    edges: _Edges,
    topo: Sequence[int],
) -> tuple[tuple[Stage, ...], tuple[Stage, ...]]:
    groups: dict[tuple[HookPhase, int], list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        placement = placements[key]
        for phase in placement.phases:
            groups[(phase, placement.wave)].append(i)
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
