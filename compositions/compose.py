"""The Compose stage: rendered resources → composed resources, edges, composites.

``Source → Render → Compose → Graph → Plan → Sync``. Pure: no I/O, the input
is never changed.

1. XRDs, Compositions and kro ResourceGraphDefinitions are read (and taken
   out of the output: they describe, they are not applied);
2. every XR, claim or kro instance is composed (see ``crossplane`` and
   ``kro``) and replaced by its composed resources; a composed resource that
   is itself a composite is composed in turn (nested composites);
3. dependencies are declared, as :class:`~gitwave.engine.model.Dependency`
   values the graph stage turns into edges: ``${…}`` references between
   composed resources (REFERENCE), and each managed resource that writes a
   connection Secret (``writeConnectionSecretToRef``; CONNECTION_SECRET): the
   graph puts it before the workloads whose pods use that Secret, and the
   Secret's Namespace before it.

Errors are ValidationErrors naming the XR (``Kind/ns/name (file:line)``), the
Composition and the resource; nothing is composed when any composite fails.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from gitwave.compositions.kinds import DEFINING_KINDS
from gitwave.compositions.model import ANNOTATION_COMPOSITE, Composed, CompositeNode
from gitwave.compositions.secret_ref import secret_key_of
from gitwave.engine.errors import ValidationError
from gitwave.engine.model import Dependency, DependencyReason, Live, Resource, ResourceKey

if TYPE_CHECKING:
    from gitwave.compositions.registry import FunctionRegistry

__all__ = ["compose", "is_composed"]

# Nested composites deeper than this are a loop (an XR composing its own kind).
MAX_DEPTH = 8


def compose(
    resources: Sequence[Resource],
    *,
    functions: FunctionRegistry | None = None,
    observed: Mapping[ResourceKey, Live | None] | None = None,
) -> Composed:
    """Compose ``resources`` (the output of the Render stage).

    ``functions`` resolves pipeline steps (default: the built-ins and the
    installed entry points). ``observed`` maps keys of composed resources (and
    of their connection Secrets) to what the target holds; with it each
    composite's status tells readiness, status fields and connection details.
    Without it, compose the desired state only (run it first to learn which
    keys to observe).

    Raises ValidationError for a bad definition, an invalid composite, a
    Composition problem or a bad reference; nothing is returned then.
    """
    if not any((r.key.group, r.key.kind) in DEFINING_KINDS for r in resources):
        # Nothing defines a composite: the composition engine (Crossplane, kro,
        # the function pipeline, CEL) is never imported for such an app.
        return Composed(tuple(resources))
    from gitwave.compositions.definition_set import DefinitionSet
    from gitwave.compositions.registry import default_registry
    from gitwave.compositions.selection import check_functions

    definitions = DefinitionSet.read(resources)
    registry = functions if functions is not None else default_registry()
    for composition in definitions.compositions:
        check_functions(composition, registry)

    output: list[Resource] = []
    edges: list[Dependency] = []
    nodes: list[CompositeNode] = []
    composites: set[ResourceKey] = set()
    queue: deque[tuple[Resource, int]] = deque((r, 0) for r in resources)
    while queue:
        resource, depth = queue.popleft()
        kind = (resource.key.group, resource.key.kind)
        if kind in definitions.skipped_kinds:
            continue
        done = definitions.compose(resource, registry=registry, observed=observed)
        if done is None:
            output.append(resource)
            continue
        if depth >= MAX_DEPTH:
            raise ValidationError(
                resource.where,
                f"composites nest deeper than {MAX_DEPTH} levels; a Composition composes its "
                "own kind",
            )
        composites.add(resource.key)
        nodes.append(done.node)
        edges.extend(Dependency(u, v) for u, v in done.materialized.edges)
        # Nested composites go right after their parent so output order stays by composite.
        queue.extendleft((r, depth + 1) for r in reversed(done.materialized.resources.values()))

    _check_unique(output)
    for edge in edges:
        if edge.before in composites:
            raise ValidationError(
                next(r.where for r in output if r.key == edge.after),
                f"references {edge.before.display}, a composite that is composed away; "
                "reference one of its composed resources instead",
            )
    edges.extend(_connection_secrets(output))
    unique = sorted(set(edges), key=lambda e: (str(e.after), str(e.before), e.reason.value))
    return Composed(tuple(output), tuple(unique), tuple(nodes))


def _check_unique(output: Sequence[Resource]) -> None:
    seen: dict[ResourceKey, Resource] = {}
    for resource in output:
        first = seen.get(resource.key)
        if first is not None:
            raise ValidationError(
                resource.where,
                f"composes {resource.key.display}, which {_origin(first)} has too",
                hint="give one of them another name",
            )
        seen[resource.key] = resource


def _origin(resource: Resource) -> str:
    composite = resource.annotations.get(ANNOTATION_COMPOSITE)
    if composite:
        return f"the composite {composite} ({resource.source})"
    return resource.where


def _connection_secrets(output: Sequence[Resource]) -> list[Dependency]:
    """Each managed resource that writes a connection Secret, the first one
    when several name the same Secret (the graph stage finds who reads it)."""
    writers: dict[ResourceKey, ResourceKey] = {}
    for resource in output:
        if "spec" not in resource.manifest:
            continue
        secret = secret_key_of(resource.manifest)
        if secret is not None and secret.namespace:
            writers.setdefault(secret, resource.key)
    return [
        Dependency(writer, secret, DependencyReason.CONNECTION_SECRET)
        for secret, writer in writers.items()
    ]


def is_composed(resource: Resource) -> bool:
    """True for a resource that compose() made (it carries gitwave.dev/composite)."""
    return ANNOTATION_COMPOSITE in resource.annotations
