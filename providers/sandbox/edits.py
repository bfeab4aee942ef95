"""Writes that do not come from Git: what ``kubectl scale``, ``kubectl edit``
and ``kubectl patch`` do to a sandbox object (tests of drift and of field
managers make them, as does ``gitwave rollout promote``/``abort``).

Each function runs inside the provider's write transaction, on the stored
``row``, and writes through the same ``Lifecycle`` as an apply; the checks
that need no object run before the lock is taken. ``SandboxProvider`` imports
this module when it first edits: a status or a sync never does.
"""

from __future__ import annotations

from gitwave.engine.api import clone
from gitwave.engine.errors import ConflictError, ProviderError
from gitwave.engine.model import (
    SERVER_METADATA_FIELDS,
    ChangeSetEntry,
    Live,
    Manifest,
    ResourceKey,
)

from .defaults import fold_string_data
from .fields import without_nulls
from .kinds import is_crd, kind_from_crd, with_hint
from .lifecycle import Lifecycle
from .schema import Row
from .store import Store

_SCALABLE = frozenset({("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "ReplicaSet")})


def check_scale(key: ResourceKey, replicas: int) -> None:
    """ProviderError for a kind that does not scale or a negative count."""
    if (key.group, key.kind) not in _SCALABLE:
        raise ProviderError(key, "only Deployments, StatefulSets and ReplicaSets can be scaled")
    if replicas < 0:
        raise ProviderError(key, f"replicas must be 0 or more, not {replicas}")


def scale(
    objects: Lifecycle, row: Row, replicas: int, *, manager: str, now: float
) -> ChangeSetEntry:
    """``spec.replicas`` set to ``replicas`` as ``manager``."""
    obj = clone(row.manifest)
    obj.setdefault("spec", {})["replicas"] = replicas
    return objects.update(row.key, row, obj, manager=manager, now=now)


def replace(
    objects: Lifecycle, store: Store, row: Row, manifest: Manifest, *, manager: str, now: float
) -> ChangeSetEntry:
    """``row`` replaced by ``manifest`` as ``manager`` (``kubectl edit``), its
    status and server metadata kept. ConflictError when ``manifest`` names
    another resource version."""
    key = row.key
    wanted_rv = (manifest.get("metadata") or {}).get("resourceVersion")
    if wanted_rv not in (None, "") and str(wanted_rv) != str(row.rv):
        raise ConflictError(
            key,
            "the object has been modified; please apply your changes to the "
            f"latest version and try again (edited version {wanted_rv}, "
            f"current {row.rv})",
        )
    obj: Manifest = without_nulls(dict(manifest))
    meta = obj.setdefault("metadata", {})
    for field in SERVER_METADATA_FIELDS:
        meta.pop(field, None)
        if field in row.manifest["metadata"]:
            meta[field] = clone(row.manifest["metadata"][field])
    obj.pop("status", None)
    if "status" in row.manifest:
        obj["status"] = clone(row.manifest["status"])
    validation = objects.validation
    validation.check_object(key, str(obj.get("apiVersion", "")), obj)
    if key.group == "" and key.kind == "Secret":
        fold_string_data(obj, key)
    validation.check_update(key, str(obj.get("apiVersion", "")), row.manifest, obj)
    crd_kind = kind_from_crd(key, obj) if is_crd(key.group, key.kind) else None
    entry = objects.update(key, row, obj, manager=manager, now=now)
    if crd_kind is not None:
        store.unregister_crd(key.name)
        store.register_kind(crd_kind)
    return entry


def patch(
    objects: Lifecycle,
    row: Row,
    body: Manifest,
    *,
    subresource: str | None,
    manager: str,
    now: float,
) -> Live:
    """``row`` after the JSON merge patch ``body`` of the object, or of its
    ``status`` when ``subresource`` is "status"."""
    key = row.key
    if subresource == "status":
        before = row.manifest.get("status")
        status = merge_patch(before if isinstance(before, dict) else {}, body.get("status"))
        entry = objects.patch_status(
            key, row, status if isinstance(status, dict) else {}, manager=manager, now=now
        )
    else:
        patched = merge_patch(clone(row.manifest), {k: v for k, v in body.items() if k != "status"})
        obj: Manifest = patched if isinstance(patched, dict) else {}
        objects.validation.check_object(key, str(obj.get("apiVersion", "")), obj)
        entry = objects.update(key, row, obj, manager=manager, now=now)
    live = entry.live
    if live is None:
        raise ProviderError(key, entry.message or "the patch left nothing")
    return live


def check_same_object(key: ResourceKey, manifest: Manifest) -> None:
    """ProviderError when an edit changes group, kind, name or namespace."""
    meta = manifest.get("metadata")
    if not isinstance(meta, dict):
        raise ProviderError(key, "the edited object has no metadata")
    group = str(manifest.get("apiVersion", "")).rpartition("/")[0]
    edited = (group, manifest.get("kind"), meta.get("namespace") or "", meta.get("name"))
    if edited != (key.group, key.kind, key.namespace, key.name):
        raise with_hint(
            ProviderError(
                key,
                "an edit cannot change apiVersion group, kind, name or namespace "
                f"(the edited object is {edited[1]}/{edited[2] or '-'}/{edited[3]})",
            ),
            "to rename an object, create the new one and delete the old one",
        )


def merge_patch(target: object, patch: object) -> object:
    """RFC 7386: a map merges key by key, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return clone(patch) if isinstance(patch, (dict, list)) else patch
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result
