"""Field paths: one way to name, read, write and remove a field of a manifest.

A path is a tuple of segments: map keys (``str``) and list indices (``int``).
It is written two ways, both read here by one scanner:

- **diff paths**, as :func:`format_path` writes them and every FieldChange,
  history row and drift message carries them: dotted plain keys, list indices
  in brackets, any other key double-quoted with backslash escapes —
  ``spec.template.spec.containers[0].image``,
  ``metadata.labels["app.kubernetes.io/name"]``;
- **Crossplane fieldPaths** (``fromFieldPath``, readiness checks): the same,
  and also a bracket holding an unquoted or single-quoted key —
  ``metadata.annotations[crossplane.io/external-name]``, ``spec['a.b']`` —
  and a dotted key of any characters but ``.`` and ``[``.

Every diff path is a Crossplane fieldPath with the same segments, so
:func:`parse_path` reads both; :func:`parse_diff_path` accepts only what
``format_path`` writes (text that is not a diff path is an error, not a
guess). JSON pointers (RFC 6901, what ``ignoreDifferences.jsonPointers``
holds) go through the ``jsonpointer`` library.

Pure: nothing here does I/O; only :func:`set_field` and :func:`delete_field`
change their argument, as they say.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from jsonpointer import JsonPointer, JsonPointerException

__all__ = [
    "MISSING_FIELD",
    "FieldPath",
    "FieldPathError",
    "Segment",
    "delete_field",
    "format_path",
    "get_field",
    "parse_diff_path",
    "parse_path",
    "parse_pointer",
    "set_field",
    "to_pointer",
    "without_paths",
]

Segment = str | int
FieldPath = tuple[Segment, ...]
PathLike = str | Sequence[Segment]

# set_field extends a list up to an index with nulls: a path from Git (a
# composition patch) must not make that a billion of them.
MAX_LIST_INDEX: Final = 10_000


class _Missing:
    """The value at a path that leads nowhere (distinct from an explicit null)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING_FIELD"

    def __bool__(self) -> bool:
        return False


MISSING_FIELD: Final = _Missing()


class FieldPathError(ValueError):
    """A malformed path or pointer, or a value that cannot be set at a path.
    The caller adds the subject (the object, the composition, the rule)."""


# A key format_path writes without quotes.
_PLAIN_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*")
_QUOTED_ESCAPE = re.compile(r"\\(.)")
_INDEX = re.compile(r"[0-9]+")


# --- text --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def parse_path(text: str) -> FieldPath:
    """The segments of a Crossplane fieldPath or a diff path:
    ``spec.forProvider.tags[0]`` → ``("spec", "forProvider", "tags", 0)``;
    ``metadata.annotations[crossplane.io/external-name]`` and
    ``metadata.annotations["crossplane.io/external-name"]`` →
    ``("metadata", "annotations", "crossplane.io/external-name")``.

    Raises FieldPathError for an empty path, an empty segment, an unclosed
    bracket or quote, or an empty or wildcard ``[]``.
    """
    if not isinstance(text, str) or not text.strip():
        raise FieldPathError("field path is empty")
    return _scan(text, diff_only=False)


@functools.lru_cache(maxsize=8192)
def parse_diff_path(text: str) -> FieldPath:
    """The segments of a diff path, the inverse of :func:`format_path`:
    ``spec.containers[0].image`` → ``("spec", "containers", 0, "image")``;
    ``""`` (the whole object) → ``()``.

    Raises FieldPathError (a ValueError whose message starts "not a field
    path") for anything format_path does not write, e.g. ``spec[x]``.
    """
    return _scan(text, diff_only=True)


def _scan(text: str, *, diff_only: bool) -> FieldPath:
    segments: list[Segment] = []
    i, n = 0, len(text)
    expect_name = True  # at the start and after a dot, a key must follow
    after_bracket = False
    while i < n:
        char = text[i]
        if char == "[":
            segment, i = _bracket(text, i, diff_only=diff_only)
            segments.append(segment)
            expect_name, after_bracket = False, True
        elif char == ".":
            if expect_name:
                raise _error(text, i, diff_only, "has an empty segment")
            i += 1
            expect_name, after_bracket = True, False
        else:
            if diff_only and not expect_name and after_bracket:
                raise _error(text, i, diff_only, "needs a '.' before a key")
            end = i
            while end < n and text[end] not in ".[":
                end += 1
            name = text[i:end]
            if diff_only and not _PLAIN_KEY.fullmatch(name):
                raise _error(text, i, diff_only, "has a key that must be quoted")
            segments.append(name)
            i = end
            expect_name, after_bracket = False, False
    if expect_name and text:  # "a." (the empty text is the whole object)
        raise _error(text, n, diff_only, "ends with '.'")
    return tuple(segments)


