"""The shape of the fields every later stage reads: refused at render, naming the field.

The graph, the sync (which labels every object it applies), masking and the
targets read ``metadata.labels`` and ``annotations`` as maps of strings, and a
ConfigMap's or Secret's ``data`` as one too. The API server refuses anything
else when decoding the object (``cannot unmarshal array into Go struct field
ObjectMeta.metadata.labels of type map[string]string``); gitwave refuses it
before any stage runs, with a RenderError naming ``file:line``, the object and
the field, so nothing is applied. Full schema validation is a later stage's
job; this is only what the engine itself relies on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitwave.engine.errors import RenderError
from gitwave.engine.model import ResourceKey, SourceRef

# Fields that hold a map of strings to strings, per (group, kind); "*" is every kind.
_STRING_MAPS: dict[tuple[str, str], tuple[tuple[str, ...], ...]] = {
    ("*", "*"): (("metadata", "labels"), ("metadata", "annotations")),
    ("", "ConfigMap"): (("data",), ("binaryData",)),
    ("", "Secret"): (("data",), ("stringData",)),
}


def check_shape(manifest: Mapping[str, Any], key: ResourceKey, source: SourceRef | None) -> None:
    """Raise RenderError when a field later stages read as a map of strings is not one."""
    paths = _STRING_MAPS[("*", "*")] + _STRING_MAPS.get((key.group, key.kind), ())
    for path in paths:
        value = _get(manifest, path)
        if value is None:
            continue
        problem = _string_map_problem(value)
        if problem is not None:
            raise RenderError(
                source or SourceRef(""),
                f"{key.display}: {'.'.join(path)}{problem}",
                hint=f'write {".".join(path)} as `key: "value"` lines (quote numbers '
                "and booleans); the API server refuses anything else",
            )
    finalizers = _get(manifest, ("metadata", "finalizers"))
    if finalizers is not None and (
        not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers)
    ):
        raise RenderError(
            source or SourceRef(""),
            f"{key.display}: metadata.finalizers must be a list of strings",
        )


def _get(manifest: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = manifest
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _string_map_problem(value: Any) -> str | None:
    """Why ``value`` is not a map of strings to strings, to follow the field's name
    (`` must be …`` or ``['key'] must be …``); None when it is one. None values
    pass: the API server reads them as ""."""
    if not isinstance(value, Mapping):
        return f" must be a map of strings to strings, not a {_yaml_type(value)}"
    for item_key, item in value.items():
        if not isinstance(item_key, str):
            return f": key {item_key!r} must be a string (quote it)"
        if item is not None and not isinstance(item, str):
            return f"[{item_key!r}] must be a string, not a {_yaml_type(item)} (quote it)"
    return None


def _yaml_type(value: Any) -> str:
    """The type of a parsed YAML value, in YAML's words."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "list"
    if isinstance(value, Mapping):
        return "map"
    return type(value).__name__


__all__ = ["check_shape"]
