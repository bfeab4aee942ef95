"""The XRDs, Compositions and kro RGDs of one render, indexed by the kinds they
define, and the composition of one composite by them (``compose`` imports this
only for a render that holds a definition)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gitwave.compositions.crossplane import ComposedComposite, compose_xr
from gitwave.compositions.definitions import (
    COMPOSITION,
    RGD,
    XRD,
    CompositeDefinition,
    Composition,
    GraphDefinition,
    parse_composition,
    parse_graph_definition,
    parse_xrd,
)
from gitwave.compositions.kro import compose_instance
from gitwave.compositions.registry import FunctionRegistry
from gitwave.engine.errors import ValidationError
from gitwave.engine.model import Live, Resource, ResourceKey

__all__ = ["DefinitionSet"]


class DefinitionSet:
    """The XRDs, Compositions and RGDs of one render, indexed by the kinds they define."""

    def __init__(self) -> None:
        self.xrds: dict[tuple[str, str], CompositeDefinition] = {}
        self.claims: dict[tuple[str, str], CompositeDefinition] = {}
        self.graphs: dict[tuple[str, str], GraphDefinition] = {}
        self.compositions: list[Composition] = []
        self.skipped_kinds = {XRD, COMPOSITION, RGD}
        self.cluster_kinds: set[tuple[str, str]] = set()

    @property
    def empty(self) -> bool:
        return not (self.xrds or self.graphs or self.compositions)

    @classmethod
    def read(cls, resources: Sequence[Resource]) -> DefinitionSet:
        found = cls()
        owners: dict[tuple[str, str], str] = {}
        for resource in resources:
            kind = (resource.key.group, resource.key.kind)
            if kind == XRD:
                xrd = parse_xrd(resource)
                found._claim(owners, (xrd.group, xrd.kind), resource)
                found.xrds[(xrd.group, xrd.kind)] = xrd
                found.cluster_kinds.add((xrd.group, xrd.kind))
                if xrd.claim_kind:
                    found._claim(owners, (xrd.group, xrd.claim_kind), resource)
                    found.claims[(xrd.group, xrd.claim_kind)] = xrd
            elif kind == COMPOSITION:
                composition = parse_composition(resource)
                if any(c.name == composition.name for c in found.compositions):
                    raise ValidationError(resource.where, "duplicate Composition name")
                found.compositions.append(composition)
            elif kind == RGD:
                graph = parse_graph_definition(resource)
                found._claim(owners, (graph.group, graph.kind), resource)
                found.graphs[(graph.group, graph.kind)] = graph
        return found

    @staticmethod
    def _claim(owners: dict[tuple[str, str], str], kind: tuple[str, str], by: Resource) -> None:
        if kind in owners:
            raise ValidationError(
                by.where, f"defines {kind[1]}.{kind[0]}, which {owners[kind]} defines too"
            )
        owners[kind] = by.where

    def compose(
        self,
        resource: Resource,
        *,
        registry: FunctionRegistry,
        observed: Mapping[ResourceKey, Live | None] | None,
    ) -> ComposedComposite | None:
        """The composition of ``resource``; None when it is not a composite."""
        kind = (resource.key.group, resource.key.kind)
        xrd = self.xrds.get(kind) or self.claims.get(kind)
        if xrd is not None:
            return compose_xr(
                resource,
                xrd,
                self.compositions,
                registry=registry,
                observed=observed,
                cluster_kinds=self.cluster_kinds,
            )
        graph = self.graphs.get(kind)
        if graph is not None:
            return compose_instance(
                resource, graph, observed=observed, cluster_kinds=self.cluster_kinds
            )
        return None
