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

Over 400 lines as one job: the walk, the Secret comparison by decoded value,
the removed fields and the ignore rules share one notion of which fields are
compared (``_NOT_COMPARED``, ``_METADATA_NOT_COMPARED``, ``_OWN_METADATA``).
Paths and JSON pointers live in ``fieldpath``, quantities in ``quantity``,
masking in ``mask``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from gitwave.engine.errors import ValidationError
from gitwave.engine.fieldpath import FieldPathError, format_path, parse_pointer
from gitwave.engine.mask import (
    LAST_APPLIED_ANNOTATION,
    MASK,
    SECRET_DATA_FIELDS,
    decode_base64,
    mask_change,
)
from gitwave.engine.model import (
    ANNOTATION_TRACKING_ID,
    LABEL_APP,
    FieldChange,
    FieldOp,
    Manifest,
    ResourceKey,
)
from gitwave.engine.quantity import parse_quantity

__all__ = [
    "IgnoreDifference",
    "SameValue",
    "diff_manifest",
    "ignore_pointers",
    "removed_fields",
]


class _Missing:
    """A field the live object does not have (distinct from an explicit null)."""

    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Final = _Missing()

# Top-level fields that name the object or belong to the server.
_NOT_COMPARED = frozenset({"apiVersion", "kind", "status"})
# Metadata the server writes, or that names the object (compared by key already).
_METADATA_NOT_COMPARED = frozenset(
    {
        "name",
        "namespace",
        "generateName",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    }
)
# gitwave's own bookkeeping and kubectl's: sync writes them, they are not the app's state.
_OWN_METADATA = frozenset({ANNOTATION_TRACKING_ID, LABEL_APP, LAST_APPLIED_ANNOTATION})
# Fields whose values are resource quantities ("500m", "1Gi"), by the map they sit in.
_QUANTITY_PARENTS = frozenset(
    {
        "requests",
        "limits",
        "hard",
        "used",
        "capacity",
        "allocatable",
        "overhead",
        "default",
        "defaultRequest",
        "max",
        "min",
        "maxLimitRequestRatio",
    }
)
_QUANTITY_FIELDS = frozenset({"sizeLimit", "storage"})
_SCALARS = (str, int, float, bool)

# A target's own notion of equal values, for the fields its API normalises (an
# RDS maintenance window comes back lower-cased, tags in any order): given a
# field's path as diffs print it, the desired and the live value, True when
# they mean the same. Asked only where the plain comparison found a
# difference, for a map or list before its items; True for a map means
# nothing under it is drift. The engine knows no target's fields: providers
# hand these in (``provider.ValueComparer``).
SameValue = Callable[[str, Any, Any], bool]


# --- quantities ------------------------------------------------------------------


def _is_quantity_path(path: Sequence[str | int]) -> bool:
    last = path[-1]
    if isinstance(last, str) and last in _QUANTITY_FIELDS:
        return True
    return len(path) >= 2 and isinstance(path[-2], str) and path[-2] in _QUANTITY_PARENTS


def _same_scalar(desired: Any, live: Any, path: Sequence[str | int]) -> bool:
    # bool is an int in Python; in a manifest `true` and `1` are different values.
    if isinstance(desired, bool) or isinstance(live, bool):
        return type(desired) is type(live) and desired == live
    if desired == live:
        return True
    if _is_quantity_path(path):
        try:
            return parse_quantity(desired) == parse_quantity(live)
        except ValueError:
            return False
    return False


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


# --- the walk ----------------------------------------------------------------------------


