"""Who owns a field: a pure reading of ``metadata.managedFields`` (FieldsV1).

The continuous loop uses it (``engine.drift``) to avoid a drift loop: when another controller
(an HPA through the scale subresource, a mutating operator) keeps writing a
field that Git also sets, forcing it back every round only makes the two
fight. ``field_managers(live, "spec.replicas")`` names them, so the loop can
stop and say who it is fighting with.

FieldsV1 in short: a map field is ``f:<name>``; an item of a list keyed by
merge keys is ``k:{"name":"web"}``; an item of a set list is ``v:<json>``;
``.`` marks the item itself. An empty ``{}`` is a leaf: the manager owns that
field and (for an atomic list or map) everything inside it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from gitwave.engine.fieldpath import parse_diff_path
from gitwave.engine.model import Live

PathPart = str | int


def _item_matches(selector: str, item: Any) -> bool:
    """Whether a FieldsV1 list-item key (``k:{…}`` or ``v:…``) names ``item``."""
    try:
        wanted = json.loads(selector[2:])
    except ValueError:
        return False
    if selector.startswith("k:"):
        return (
            isinstance(wanted, Mapping)
            and isinstance(item, Mapping)
            and all(item.get(k) == v for k, v in wanted.items())
        )
    return bool(wanted == item)


def _owns(fields: Any, obj: Any, parts: Sequence[PathPart]) -> bool:
    node, value = fields, obj
    for part in parts:
        if not isinstance(node, Mapping):
            return False
        if not node:
            return True  # a leaf above the path: the whole (atomic) field is owned
        if isinstance(part, int):
            item = value[part] if isinstance(value, list) and 0 <= part < len(value) else None
            if item is None:
                return False
            child = next(
                (
                    sub
                    for selector, sub in node.items()
                    if selector[:2] in ("k:", "v:") and _item_matches(selector, item)
                ),
                None,
            )
            if child is None:
                # "i:<n>": an item kept by position (rare; lists without merge keys).
                child = node.get(f"i:{part}")
            value = item
        else:
            child = node.get(f"f:{part}")
            value = value.get(part) if isinstance(value, Mapping) else None
        if child is None:
            return False
        node = child
    return True


def field_managers(
    live: Live | Mapping[str, Any], path: str | Sequence[PathPart]
) -> tuple[str, ...]:
    """The field managers that own ``path`` on ``live``, in ``managedFields`` order,
    each once (a manager with an Apply and an Update entry is named once).

    A manager owns the path when its FieldsV1 holds that field, or holds a
    leaf above it (an atomic list or map), or — for a path naming a map —
    holds some field inside it. List positions are resolved through the live
    object's items (``containers[0]`` is the container whose name is in
    ``k:{"name":…}``). Empty when nobody owns it or the object has no
    ``managedFields``. Raises FieldPathError (a ValueError) for a malformed path.

    Pure: the drift-loop guard reads it from the engine, the Kubernetes provider
    through ``gitwave.engine.api``."""
    manifest = live.manifest if isinstance(live, Live) else live
    parts = parse_diff_path(path) if isinstance(path, str) else tuple(path)
    meta = manifest.get("metadata")
    entries = meta.get("managedFields") if isinstance(meta, Mapping) else None
    owners: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, Mapping):
            continue
        manager = str(entry.get("manager") or "")
        if manager and manager not in owners and _owns(entry.get("fieldsV1"), manifest, parts):
            owners.append(manager)
    return tuple(owners)
