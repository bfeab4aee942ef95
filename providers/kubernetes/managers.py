"""Who owns a field: a pure reading of ``metadata.managedFields`` (FieldsV1).

The continuous loop uses it to avoid a drift loop: when another controller
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
import re
from collections.abc import Mapping, Sequence
from typing import Any

from gitwave.engine.model import Live, Manifest

PathPart = str | int

_TOKEN = re.compile(r"""\.?([A-Za-z_$][A-Za-z0-9_$-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]""")


def parse_field_path(path: str) -> tuple[PathPart, ...]:
    """``spec.template.spec.containers[0].image`` → ``("spec", …, 0, "image")``;
    a key that is not a plain word is quoted: ``metadata.annotations["a.b/c"]``.

    Raises ValueError for anything else (an empty path, an unclosed bracket)."""
    parts: list[PathPart] = []
    position = 0
    while position < len(path):
        match = _TOKEN.match(path, position)
        if match is None or (match.group(1) and position > 0 and path[position] != "."):
            raise ValueError(f"not a field path: {path!r} (at character {position + 1})")
        word, index, quoted = match.groups()
        if word is not None:
            parts.append(word)
        elif index is not None:
            parts.append(int(index))
        else:
            parts.append(str(json.loads(quoted)))
        position = match.end()
    if not parts or isinstance(parts[0], int):
        raise ValueError(f"not a field path: {path!r}")
    return tuple(parts)


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


def field_managers(live: Live | Manifest, path: str | Sequence[PathPart]) -> list[str]:
    """The field managers that own ``path`` on ``live``, in ``managedFields`` order,
    each once (a manager with an Apply and an Update entry is named once).

    A manager owns the path when its FieldsV1 holds that field, or holds a
    leaf above it (an atomic list or map), or — for a path naming a map —
    holds some field inside it. List positions are resolved through the live
    object's items (``containers[0]`` is the container whose name is in
    ``k:{"name":…}``). Empty when nobody owns it or the object has no
    ``managedFields``. Raises ValueError for a malformed path string."""
    manifest = live.manifest if isinstance(live, Live) else live
    parts = parse_field_path(path) if isinstance(path, str) else tuple(path)
    meta = manifest.get("metadata")
    entries = meta.get("managedFields") if isinstance(meta, Mapping) else None
    owners: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, Mapping):
            continue
        manager = str(entry.get("manager") or "")
        if manager and manager not in owners and _owns(entry.get("fieldsV1"), manifest, parts):
            owners.append(manager)
    return owners
