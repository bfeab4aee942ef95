"""Crossplane field paths: ``spec.forProvider.tags[0].value``, ``metadata.labels[a/b]``.

A path is dotted field names; brackets hold a list index (``[0]``) or a field
name that contains dots or slashes (``[crossplane.io/claim-name]``, optionally
quoted: ``["size"]``, ``['size']``). Parsed paths are cached by text.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["MISSING", "FieldPathError", "get", "has", "parse", "set_value", "to_text"]

Segment = str | int


class _Missing:
    """The value of a path that leads nowhere (distinct from an explicit null)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()


class FieldPathError(ValueError):
    """A malformed path, or a value that cannot be set at it. The caller adds the subject."""


@functools.lru_cache(maxsize=8192)
def parse(path: str) -> tuple[Segment, ...]:
    """The segments of ``path``: field names (str) and list indices (int).

    Raises FieldPathError for an empty path, an empty segment or an unclosed bracket.
    """
    if not isinstance(path, str) or not path.strip():
        raise FieldPathError("field path is empty")
    segments: list[Segment] = []
    i, n = 0, len(path)
    expect_name = True  # at the start and after a dot, a field name must follow
    while i < n:
        char = path[i]
        if char == "[":
            end = path.find("]", i)
            if end < 0:
                raise FieldPathError(f"field path {path!r} has an unclosed '['")
            inner = path[i + 1 : end].strip()
            if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
                segments.append(inner[1:-1])
            elif inner.isdigit():
                segments.append(int(inner))
            elif inner and inner != "*":
                segments.append(inner)
            else:
                raise FieldPathError(f"field path {path!r} has an empty or wildcard '[]'")
            i = end + 1
            expect_name = False
        elif char == ".":
            if expect_name:
                raise FieldPathError(f"field path {path!r} has an empty segment")
            i += 1
            expect_name = True
        else:
            end = i
            while end < n and path[end] not in ".[":
                end += 1
            segments.append(path[i:end])
            i = end
            expect_name = False
    if expect_name:
        raise FieldPathError(f"field path {path!r} ends with '.'")
    return tuple(segments)


def to_text(segments: tuple[Segment, ...]) -> str:
    """The dotted form of ``segments`` (the inverse of parse, for messages)."""
    out: list[str] = []
    for segment in segments:
        if isinstance(segment, int) or "." in segment or "/" in segment or not segment:
            out.append(f"[{segment}]")
        else:
            out.append(f".{segment}" if out else segment)
    return "".join(out)


def get(obj: Any, path: str) -> Any:
    """The value at ``path`` in ``obj``, or MISSING when any step is absent."""
    node = obj
    for segment in parse(path):
        if isinstance(segment, int):
            if not isinstance(node, list) or segment >= len(node):
                return MISSING
            node = node[segment]
        else:
            if not isinstance(node, dict | Mapping) or segment not in node:
                return MISSING
            node = node[segment]
    return node


def has(obj: Any, path: str) -> bool:
    return get(obj, path) is not MISSING


def set_value(obj: dict[str, Any], path: str, value: Any) -> None:
    """Set ``path`` in ``obj`` (in place) to ``value``, creating objects and
    lists on the way; a list is extended with nulls up to an index.

    Raises FieldPathError when a step on the way holds a scalar, or a list
    where a field name is used (or the reverse).
    """
    segments = parse(path)
    node: Any = obj
    for position, segment in enumerate(segments):
        last = position == len(segments) - 1
        following = None if last else segments[position + 1]
        if isinstance(segment, int):
            if not isinstance(node, list):
                raise FieldPathError(
                    f"cannot set {path}: {to_text(segments[:position]) or 'the object'} "
                    "is not a list"
                )
            while len(node) <= segment:
                node.append(None)
            if last:
                node[segment] = value
                return
            if not isinstance(node[segment], dict | list):
                node[segment] = [] if isinstance(following, int) else {}
            node = node[segment]
        else:
            if not isinstance(node, dict):
                raise FieldPathError(
                    f"cannot set {path}: {to_text(segments[:position]) or 'the object'} "
                    "is not an object"
                )
            if last:
                node[segment] = value
                return
            child = node.get(segment)
            if child is None:
                child = [] if isinstance(following, int) else {}
                node[segment] = child
            elif not isinstance(child, dict | list):
                raise FieldPathError(
                    f"cannot set {path}: {to_text(segments[: position + 1])} holds a "
                    f"{type(child).__name__}, not an object or list"
                )
            node = child
