"""What the Compose stage returns: the composed resources, their dependencies, the composites."""

from __future__ import annotations

import enum
import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from gitwave.engine.model import Dependency, Health, HealthCode, Resource, ResourceKey, SourceRef

if TYPE_CHECKING:
    from gitwave.compositions.connection import ConnectionDetails

__all__ = [
    "ANNOTATION_COMPOSITE",
    "ANNOTATION_COMPOSITION_RESOURCE",
    "ANNOTATION_EXTERNAL_NAME",
    "LABEL_CLAIM_NAME",
    "LABEL_CLAIM_NAMESPACE",
    "LABEL_COMPOSITE",
    "Composed",
    "ComposedReadiness",
    "CompositeNode",
    "CompositeStatus",
    "Condition",
    "ConditionStatus",
]

# gitwave: which composite a composed resource belongs to (the XR's Kind/ns/name).
ANNOTATION_COMPOSITE = "gitwave.dev/composite"
# Crossplane's own marks on composed resources.
LABEL_COMPOSITE = "crossplane.io/composite"
LABEL_CLAIM_NAME = "crossplane.io/claim-name"
LABEL_CLAIM_NAMESPACE = "crossplane.io/claim-namespace"
ANNOTATION_COMPOSITION_RESOURCE = "crossplane.io/composition-resource-name"
ANNOTATION_EXTERNAL_NAME = "crossplane.io/external-name"


