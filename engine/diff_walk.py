"""The field-by-field comparison under ``diff.diff_manifest``: which fields
are compared, and the walk over a desired and a live object (maps key by key,
named lists by name, Secret values decoded, quantities by amount). See
``engine.diff`` for the rules a reader relies on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from gitwave.engine.fieldpath import format_path
from gitwave.engine.mask import LAST_APPLIED_ANNOTATION, MASK, decode_base64
from gitwave.engine.model import ANNOTATION_TRACKING_ID, LABEL_APP, FieldChange, FieldOp
from gitwave.engine.quantity import parse_quantity

if TYPE_CHECKING:
    from gitwave.engine.diff import SameValue


class _Missing:
    """A field the live object does not have (distinct from an explicit null).
    Not ``fieldpath.MISSING_FIELD``, which is false: a target's ``SameValue``
    is handed this one, true as it always was."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Final = _Missing()

# Top-level fields that name the object or belong to the server.
NOT_COMPARED = frozenset({"apiVersion", "kind", "status"})
# Metadata the server writes, or that names the object (compared by key already).
METADATA_NOT_COMPARED = frozenset(
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
OWN_METADATA = frozenset({ANNOTATION_TRACKING_ID, LABEL_APP, LAST_APPLIED_ANNOTATION})
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
SCALARS = (str, int, float, bool)


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


# --- the walk ----------------------------------------------------------------------------


class Walker:
    """Collects the changes between a desired and a live object, field by field."""

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
        if live is MISSING or live is None:
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
            seen = live.get(key, MISSING)
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
            pairs = [(item, by_name.get(item["name"], MISSING)) for item in desired]
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
            if key in METADATA_NOT_COMPARED:
                continue
            path = ("metadata", key)
            if key in ("labels", "annotations") and isinstance(value, dict):
                if self.is_ignored(path):
                    continue
                seen = live.get(key)
                seen_map = seen if isinstance(seen, dict) else {}
                for name, text in value.items():
                    if name not in OWN_METADATA:
                        self.walk(text, seen_map.get(name, MISSING), (*path, name))
            else:
                self.walk(value, live.get(key, MISSING), path)

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
            return MISSING

        if isinstance(want_text, dict):
            for name, value in want_text.items():
                if value is None or self.is_ignored(("stringData", name)):
                    continue
                if self.is_ignored(("data", name)):
                    continue
                self.secret_value(("stringData", name), str(value).encode(), live_bytes(name))
        else:
            self.walk(want_text, live.get("stringData", MISSING), ("stringData",))
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
            self.walk(want_data, live.get("data", MISSING), ("data",))

    def secret_value(self, path: tuple[str, ...], want: bytes, have: bytes | _Missing) -> None:
        if have is MISSING:
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
