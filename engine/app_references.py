"""The ``${…}`` references of an app's graph (``compositions``), bound in two
steps: at plan time those whose objects are live already, so the plan
compares real values (``bind_known_references``); at sync time, each object's
references right before it is applied, against what is live then (``late_binder``).
A reference reads objects of the graph, or the connection Secrets its
managed resources write (``connection_secrets``), nothing else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from gitwave.compositions import PendingReference, references, resolve
from gitwave.compositions.secret_ref import secret_key_of
from gitwave.engine.graph import ResourceGraph
from gitwave.engine.model import Live, Manifest, Resource, ResourceKey
from gitwave.engine.router import ProviderRouter


def _lookup_in(
    live: Mapping[ResourceKey, Live | None],
) -> Callable[[ResourceKey], Manifest | None]:
    def lookup(key: ResourceKey) -> Manifest | None:
        seen = live.get(key)
        return seen.manifest if seen is not None else None

    return lookup


def bind_known_references(
    graph: ResourceGraph, live: Mapping[ResourceKey, Live | None]
) -> ResourceGraph:
    """Resolve ``${id.status.field}`` references whose objects are live already,
    so the plan compares real values; the rest stay as written until sync."""
    bound: dict[ResourceKey, Resource] = {}
    for key, resource in graph.resources.items():
        if not references(resource):
            continue
        try:
            bound[key] = resolve(resource, lookup=_lookup_in(live))
        except PendingReference:
            continue
    if not bound:
        return graph
    return dataclasses.replace(graph, resources={**graph.resources, **bound})


def connection_secrets(graph: ResourceGraph) -> frozenset[ResourceKey]:
    """The connection Secrets the graph's managed resources write
    (``writeConnectionSecretToRef``): the only objects outside the graph a
    reference may read (a composite's connection Secret copies their keys)."""
    found = set()
    for resource in graph.resources.values():
        spec = resource.manifest.get("spec")
        # secret_key_of reads spec.writeConnectionSecretToRef: most objects
        # have no such field, and 10,000 field-path reads were a fifth of the
        # plan's pipeline.
        if isinstance(spec, Mapping) and "writeConnectionSecretToRef" in spec:
            secret = secret_key_of(resource.manifest)
            if secret is not None and secret.namespace and secret not in graph.resources:
                found.add(secret)
    return frozenset(found)


def referenced_secrets(
    graph: ResourceGraph, targets: ProviderRouter
) -> dict[ResourceKey, Live | None]:
    """The live connection Secrets that references of the graph read."""
    written = connection_secrets(graph)
    if not written:  # most apps: no reference to look for
        return {}
    wanted = {
        key
        for resource in graph.resources.values()
        for key in references(resource).values()
        if key in written
    }
    if not wanted:
        return {}
    secrets = targets.for_kind("v1", "Secret")
    return {key: secrets.observe(key) for key in sorted(wanted)}


def late_binder(graph: ResourceGraph, targets: ProviderRouter) -> Callable[[Resource], Resource]:
    """What the sync calls right before applying an object: evaluate its
    references against the objects as they are live now (applied, and healthy,
    in an earlier wave or step)."""
    written = connection_secrets(graph)

    def lookup(key: ResourceKey) -> Manifest | None:
        referenced = graph.resources.get(key)
        if referenced is not None:
            seen = targets.for_resource(referenced).observe(key)
        elif key in written:
            seen = targets.for_kind("v1", "Secret").observe(key)
        else:
            return None
        return seen.manifest if seen is not None else None

    def bind(resource: Resource) -> Resource:
        return resolve(resource, lookup=lookup) if references(resource) else resource

    return bind
