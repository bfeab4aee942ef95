"""Which managed resources use which: an RDS instance names its subnet group
and its security groups' ids, an alarm the instance it watches. The engine's
prune deletes a user before what it uses (``DependencyReader``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gitwave.engine.model import Live, ResourceKey

from .kinds import handler_for
from .managed import ANNOTATION_EXTERNAL_NAME


def _for_provider(live: Live) -> Mapping[str, Any]:
    spec = live.manifest.get("spec")
    found = spec.get("forProvider") if isinstance(spec, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def external_name(live: Live) -> str:
    """The AWS name or id of ``live`` (the external-name annotation, set on every
    observed object; its name when absent)."""
    return str(live.annotations.get(ANNOTATION_EXTERNAL_NAME) or live.key.name)


def uses(live: Live, others: Sequence[Live]) -> tuple[ResourceKey, ...]:
    """The keys of the objects among ``others`` that ``live`` names in its fields."""
    handler = handler_for(live.key.group, live.key.kind)
    if handler is None:
        return ()
    named = set(handler.uses(_for_provider(live)))
    if not named:
        return ()
    return tuple(
        other.key
        for other in others
        if other.key != live.key
        and (other.key.group, other.key.kind, external_name(other)) in named
    )
