"""Validate a Crossplane composite resource and choose its Composition.

The first steps of composing an XR (see :mod:`gitwave.compositions.crossplane`):
its XRD version's schema (defaults first), the Composition that composes it
(enforced, referenced, selected by labels, default or the only one), and the
check that every function the Composition's pipeline names is registered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gitwave.compositions.definitions import CompositeDefinition, Composition
from gitwave.compositions.registry import FunctionRegistry
from gitwave.engine.errors import ValidationError
from gitwave.engine.model import Manifest, Resource

__all__ = ["check_functions", "select_composition", "validated"]


def validated(xr: Resource, xrd: CompositeDefinition) -> Manifest:
    """The XR with its schema's defaults applied. Raises ValidationError naming
    the XR and every field that breaks the schema."""
    group, _, version = xr.api_version.rpartition("/")
    if version not in xrd.versions:
        known = ", ".join(f"{group}/{v}" for v in xrd.versions)
        raise ValidationError(
            xr.where,
            f"apiVersion {xr.api_version} is not a version of {xrd.name} (versions: {known})",
        )
    if not xrd.versions[version].served:
        raise ValidationError(xr.where, f"version {version} of {xrd.name} is not served")
    schema = xrd.schema(version)
    manifest = schema.default(xr.manifest)
    problems = schema.problems(manifest)
    if problems:
        raise ValidationError(
            xr.where,
            "; ".join(str(p) for p in problems),
            hint=f"see the schema of {xrd.name} ({xrd.where})",
        )
    return manifest


def select_composition(
    xr: Resource,
    manifest: Mapping[str, Any],
    xrd: CompositeDefinition,
    compositions: Sequence[Composition],
) -> Composition:
    """The Composition for ``xr``: the XRD's enforced one, else the XR's
    ``compositionRef``, else ``compositionSelector.matchLabels``, else the
    XRD's default, else the only one for the type.

    Raises ValidationError when the named one does not exist or does not
    compose this type, when none matches, or when several match.
    """
    group, kind = xrd.group, xrd.kind
    for_type = [c for c in compositions if c.composes(group, kind)]
    spec = manifest.get("spec") if isinstance(manifest.get("spec"), Mapping) else {}
    ref = spec.get("compositionRef") if isinstance(spec, Mapping) else None
    named = xrd.enforced_composition or (
        ref.get("name") if isinstance(ref, Mapping) and isinstance(ref.get("name"), str) else ""
    )
    if named:
        found = next((c for c in compositions if c.name == named), None)
        if found is None:
            raise ValidationError(xr.where, f"Composition {named!r} is not in the render")
        if not found.composes(group, kind):
            raise ValidationError(
                xr.where,
                f"Composition {named} composes {found.type_kind}.{found.type_group}, "
                f"not {kind}.{group}",
            )
        return found
    selector = spec.get("compositionSelector") if isinstance(spec, Mapping) else None
    if isinstance(selector, Mapping):
        labels = selector.get("matchLabels") or {}
        matching = [
            c for c in for_type if all(c.labels.get(k) == str(v) for k, v in labels.items())
        ]
        what = f"compositionSelector {dict(labels)}"
    elif xrd.default_composition:
        return select_composition(
            xr, {"spec": {"compositionRef": {"name": xrd.default_composition}}}, xrd, compositions
        )
    else:
        matching, what = for_type, f"type {kind}.{group}"
    if not matching:
        raise ValidationError(
            xr.where,
            f"no Composition matches {what}",
            hint="add a Composition whose compositeTypeRef names this kind",
        )
    if len(matching) > 1:
        names = ", ".join(sorted(c.name for c in matching))
        raise ValidationError(
            xr.where,
            f"several Compositions match {what}: {names}",
            hint="choose one with spec.compositionRef.name or compositionSelector.matchLabels",
        )
    return matching[0]


def check_functions(composition: Composition, registry: FunctionRegistry) -> None:
    """Raise ValidationError (naming the composition, step and the registered
    functions) when a pipeline step names a function that is not registered."""
    for step in composition.steps:
        if registry.get(step.function) is None:
            raise ValidationError(
                composition.where,
                f"pipeline step {step.name!r} uses function {step.function!r}, which is not "
                f"registered (registered: {', '.join(registry.names) or 'none'})",
                hint="install the function's Python package (entry point group "
                "gitwave.composition_functions)",
            )
