"""Diff stage: which fields of a live object differ from what Git asks for.

Only fields the desired manifest sets are compared, the way server-side apply
only owns the fields it sends: server defaults, ``status``, server-populated
metadata and labels or annotations other tools add are never drift.

Paths name fields dotted, with list positions in brackets, as in
``spec.template.spec.containers[0].image``. The position is always the one in
the DESIRED manifest (also for lists matched by name, see below), so the same
field always gets the same path and an ``ignoreDifferences`` JSON pointer uses
the index a reader sees in Git. A key that is not a plain word is quoted:
``metadata.annotations["example.com/team"]``.

Lists whose items are all maps with a unique ``name`` (containers, env, ports,
volumes, volumeMounts) are matched by name, like a strategic merge: an item
the live list has on top (an injected sidecar) is not drift. Other lists are
compared position by position when the lengths agree, else replaced whole.

A desired ``null`` expresses no opinion. A field Git stopped setting is found
by ``removed_fields`` from the live object's ``managedFields``: what gitwave's
field manager applied before and Git no longer sets is a ``remove``.

The walk and the notion of which fields are compared (``NOT_COMPARED``,
``METADATA_NOT_COMPARED``, ``OWN_METADATA``), shared by the walk, the removed
fields and the ignore rules, live in ``diff_walk``. Paths and JSON pointers
live in ``fieldpath``, quantities in ``quantity``, masking in ``mask``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitwave.engine.diff_walk import (
    METADATA_NOT_COMPARED,
    MISSING,
    NOT_COMPARED,
    OWN_METADATA,
    SCALARS,
    Walker,
)
from gitwave.engine.errors import ValidationError
from gitwave.engine.fieldpath import (
    MISSING_FIELD,
    FieldPathError,
    format_path,
    get_field,
    parse_pointer,
)
from gitwave.engine.mask import SECRET_DATA_FIELDS, mask_change
from gitwave.engine.model import FieldChange, FieldOp, Manifest, ResourceKey

__all__ = [
    "IgnoreDifference",
    "SameValue",
    "diff_manifest",
    "ignore_pointers",
    "removed_fields",
]

# A target's own notion of equal values, for the fields its API normalises (an
# RDS maintenance window comes back lower-cased, tags in any order): given a
# field's path as diffs print it, the desired and the live value, True when
# they mean the same. Asked only where the plain comparison found a
# difference, for a map or list before its items; True for a map means
# nothing under it is drift. The engine knows no target's fields: providers
# hand these in (``provider.ValueComparer``).
SameValue = Callable[[str, Any, Any], bool]


# --- JSON pointers ---------------------------------------------------------------------


def _pointer_tokens(pointer: str) -> tuple[str, ...]:
    """The tokens of an ``ignoreDifferences`` JSON pointer; ValidationError when
    the text is not one."""
    try:
        return parse_pointer(pointer)
    except FieldPathError:
        raise ValidationError(
            "ignoreDifferences",
            f"{pointer!r} is not a JSON pointer",
            hint="a JSON pointer starts with '/', e.g. /spec/replicas",
        ) from None


@dataclass(frozen=True, slots=True)
class IgnoreDifference:
    """One ``ignoreDifferences`` rule (Argo CD's): which objects it covers and the
    JSON pointers of the fields whose drift is not reported. ``group`` and
    ``kind`` may be ``"*"``; ``name``/``namespace`` None matches every object."""

    group: str
    kind: str
    name: str | None = None
    namespace: str | None = None
    json_pointers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for pointer in self.json_pointers:
            _pointer_tokens(pointer)

    def matches(self, key: ResourceKey) -> bool:
        return (
            self.group in ("*", key.group)
            and self.kind in ("*", key.kind)
            and self.name in (None, key.name)
            and self.namespace in (None, key.namespace)
        )


def ignore_pointers(
    rules: Iterable[IgnoreDifference], keys: Iterable[ResourceKey]
) -> dict[ResourceKey, tuple[str, ...]]:
    """For each key some rule matches, the JSON pointers to ignore (in rule order,
    without repeats). Keys no rule matches are left out."""
    rule_list = list(rules)
    result: dict[ResourceKey, tuple[str, ...]] = {}
    for key in keys:
        pointers = [p for rule in rule_list if rule.matches(key) for p in rule.json_pointers]
        if pointers:
            result[key] = tuple(dict.fromkeys(pointers))
    return result


def diff_manifest(
    desired: Manifest,
    live: Manifest,
    *,
    ignore: Sequence[str] = (),
    is_secret: bool = False,
    same: SameValue | None = None,
) -> tuple[FieldChange, ...]:
    """The fields ``desired`` sets that ``live`` lacks or holds differently, in the
    order ``desired`` lists them; empty when the object is in sync.

    ``ignore`` holds JSON pointers (``/spec/replicas``) of subtrees not compared.
    ``same`` is the target's comparison for values its API normalises (see
    ``SameValue``); None compares values as they are.
    With ``is_secret`` the object is a Secret: ``stringData`` is compared with
    the decoded live ``data``, and every value under ``data``/``stringData`` (and
    a kubectl last-applied annotation) is reported as ``***``.

    Raises ValidationError when a pointer in ``ignore`` is malformed.
    """
    ignored = frozenset(_pointer_tokens(p) for p in ignore)
    if () in ignored:
        return ()
    walker = Walker(ignored, same)
    for key, value in desired.items():
        if key in NOT_COMPARED or (is_secret and key in SECRET_DATA_FIELDS):
            continue
        seen = live.get(key, MISSING)
        if key == "metadata":
            walker.metadata(value, seen)
        elif not (
            value.__class__ is seen.__class__ and isinstance(value, SCALARS) and value == seen
        ):
            walker.walk(value, seen, (key,))
    if is_secret:
        walker.secret_data(desired, live)
        return tuple(mask_change(c, is_secret=True) for c in walker.changes)
    return tuple(walker.changes)


# -- fields Git no longer sets -----------------------------------------------------------

FIELD_MANAGER = "gitwave"


def _removed_paths(
    owned: Mapping[str, Any], desired: Any, prefix: tuple[str, ...]
) -> Iterator[tuple[str, ...]]:
    """Paths owned in a FieldsV1 tree that ``desired`` does not set, walking both
    together so a subtree Git still sets costs one dict lookup per owned key."""
    for name, child in owned.items():
        if not name.startswith("f:"):
            continue  # "." (the field itself), keyed list items: lists are compared whole
        field = name[2:]
        path = (*prefix, field)
        has_children = isinstance(child, Mapping) and any(k.startswith("f:") for k in child)
        if isinstance(desired, Mapping) and field in desired:
            if has_children:
                yield from _removed_paths(child, desired[field], path)
        elif has_children:
            # A whole map Git stopped setting: each owned leaf on its own, so
            # gitwave's own label and annotation can be told apart.
            yield from _removed_paths(child, None, path)
        else:
            yield path


def removed_fields(
    desired: Manifest,
    live: Manifest,
    *,
    ignore: Sequence[str] = (),
    is_secret: bool = False,
    manager: str = FIELD_MANAGER,
) -> tuple[FieldChange, ...]:
    """Fields gitwave applied before (``manager``'s Apply entry in the live
    ``metadata.managedFields``) that Git no longer sets: the next apply removes
    them, so the plan shows them as ``remove``. Fields others own are not ours
    to remove and never show."""
    meta = live.get("metadata")
    entries = meta.get("managedFields") if isinstance(meta, Mapping) else None
    if not isinstance(entries, list):
        return ()
    ignored = [_pointer_tokens(p) for p in ignore]
    changes: list[FieldChange] = []
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("manager") != manager:
            continue
        if entry.get("operation", "Apply") != "Apply":
            continue
        fields = entry.get("fieldsV1")
        if not isinstance(fields, Mapping):
            continue
        for path in _removed_paths(fields, desired, ()):
            if path[0] in NOT_COMPARED or path[0] == "status":
                continue
            if path[0] == "metadata" and (
                len(path) < 2
                or path[1] in METADATA_NOT_COMPARED
                or (len(path) > 2 and path[2] in OWN_METADATA)
            ):
                continue
            if any(tuple(path[: len(p)]) == tuple(str(x) for x in p) for p in ignored):
                continue
            in_string_data = get_field(desired, ("stringData", *path[1:])) is not MISSING_FIELD
            if is_secret and path[0] == "data" and in_string_data:
                continue
            seen = get_field(live, path)
            if seen is MISSING_FIELD:
                continue
            change = FieldChange(format_path(path), FieldOp.REMOVE, seen, None)
            changes.append(mask_change(change, is_secret=is_secret))
    return tuple(changes)
