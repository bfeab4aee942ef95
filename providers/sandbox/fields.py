"""Field ownership: who set which field, the way server-side apply tracks it.

A field is a leaf of the object's map nesting: a scalar, a list (lists are
atomic here, a simplification of Kubernetes' merge keys), or an empty map.
Its path is the tuple of map keys leading to it. Each field manager owns a set
of paths, kept in ``metadata.managedFields`` in Kubernetes' ``FieldsV1``
format so the object reads like one from a real API server.

Two ways of writing, as in Kubernetes:

- ``apply_as`` (operation ``Apply``): the manager declares the full set of
  fields it wants. Fields it declared before and no longer declares are
  removed (unless another manager also owns them); fields others set are left
  alone; conflicting fields are taken over. Whether that is allowed is the
  caller's question first (``apply_conflicts``): gitwave forces only over
  imperative edits, or when the app opted in.
- ``update_as`` (operation ``Update``, what ``kubectl edit/scale`` does): the
  manager writes a whole object; it becomes the owner of the fields it changed.

Everything here is pure and never changes its inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from gitwave.engine.api import MISSING_FIELD, clone, delete_field, get_field, set_field
from gitwave.engine.model import SERVER_METADATA_FIELDS, Manifest

# A field of a FieldsV1 tree: map keys only (lists are atomic here), a
# special case of the engine's field paths (gitwave.engine.api.FieldPath).
KeyPath = tuple[str, ...]

# Identity and server-owned fields: nobody owns them through apply.
_TOP_LEVEL_SKIP = frozenset({"apiVersion", "kind", "status"})
_METADATA_SKIP = frozenset({"name", "namespace", *SERVER_METADATA_FIELDS})


def without_nulls(value: Any) -> Any:
    """A copy without null map values: Kubernetes treats ``key: null`` as unset."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def field_leaves(manifest: Mapping[str, Any]) -> dict[KeyPath, Any]:
    """Every owned-able field of ``manifest`` with its value."""
    leaves: dict[KeyPath, Any] = {}
    for key, value in manifest.items():
        if key in _TOP_LEVEL_SKIP:
            continue
        if key == "metadata" and isinstance(value, dict):
            for meta_key, meta_value in value.items():
                if meta_key not in _METADATA_SKIP:
                    _collect(meta_value, ("metadata", meta_key), leaves)
        else:
            _collect(value, (key,), leaves)
    return leaves