def _bracket(text: str, start: int, *, diff_only: bool) -> tuple[Segment, int]:
    """The segment in the brackets opening at ``start``, and the index after them."""
    i = start + 1
    n = len(text)
    while not diff_only and i < n and text[i] == " ":
        i += 1
    if i < n and (text[i] == '"' or (text[i] == "'" and not diff_only)):
        quote = text[i]
        end = i + 1
        while end < n and text[end] != quote:
            end += 2 if text[end] == "\\" and quote == '"' else 1
        if end >= n:
            raise _error(text, start, diff_only, "has an unclosed quote")
        inner = text[i + 1 : end]
        key = _QUOTED_ESCAPE.sub(r"\1", inner) if quote == '"' else inner
        close = end + 1
        while not diff_only and close < n and text[close] == " ":
            close += 1
        if close >= n or text[close] != "]":
            raise _error(text, start, diff_only, "has an unclosed '['")
        return key, close + 1
    close = text.find("]", start)
    if close < 0:
        raise _error(text, start, diff_only, "has an unclosed '['")
    inner = text[start + 1 : close]
    if not diff_only:
        inner = inner.strip()
    if _INDEX.fullmatch(inner):
        return int(inner), close + 1
    if diff_only or not inner or inner == "*":
        raise _error(text, start, diff_only, "has an empty or wildcard '[]'")
    return inner, close + 1


def _error(text: str, at: int, diff_only: bool, what: str) -> FieldPathError:
    if diff_only:
        return FieldPathError(f"not a field path: {text!r} (at {at})")
    return FieldPathError(f"field path {text!r} {what}")


def format_path(path: Sequence[Segment]) -> str:
    """``("spec", "containers", 0, "image")`` → ``spec.containers[0].image``; a key
    that is not a plain word is quoted: ``metadata.labels["a.b/c"]``."""
    parts: list[str] = []
    for segment in path:
        if isinstance(segment, int):
            parts.append(f"[{segment}]")
        elif _PLAIN_KEY.fullmatch(segment):
            parts.append(f".{segment}" if parts else segment)
        else:
            escaped = segment.replace("\\", "\\\\").replace('"', '\\"')
            parts.append(f'["{escaped}"]')
    return "".join(parts)


def to_pointer(path: PathLike) -> str:
    """The RFC 6901 pointer of a path: ``metadata.labels["a/b"]`` →
    ``/metadata/labels/a~1b``; the empty path → ``""`` (the whole document)."""
    segments = _segments(path) if path != "" else ()
    return str(JsonPointer.from_parts([str(s) for s in segments]).path)


def parse_pointer(pointer: str) -> tuple[str, ...]:
    """The tokens of an RFC 6901 JSON pointer: ``/metadata/labels/a~1b`` →
    ``("metadata", "labels", "a/b")``; ``""`` (the whole document) → ``()``.

    Raises FieldPathError when the text is not a JSON pointer (no leading
    ``/``, or a ``~`` not followed by 0 or 1).
    """
    try:
        return tuple(JsonPointer(pointer).parts)
    except JsonPointerException as exc:
        raise FieldPathError(f"{pointer!r} is not a JSON pointer: {exc}") from None


def _segments(path: PathLike) -> Sequence[Segment]:
    return parse_path(path) if isinstance(path, str) else path


# --- objects -----------------------------------------------------------------------------


def get_field(obj: Any, path: PathLike) -> Any:
    """The value at ``path`` in ``obj``, or MISSING_FIELD when any step is absent.

    Raises FieldPathError for a malformed path string."""
    node = obj
    for segment in _segments(path):
        node = _step(node, segment)
        if node is MISSING_FIELD:
            break
    return node


def _step(node: Any, segment: Segment) -> Any:
    if isinstance(segment, int):
        if not isinstance(node, list) or segment >= len(node):
            return MISSING_FIELD
    elif not isinstance(node, Mapping) or segment not in node:
        return MISSING_FIELD
    return node[segment]