class ConditionStatus(enum.Enum):
    """A Kubernetes condition's status."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


@dataclass(frozen=True, slots=True)
class Condition:
    """One status condition, as Crossplane sets them on a composite (and copies
    to its claim): ``Synced`` (reason ReconcileSuccess, or why not) and
    ``Ready`` (reason Available, Creating or Unavailable)."""

    type: str
    status: ConditionStatus
    reason: str
    message: str = ""

    @property
    def text(self) -> str:
        """``Creating: Unready resources: db`` — the STATUS column of ``crossplane beta trace``."""
        return f"{self.reason}: {self.message}" if self.message else self.reason

    def as_dict(self) -> dict[str, str]:
        """The condition as it sits in ``status.conditions``."""
        out = {"type": self.type, "status": self.status.value, "reason": self.reason}
        if self.message:
            out["message"] = self.message
        return out


def some_names(names: Sequence[str], first: int = 3) -> str:
    """``a, b, c, and 2 more``: sorted names, the first few of them, as
    Crossplane lists unready resources."""
    ordered = sorted(names)
    if len(ordered) > first:
        return f"{', '.join(ordered[:first])}, and {len(ordered) - first} more"
    return ", ".join(ordered)


@dataclass(frozen=True, slots=True)
class ComposedReadiness:
    """One composed resource of a composite: its key, its name in the composition
    (or kro id), and whether it is ready (with the reason when not)."""

    key: ResourceKey
    name: str
    ready: bool
    reason: str = ""


@dataclass(frozen=True)
class CompositeStatus:
    """A composite's status, computed from the observed composed resources.

    ``fields`` is the composite's ``status`` as ToCompositeFieldPath patches
    (or kro's ``schema.status``) make it. ``connection_details`` never shows
    its values. ``observed`` is False when compose() was given no observed
    state (then nothing is ready).
    """

    ready: bool
    resources: tuple[ComposedReadiness, ...]
    fields: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    connection_details: ConnectionDetails = field(default_factory=lambda: _no_details())
    warnings: tuple[str, ...] = ()
    observed: bool = True

    @property
    def ready_condition(self) -> Condition:
        """``Ready`` as Crossplane sets it: True (Available) when every composed
        resource is ready; False (Creating, ``Unready resources: a, b``)
        otherwise; Unknown when nothing was observed."""
        if not self.observed:
            return Condition("Ready", ConditionStatus.UNKNOWN, "Unknown", "not observed")
        if self.ready:
            return Condition("Ready", ConditionStatus.TRUE, "Available")
        unready = [r.name for r in self.resources if not r.ready]
        message = f"Unready resources: {some_names(unready)}" if unready else "nothing composed"
        return Condition("Ready", ConditionStatus.FALSE, "Creating", message)

    @property
    def message(self) -> str:
        """One line for `gitwave status`: ``3/4 ready; DBInstance/shop-db-db: …``."""
        ready = sum(1 for r in self.resources if r.ready)
        text = f"{ready}/{len(self.resources)} ready"
        if not self.observed:
            return f"{text} (not observed)"
        waiting = next((r for r in self.resources if not r.ready), None)
        if waiting is not None:
            text += f"; {waiting.key.display}: {waiting.reason or 'not ready'}"
        return text


@dataclass(frozen=True)
class CompositeNode:
    """A composite resource (an XR, a claim or a kro instance) and what it composed.

    ``definition`` names the XRD (or kro ResourceGraphDefinition);
    ``composition`` the Composition ("" for kro). A nested composite's key
    appears in its parent's ``composed`` and has a node of its own.
    """

    key: ResourceKey
    definition: str
    composition: str
    composed: tuple[ResourceKey, ...]
    status: CompositeStatus
    source: SourceRef | None = None

    @property
    def where(self) -> str:
        return f"{self.key.display} ({self.source})" if self.source else self.key.display

    def synced_condition(self, unsynced: Collection[ResourceKey]) -> Condition:
        """``Synced``: True (ReconcileSuccess) when every composed resource is
        applied as composed; False (OutOfSync, naming them) when ``unsynced``
        holds some of them (they are missing or differ from Git: the next sync
        applies them, where Crossplane's controller would at once)."""
        behind = [key.display for key in self.composed if key in unsynced]
        if not behind:
            return Condition("Synced", ConditionStatus.TRUE, "ReconcileSuccess")
        message = f"Composed resources not applied as composed: {some_names(behind)}"
        return Condition("Synced", ConditionStatus.FALSE, "OutOfSync", message)

    def conditions(self, unsynced: Collection[ResourceKey]) -> tuple[Condition, Condition]:
        """(Synced, Ready), in the order ``kubectl get`` shows their columns."""
        return self.synced_condition(unsynced), self.status.ready_condition

    def health(self, unsynced: Collection[ResourceKey]) -> Health:
        """The composite as one object of the app: Healthy when Ready, Progressing
        while composed resources are not ready yet, Unknown when not observed;
        the message carries both conditions."""
        synced, ready = self.conditions(unsynced)
        text = f"Synced {synced.status.value}, Ready {ready.status.value}"
        detail = ready.text if ready.status is not ConditionStatus.TRUE else ""
        if synced.status is ConditionStatus.FALSE:
            detail = "; ".join(t for t in (detail, synced.text) if t)
        message = f"{text} ({detail})" if detail else text
        code = {
            ConditionStatus.TRUE: HealthCode.HEALTHY,
            ConditionStatus.FALSE: HealthCode.PROGRESSING,
            ConditionStatus.UNKNOWN: HealthCode.UNKNOWN,
        }[ready.status]
        return Health(code, message)


@dataclass(frozen=True)
class Composed:
    """The output of the Compose stage.

    ``resources``: the input minus XRDs, Compositions and ResourceGraphDefinitions,
    in input order, with each composite replaced by the resources it composed.
    ``edges``: the dependencies the composition declares (``${…}`` references
    between composed resources; the writers of connection Secrets), sorted —
    feed them to ``build_graph(..., extra_edges=...)``, which turns them into
    graph edges. ``composites``: one node per composite, in input order.
    """

    resources: tuple[Resource, ...]
    edges: tuple[Dependency, ...] = ()
    composites: tuple[CompositeNode, ...] = ()

    def composite(self, key: ResourceKey) -> CompositeNode | None:
        """The node of the composite ``key``, or None."""
        return self._by_key.get(key)

    def owner_of(self, key: ResourceKey) -> CompositeNode | None:
        """The composite that composed ``key``, or None for a resource from Git."""
        return self._owners.get(key)

    @functools.cached_property
    def _by_key(self) -> Mapping[ResourceKey, CompositeNode]:
        return {c.key: c for c in self.composites}

    @functools.cached_property
    def _owners(self) -> Mapping[ResourceKey, CompositeNode]:
        return {key: c for c in self.composites for key in c.composed}


def _no_details() -> ConnectionDetails:
    # Imported here: a render with no composite (most apps) has no CompositeStatus,
    # and ``Composed`` must not import the connection details and functions for it.
    from gitwave.compositions.connection import ConnectionDetails

    return ConnectionDetails()