def _collect(value: Any, path: KeyPath, out: dict[KeyPath, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, child in value.items():
            _collect(child, (*path, key), out)
    else:
        out[path] = value


def _overlaps(a: KeyPath, b: KeyPath) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


@dataclass(frozen=True, slots=True)
class ManagedFields:
    """One manager's entry of ``metadata.managedFields``."""

    manager: str
    operation: str  # "Apply" or "Update"
    api_version: str
    time: str
    fields: frozenset[KeyPath]

    def to_manifest(self) -> Manifest:
        return {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": encode_fields_v1(self.fields),
        }

    @staticmethod
    def from_manifest(entry: Mapping[str, Any]) -> ManagedFields:
        raw = entry.get("fieldsV1")
        return ManagedFields(
            manager=str(entry.get("manager", "")),
            operation=str(entry.get("operation", "Update")),
            api_version=str(entry.get("apiVersion", "")),
            time=str(entry.get("time", "")),
            fields=decode_fields_v1(raw) if isinstance(raw, Mapping) else frozenset(),
        )


def encode_fields_v1(paths: Iterable[KeyPath]) -> Manifest:
    """Paths → the nested ``{"f:spec": {"f:replicas": {}}}`` form; ``"."`` marks a
    path that is owned itself and also has owned children."""
    root: dict[str, Any] = {}
    owned_nodes: list[dict[str, Any]] = []
    for path in sorted(paths):
        node = root
        for key in path:
            node = node.setdefault(f"f:{key}", {})
        owned_nodes.append(node)
    for node in owned_nodes:
        if node:
            node["."] = {}
    return root


def decode_fields_v1(tree: Mapping[str, Any]) -> frozenset[KeyPath]:
    found: set[KeyPath] = set()

    def walk(node: Mapping[str, Any], path: KeyPath) -> None:
        if path and (not node or "." in node):
            found.add(path)
        for key, child in node.items():
            if key.startswith("f:") and isinstance(child, Mapping):
                walk(child, (*path, key[2:]))

    walk(tree, ())
    return frozenset(found)


def read_managed_fields(obj: Mapping[str, Any]) -> list[ManagedFields]:
    meta = obj.get("metadata")
    entries = meta.get("managedFields") if isinstance(meta, Mapping) else None
    if not isinstance(entries, list):
        return []
    return [ManagedFields.from_manifest(e) for e in entries if isinstance(e, Mapping)]


def managers_of(obj: Mapping[str, Any]) -> dict[KeyPath, tuple[str, ...]]:
    """Each owned field with the managers that own it (for naming who changed what)."""
    owners: dict[KeyPath, list[str]] = {}
    for entry in read_managed_fields(obj):
        for path in entry.fields:
            owners.setdefault(path, []).append(entry.manager)
    return {path: tuple(names) for path, names in sorted(owners.items())}


def _write_managed_fields(obj: dict[str, Any], entries: Iterable[ManagedFields]) -> None:
    present = [
        replace(e, fields=frozenset(p for p in e.fields if get_field(obj, p) is not MISSING_FIELD))
        for e in entries
    ]
    kept = [e.to_manifest() for e in present if e.fields]
    meta = obj.setdefault("metadata", {})
    if kept:
        meta["managedFields"] = kept
    else:
        meta.pop("managedFields", None)


def dotted(path: KeyPath) -> str:
    """A field as the API server names it in a conflict: ``.spec.replicas``."""
    return "".join(f".{part}" for part in path)


def apply_conflicts(
    live: Mapping[str, Any], desired: Mapping[str, Any], *, manager: str
) -> list[tuple[KeyPath, str]]:
    """The fields ``manager`` applying ``desired`` would take from another
    applier: ``(field, other manager)`` for each field ``desired`` sets to a
    value other than the live one while a manager with an ``Apply`` entry owns
    it (or a map or list around it). Fields owned only through ``Update``
    (``kubectl edit/scale``, a controller's write) are drift, not conflicts:
    gitwave takes them back, as the Kubernetes provider does by forcing when
    the server names only such managers."""
    appliers = [
        e
        for e in read_managed_fields(live)
        if e.manager != manager and e.operation == "Apply" and e.fields
    ]
    if not appliers:
        return []
    found: list[tuple[KeyPath, str]] = []
    for path, value in field_leaves(desired).items():
        current = get_field(live, path)
        if current == value or (value == {} and isinstance(current, dict)):
            continue
        for entry in appliers:
            if any(_takes(path, owned, live) for owned in entry.fields):
                found.append((path, entry.manager))
    return sorted(set(found))


def _takes(path: KeyPath, owned: KeyPath, live: Mapping[str, Any]) -> bool:
    """Whether setting ``path`` changes the field ``owned``: the same field, one
    inside it, or an atomic value (a list) around it. Owning a map (``data:
    {}``) only claims that it exists, not the keys others put in it."""
    if owned[: len(path)] == path:
        return True
    return path[: len(owned)] == owned and not isinstance(get_field(live, owned), dict)


def apply_as(
    live: Mapping[str, Any], desired: Mapping[str, Any], *, manager: str, time: str
) -> Manifest:
    """``live`` after ``manager`` applies ``desired`` (a new object; inputs unchanged).

    ``time`` is stamped on the manager's entry only when its field set is new;
    call ``touch`` once the caller knows the object really changed.
    """
    obj: Manifest = clone(dict(live))
    entries = read_managed_fields(obj)
    mine = next((e for e in entries if e.manager == manager), None)
    previous = mine.fields if mine else frozenset()
    wanted = field_leaves(desired)
    others = [e for e in entries if e.manager != manager]

    for path in previous - wanted.keys():
        if not any(path in e.fields for e in others):
            delete_field(obj, path, prune_empty=True)

    taken: list[KeyPath] = []
    for path, value in wanted.items():
        current = get_field(obj, path)
        if value == {} and isinstance(current, dict):
            continue  # declaring an empty map takes nothing from those who filled it
        if current != value:
            set_field(obj, path, clone(value), overwrite=True)
            taken.append(path)
    if taken:
        others = [_without(e, taken) for e in others]

    if "apiVersion" in desired:
        obj["apiVersion"] = desired["apiVersion"]
    fields = frozenset(wanted)
    own = ManagedFields(
        manager,
        "Apply",
        str(obj.get("apiVersion", "")),
        mine.time if mine is not None and mine.fields == fields else time,
        fields,
    )
    _write_managed_fields(obj, _ordered(entries, own, others))
    return obj


def update_as(
    live: Mapping[str, Any], new: Mapping[str, Any], *, manager: str, time: str
) -> Manifest:
    """``new`` with managed fields updated as when ``manager`` writes the whole
    object (``kubectl edit``, ``kubectl scale``): it owns the fields it changed;
    fields it removed are nobody's any more."""
    obj: Manifest = clone(dict(new))
    old_leaves = field_leaves(live)
    new_leaves = field_leaves(obj)
    changed = [p for p, v in new_leaves.items() if old_leaves.get(p, MISSING_FIELD) != v]
    removed = frozenset(old_leaves.keys() - new_leaves.keys())
    entries = read_managed_fields(live)
    mine = next((e for e in entries if e.manager == manager), None)
    others = [_without(e, changed, removed) for e in entries if e.manager != manager]
    if mine is None and not changed:
        _write_managed_fields(obj, entries)
        return obj
    fields = frozenset((mine.fields if mine else frozenset()) - removed) | frozenset(changed)
    own = ManagedFields(
        manager,
        "Update",
        str(obj.get("apiVersion", "")),
        time if changed or mine is None else mine.time,
        fields,
    )
    _write_managed_fields(obj, _ordered(entries, own, others))
    return obj


def touch(obj: dict[str, Any], *, manager: str, time: str) -> None:
    """Stamp ``time`` on ``manager``'s entry (the object changed through it)."""
    meta = obj.get("metadata")
    entries = meta.get("managedFields") if isinstance(meta, dict) else None
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("manager") == manager:
            entry["time"] = time


def _without(
    entry: ManagedFields, taken: Iterable[KeyPath], removed: frozenset[KeyPath] = frozenset()
) -> ManagedFields:
    taken = list(taken)
    kept = frozenset(
        p for p in entry.fields if p not in removed and not any(_overlaps(p, t) for t in taken)
    )
    return entry if kept == entry.fields else replace(entry, fields=kept)


def _ordered(
    before: list[ManagedFields], own: ManagedFields, others: list[ManagedFields]
) -> Iterator[ManagedFields]:
    """Entries in their original order; a new manager goes last."""
    by_name = {e.manager: e for e in others}
    by_name[own.manager] = own
    seen = set()
    for entry in before:
        if entry.manager in by_name:
            seen.add(entry.manager)
            yield by_name[entry.manager]
    for name, entry in by_name.items():
        if name not in seen:
            yield entry