def set_field(obj: dict[str, Any], path: PathLike, value: Any, *, overwrite: bool = False) -> None:
    """Set ``path`` in ``obj`` (in place) to ``value``, creating maps and lists on
    the way; a list is extended with nulls up to an index.

    A step that holds a scalar, or a list where a key follows (or a map where
    an index follows), raises FieldPathError; with ``overwrite`` it is replaced
    by an empty map or list instead, as a server-side apply does. So does an
    index over ``MAX_LIST_INDEX`` (checked first: ``obj`` is left unchanged).
    """
    segments = _segments(path)
    huge = next((s for s in segments if isinstance(s, int) and s > MAX_LIST_INDEX), None)
    if huge is not None:
        raise FieldPathError(
            f"cannot set {_text(path)}: list index {huge} is past the end, and "
            f"a list is extended to index {MAX_LIST_INDEX} at most"
        )
    node: Any = obj
    last_at = len(segments) - 1
    for position, segment in enumerate(segments):
        last = position == last_at
        following = None if last else segments[position + 1]
        if isinstance(segment, int):
            if not isinstance(node, list):
                raise FieldPathError(
                    f"cannot set {_text(path)}: "
                    f"{format_path(segments[:position]) or 'the object'} is not a list"
                )
            while len(node) <= segment:
                node.append(None)
            if last:
                node[segment] = value
                return
            if not isinstance(node[segment], dict | list) or (
                overwrite and not _fits(node[segment], following)
            ):
                node[segment] = [] if isinstance(following, int) else {}
            node = node[segment]
            continue
        if not isinstance(node, dict):
            raise FieldPathError(
                f"cannot set {_text(path)}: "
                f"{format_path(segments[:position]) or 'the object'} is not an object"
            )
        if last:
            node[segment] = value
            return
        child = node.get(segment)
        if child is None or (overwrite and not _fits(child, following)):
            child = [] if isinstance(following, int) else {}
            node[segment] = child
        elif not isinstance(child, dict | list):
            raise FieldPathError(
                f"cannot set {_text(path)}: {format_path(segments[: position + 1])} holds a "
                f"{type(child).__name__}, not an object or list"
            )
        node = child


def _fits(child: Any, following: Segment | None) -> bool:
    """Whether ``child`` is the container the next segment steps into."""
    return isinstance(child, list) if isinstance(following, int) else isinstance(child, dict)


def _text(path: PathLike) -> str:
    return path if isinstance(path, str) else format_path(path)


def delete_field(obj: Any, path: PathLike, *, prune_empty: bool = False) -> None:
    """Remove the field at ``path`` from ``obj`` (in place); a list item is
    removed, shifting the items after it. Nothing happens when a step on the
    way is absent. With ``prune_empty`` every map left empty on the way is
    removed too (never ``obj`` itself), as a server-side apply does."""
    segments = _segments(path)
    if not segments:
        return
    trail: list[Any] = [obj]
    node: Any = obj
    for segment in segments[:-1]:
        node = _step(node, segment)
        if node is MISSING_FIELD or node is None:
            return
        trail.append(node)
    last = segments[-1]
    if isinstance(last, int):
        if isinstance(node, list) and last < len(node):
            del node[last]
    elif isinstance(node, dict):
        node.pop(last, None)
    if not prune_empty:
        return
    for depth in range(len(segments) - 1, 0, -1):
        child, parent = trail[depth], trail[depth - 1]
        if child or not isinstance(child, dict) or not isinstance(parent, dict):
            break
        parent.pop(segments[depth - 1], None)


def clone(value: Any) -> Any:
    """A deep copy of JSON-shaped data (maps and lists; much faster than
    ``copy.deepcopy``), as plain ``dict`` and ``list``: a round-trip YAML node's
    comments are left behind. Copy before ``set_field`` into a shared object."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def without_paths(manifest: Mapping[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    """A deep copy of ``manifest`` without the fields at ``paths`` (diff paths;
    ``""`` is skipped). The input is not changed.

    Raises FieldPathError for a path that is not a diff path."""
    result: dict[str, Any] = copy.deepcopy(dict(manifest))
    # Higher list indices first, so removing an item never shifts another path.
    parsed = sorted(
        (parse_diff_path(path) for path in paths if path),
        key=lambda segments: tuple((isinstance(s, int), s) for s in segments),
        reverse=True,
    )
    for segments in parsed:
        delete_field(result, segments)
    return result
