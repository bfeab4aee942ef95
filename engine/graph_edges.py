"""Graph edges: which object waits for which, and the order that breaks ties.

Rules 3 to 5 of ``graph.py``: explicit dependencies (the
``gitwave.dev/depends-on`` annotation, and what an earlier stage declares as
:class:`~gitwave.engine.model.Dependency` values: composition references,
Flux ``dependsOn``, connection Secrets), implied references (Namespace → its
objects, CRD → its custom resources, what a workload's pods use → the
workload), and ``order_key``, the kind order that sorts everything else.
Edges are (before, after) key pairs; ``graph.build_graph`` checks them for
cycles and cuts the stages.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence

from gitwave.engine.errors import ValidationError
from gitwave.engine.graph_facts import crd_kind, split_annotation
from gitwave.engine.kind_order import kind_rank
from gitwave.engine.model import (
    ANNOTATION_DEPENDS_ON,
    Dependency,
    DependencyReason,
    NodeFacts,
    Resource,
    ResourceKey,
)

__all__ = ["explicit_edges", "implied_edges", "order_key", "resolve_reference"]

_CRD = ("apiextensions.k8s.io", "CustomResourceDefinition")


def order_key(key: ResourceKey) -> tuple[int, str, str, str, str]:
    """The sort key of rule 5: kind order, then namespace, then name.

    Kind and group break ties between unknown kinds (which share one rank), so
    the order is total.
    """
    return (kind_rank(key.group, key.kind), key.kind, key.group, key.namespace, key.name)


# --- explicit dependencies ---------------------------------------------------


def explicit_edges(
    kept: Mapping[ResourceKey, Resource],
    every: Mapping[ResourceKey, Resource],
    facts: Mapping[ResourceKey, NodeFacts],
    skipped: frozenset[ResourceKey],
    extra_edges: Iterable[Dependency | tuple[ResourceKey, ResourceKey]],
) -> list[tuple[ResourceKey, ResourceKey]]:
    """The explicit edges among ``kept`` (the objects to apply; ``every`` also
    holds the ``skipped`` Skip hooks): ``depends-on`` annotations first, then
    ``extra_edges`` (a pair is a REFERENCE) in kind order of the dependent.

    Raises ValidationError for a malformed or unresolvable ``depends-on``
    entry, a dependency on an object not in the render, or one on an object
    that runs in a later (phase, wave).
    """
    index: dict[tuple[str, str, str], list[ResourceKey]] = defaultdict(list)
    for key in every:
        index[(key.kind, key.namespace, key.name)].append(key)

    edges: list[tuple[ResourceKey, ResourceKey]] = []
    for key, resource in kept.items():
        for text in split_annotation(resource, ANNOTATION_DEPENDS_ON):
            target = resolve_reference(text, resource, index)
            if target in skipped:
                continue
            _check_forward(target, key, facts, every, via=f"annotation {ANNOTATION_DEPENDS_ON}")
            edges.append((target, key))

    extra: list[tuple[ResourceKey, ResourceKey]] = []
    writers: list[Dependency] = []
    for item in extra_edges:
        dependency = item if isinstance(item, Dependency) else Dependency(*item)
        before, after = dependency.before, dependency.after
        if dependency.reason is DependencyReason.CONNECTION_SECRET:
            if before in skipped:
                continue
            _check_in_render(before, after, every)
            writers.append(dependency)
            continue
        if before in skipped or after in skipped:
            continue
        _check_in_render(before, after, every)
        _check_in_render(after, before, every)
        extra.append((before, after))
    extra.extend(_connection_secret_edges(writers, kept, every, facts))
    for before, after in sorted(extra, key=lambda e: (order_key(e[1]), order_key(e[0]))):
        _check_forward(before, after, facts, every, via="a dependency")
        edges.append((before, after))
    return edges


def _check_in_render(
    end: ResourceKey, other: ResourceKey, every: Mapping[ResourceKey, Resource]
) -> None:
    if end not in every:
        subject = every[other].where if other in every else other.display
        raise ValidationError(
            subject,
            f"depends on {end.display}, which is not in the render",
            hint="add it to the source, or remove the reference",
        )


def _connection_secret_edges(
    writers: Sequence[Dependency],
    kept: Mapping[ResourceKey, Resource],
    every: Mapping[ResourceKey, Resource],
    facts: Mapping[ResourceKey, NodeFacts],
) -> list[tuple[ResourceKey, ResourceKey]]:
    """The writer of each connection Secret before the workloads whose pods use
    it, and the Secret's Namespace before a cluster-scoped writer. Like implied
    references, none makes an object wait for a later phase or wave: such an
    edge is dropped, not an error."""
    if not writers:
        return []
    readers: dict[ResourceKey, list[ResourceKey]] = defaultdict(list)
    for key, found in facts.items():
        for reference in found.references:
            if reference.kind == "Secret":
                readers[reference].append(key)
    edges: list[tuple[ResourceKey, ResourceKey]] = []
    for writer in writers:
        secret = writer.after
        namespace = ResourceKey("", "Namespace", "", secret.namespace)
        if namespace in every and not writer.before.namespace:
            edges.append((namespace, writer.before))
        edges.extend((writer.before, reader) for reader in readers.get(secret, ()))
    return [
        (u, v)
        for u, v in edges
        if u != v and u in kept and v in kept and facts[u].position <= facts[v].position
    ]


def resolve_reference(
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
    facts: Mapping[ResourceKey, NodeFacts],
    every: Mapping[ResourceKey, Resource],
    *,
    via: str,
) -> None:
    first, then = facts[before], facts[after]
    if first.position > then.position:
        raise ValidationError(
            every[after].where,
            f"{via} makes it wait for {every[before].where}, which runs later "
            f"({first.label()}, after {then.label()})",
            hint="move the dependency to the same or an earlier wave, or drop the dependency",
        )


# --- implied references ------------------------------------------------------


def implied_edges(
    kept: Mapping[ResourceKey, Resource], facts: Mapping[ResourceKey, NodeFacts]
) -> Iterator[tuple[ResourceKey, ResourceKey]]:
    """The implied references among ``kept``: Namespace → its objects, CRD → its
    custom resources, what a workload's pods use (``NodeFacts.references``) →
    the workload. The caller drops those that point backwards or close a cycle."""
    namespaces: set[str] = set()
    crds: dict[tuple[str, str], ResourceKey] = {}
    for key, resource in kept.items():
        if key.group == "" and key.kind == "Namespace":
            namespaces.add(key.name)
        elif (key.group, key.kind) == _CRD:
            defined = crd_kind(resource)
            if defined is not None:
                crds[defined] = key

    for key in kept:
        if key.namespace in namespaces:
            yield (ResourceKey("", "Namespace", "", key.namespace), key)
        crd = crds.get((key.group, key.kind))
        if crd is not None:
            yield (crd, key)
        for target in facts[key].references:
            if target in kept:
                yield (target, key)