class _Walker:
    __slots__ = ("changes", "ignored", "same", "slow")

    def __init__(self, ignored: frozenset[tuple[str, ...]], same: SameValue | None = None) -> None:
        self.changes: list[FieldChange] = []
        self.ignored = ignored
        self.same = same
        # Ignore rules and a target's comparison are asked on the way down, so
        # the fast paths that skip walk() are off when either is present.
        self.slow = bool(ignored) or same is not None

    def is_ignored(self, path: Sequence[str | int]) -> bool:
        return bool(self.ignored) and tuple(str(s) for s in path) in self.ignored

    def change(self, path: tuple[str | int, ...], live: Any, desired: Any) -> None:
        if live is _MISSING or live is None:
            self.changes.append(FieldChange(format_path(path), FieldOp.ADD, None, desired))
        else:
            self.changes.append(FieldChange(format_path(path), FieldOp.REPLACE, live, desired))

    def walk(self, desired: Any, live: Any, path: tuple[str | int, ...]) -> None:
        if desired is None or (self.ignored and self.is_ignored(path)):
            return
        if (
            self.same is not None
            and desired != live
            and self.same(format_path(path), desired, live)
        ):
            return
        if isinstance(desired, dict):
            if isinstance(live, dict):
                self.walk_dict(desired, live, path)
            else:
                self.change(path, live, desired)
        elif isinstance(desired, list):
            if isinstance(live, list):
                self.walk_list(desired, live, path)
            else:
                self.change(path, live, desired)
        elif not _same_scalar(desired, live, path):
            self.change(path, live, desired)

    def walk_dict(
        self, desired: Mapping[str, Any], live: Mapping[str, Any], path: tuple[str | int, ...]
    ) -> None:
        # The common cases are dispatched here rather than through walk(): an
        # unchanged object is mostly equal scalars and nested maps, and 10,000
        # of them must compare in a fraction of a second. Equal subtrees are
        # skipped with one C-level ==, which (unlike _same_scalar) takes true for
        # 1 deep inside them; typed API objects never hold one for the other.
        slow = self.slow
        for key, value in desired.items():
            seen = live.get(key, _MISSING)
            kind = value.__class__
            if kind is seen.__class__:
                if value == seen:
                    continue
                if kind is dict and not slow:
                    self.walk_dict(value, seen, (*path, key))
                    continue
                elif kind is list and not slow:
                    self.walk_list(value, seen, (*path, key))
                    continue
            self.walk(value, seen, (*path, key))

    def walk_list(self, desired: list[Any], live: list[Any], path: tuple[str | int, ...]) -> None:
        pairs: list[tuple[Any, Any]]
        if _named_items(desired):
            by_name = {
                item["name"]: item for item in live if isinstance(item, dict) and "name" in item
            }
            pairs = [(item, by_name.get(item["name"], _MISSING)) for item in desired]
        elif len(desired) == len(live):
            pairs = list(zip(desired, live, strict=True))
        else:
            self.change(path, live, desired)
            return
        slow = self.slow
        for index, (want, have) in enumerate(pairs):
            kind = want.__class__
            if kind is have.__class__:
                if kind is dict and not slow:
                    self.walk_dict(want, have, (*path, index))
                    continue
                if (kind is str or kind is int or kind is float) and want == have:
                    continue
            self.walk(want, have, (*path, index))

    def metadata(self, desired: Any, live: Any) -> None:
        if not isinstance(desired, dict):
            self.walk(desired, live, ("metadata",))
            return
        if not isinstance(live, dict):
            live = {}
        for key, value in desired.items():
            if key in _METADATA_NOT_COMPARED:
                continue
            path = ("metadata", key)
            if key in ("labels", "annotations") and isinstance(value, dict):
                if self.is_ignored(path):
                    continue
                seen = live.get(key)
                seen_map = seen if isinstance(seen, dict) else {}
                for name, text in value.items():
                    if name not in _OWN_METADATA:
                        self.walk(text, seen_map.get(name, _MISSING), (*path, name))
            else:
                self.walk(value, live.get(key, _MISSING), path)

    def secret_data(self, desired: Mapping[str, Any], live: Mapping[str, Any]) -> None:
        """Compare a Secret's ``stringData`` and ``data`` with the live ``data``
        by decoded value; every value reported is masked later."""
        want_text = desired.get("stringData")
        want_data = desired.get("data")
        have_data = live.get("data")
        have_text = live.get("stringData")
        have_data = have_data if isinstance(have_data, dict) else {}
        have_text = have_text if isinstance(have_text, dict) else {}

        def live_bytes(name: str) -> bytes | _Missing:
            if name in have_text:
                return str(have_text[name]).encode()
            if name in have_data:
                raw = str(have_data[name])
                decoded = decode_base64(raw)
                return raw.encode() if decoded is None else decoded
            return _MISSING

        if isinstance(want_text, dict):
            for name, value in want_text.items():
                if value is None or self.is_ignored(("stringData", name)):
                    continue
                if self.is_ignored(("data", name)):
                    continue
                self.secret_value(("stringData", name), str(value).encode(), live_bytes(name))
        else:
            self.walk(want_text, live.get("stringData", _MISSING), ("stringData",))
        if isinstance(want_data, dict):
            shadowed = want_text if isinstance(want_text, dict) else {}
            for name, value in want_data.items():
                # The API server lets stringData win over data for the same key.
                if value is None or name in shadowed or self.is_ignored(("data", name)):
                    continue
                raw = str(value)
                decoded = decode_base64(raw)
                self.secret_value(
                    ("data", name), raw.encode() if decoded is None else decoded, live_bytes(name)
                )
        else:
            self.walk(want_data, live.get("data", _MISSING), ("data",))

    def secret_value(self, path: tuple[str, ...], want: bytes, have: bytes | _Missing) -> None:
        if have is _MISSING:
            self.changes.append(FieldChange(format_path(path), FieldOp.ADD, None, MASK))
        elif have != want:
            self.changes.append(FieldChange(format_path(path), FieldOp.REPLACE, MASK, MASK))


def _named_items(items: list[Any]) -> bool:
    """True when every item is a map with a unique string ``name``."""
    names: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            return False
        name = item.get("name")
        if not isinstance(name, str) or name in names:
            return False
        names.add(name)
    return bool(names)


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
    walker = _Walker(ignored, same)
    for key, value in desired.items():
        if key in _NOT_COMPARED or (is_secret and key in SECRET_DATA_FIELDS):
            continue
        seen = live.get(key, _MISSING)
        if key == "metadata":
            walker.metadata(value, seen)
        elif not (
            value.__class__ is seen.__class__ and isinstance(value, _SCALARS) and value == seen
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


def _lookup(tree: Any, path: Sequence[str]) -> Any:
    for part in path:
        if not isinstance(tree, Mapping) or part not in tree:
            return _MISSING
        tree = tree[part]
    return tree


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
            if path[0] in _NOT_COMPARED or path[0] == "status":
                continue
            if path[0] == "metadata" and (
                len(path) < 2
                or path[1] in _METADATA_NOT_COMPARED
                or (len(path) > 2 and path[2] in _OWN_METADATA)
            ):
                continue
            if any(tuple(path[: len(p)]) == tuple(str(x) for x in p) for p in ignored):
                continue
            in_string_data = _lookup(desired, ("stringData", *path[1:])) is not _MISSING
            if is_secret and path[0] == "data" and in_string_data:
                continue
            seen = _lookup(live, path)
            if seen is _MISSING:
                continue
            change = FieldChange(format_path(path), FieldOp.REMOVE, seen, None)
            changes.append(mask_change(change, is_secret=is_secret))
    return tuple(changes)
