"""``gitwave.dev/ignore-differences``: the ``ignoreDifferences`` of an object
whose app has no Application to hold rules (a plain directory, a Kustomize
overlay, a Flux Kustomization), written on the object itself as Argo CD's
per-object ``argocd.argoproj.io/compare-options`` is: a comma-separated list
of JSON pointers whose drift is not reported (``/spec/replicas``).

``gitwave drift APP --ignore`` writes it; the plan stage reads it beside the
app's own rules. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gitwave.engine.errors import ValidationError
from gitwave.engine.fieldpath import FieldPathError, parse_pointer
from gitwave.engine.model import Resource, ResourceKey

ANNOTATION_IGNORE = "gitwave.dev/ignore-differences"

__all__ = ["ANNOTATION_IGNORE", "annotation_pointers", "with_annotation_pointers"]


def annotation_pointers(resources: Iterable[Resource]) -> dict[ResourceKey, tuple[str, ...]]:
    """For each object carrying the annotation, its JSON pointers; ValidationError
    naming the object (and file:line) for text that is not a list of pointers."""
    found: dict[ResourceKey, tuple[str, ...]] = {}
    for resource in resources:
        text = resource.annotations.get(ANNOTATION_IGNORE)
        if not isinstance(text, str) or not text.strip():
            continue
        pointers = tuple(p.strip() for p in text.split(",") if p.strip())
        for pointer in pointers:
            try:
                parse_pointer(pointer)
            except FieldPathError:
                where = f" ({resource.source})" if resource.source else ""
                raise ValidationError(
                    f"{resource.key.display}{where}",
                    f"{ANNOTATION_IGNORE}: {pointer!r} is not a JSON pointer",
                    hint="comma-separated JSON pointers, e.g. /spec/replicas",
                ) from None
        found[resource.key] = pointers
    return found


def with_annotation_pointers(
    rules: Mapping[ResourceKey, tuple[str, ...]], resources: Iterable[Resource]
) -> dict[ResourceKey, tuple[str, ...]]:
    """The app's rule pointers with each object's annotation pointers after them."""
    merged = dict(rules)
    for key, pointers in annotation_pointers(resources).items():
        merged[key] = tuple(dict.fromkeys((*merged.get(key, ()), *pointers)))
    return merged
