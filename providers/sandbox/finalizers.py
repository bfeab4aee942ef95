"""Finalizers, as the API server honours them (pure helpers for ``lifecycle``).

Deleting an object that lists ``metadata.finalizers`` only marks it: it gets a
``deletionTimestamp`` (and ``deletionGracePeriodSeconds: 0``) and stays,
Terminating, until whoever owns each finalizer removes it; removing the last
one completes the delete. Once an object is being deleted no finalizer may be
added. A Namespace stays Terminating while objects in it are, a CRD while
custom resources of its kind are (the API server's own finalizers for them).

The pure readings of an object come first; ``remove_or_mark`` and
``finish_delete`` are the two store writes ``lifecycle``'s delete makes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitwave.engine.api import clone
from gitwave.engine.errors import ProviderError
from gitwave.engine.model import Manifest, ResourceKey

from .kinds import CRD_GROUP, CRD_KIND, builtin_kind, is_crd
from .schema import Row
from .store import Store


def finalizers_of(manifest: Mapping[str, Any]) -> tuple[str, ...]:
    """``metadata.finalizers`` as written (empty when there are none)."""
    meta = manifest.get("metadata")
    found = meta.get("finalizers") if isinstance(meta, Mapping) else None
    return tuple(str(f) for f in found) if isinstance(found, list) else ()


def is_deleting(manifest: Mapping[str, Any]) -> bool:
    """True once a delete was asked for (``metadata.deletionTimestamp`` is set)."""
    meta = manifest.get("metadata")
    return isinstance(meta, Mapping) and bool(meta.get("deletionTimestamp"))


def marked_deleting(manifest: Mapping[str, Any], *, stamp: str) -> Manifest:
    """A copy of ``manifest`` marked as being deleted at ``stamp`` (kept when
    it was marked before: a second delete changes nothing)."""
    obj: Manifest = clone(dict(manifest))
    meta = obj.setdefault("metadata", {})
    meta.setdefault("deletionTimestamp", stamp)
    meta.setdefault("deletionGracePeriodSeconds", 0)
    if obj.get("kind") == "Namespace" and "/" not in str(obj.get("apiVersion", "")):
        status = obj.get("status")
        obj["status"] = {**(status if isinstance(status, dict) else {}), "phase": "Terminating"}
    return obj


def refuse_new_finalizers(key: ResourceKey, old: Manifest, new: Mapping[str, Any]) -> None:
    """Raise ProviderError when ``new`` adds finalizers to ``old``, an object
    being deleted (the API server forbids it)."""
    if not is_deleting(old):
        return
    added = [f for f in finalizers_of(new) if f not in finalizers_of(old)]
    if added:
        raise ProviderError(
            key,
            "Forbidden: no new finalizers can be added if the object is being deleted, "
            f"found new finalizers {added}",
        )


def waiting_on(manifest: Mapping[str, Any]) -> str:
    """``finalizer a`` / ``finalizers a, b``: what a Terminating object waits for."""
    names = finalizers_of(manifest)
    if not names:
        return "its contents to be deleted"
    return f"finalizer{'s' if len(names) > 1 else ''} {', '.join(names)}"


def _crd_kind(manifest: Mapping[str, Any]) -> tuple[str, str] | None:
    """The (group, kind) a CRD manifest defines, None when it names none."""
    spec = manifest.get("spec")
    names = spec.get("names") if isinstance(spec, Mapping) else None
    if not isinstance(spec, Mapping) or not isinstance(names, Mapping):
        return None
    group, kind = spec.get("group"), names.get("kind")
    return (group, kind) if isinstance(group, str) and isinstance(kind, str) else None


def _contents(store: Store, row: Row) -> bool:
    """Whether ``row`` is a Namespace or CRD that still holds objects."""
    if row.key.group == "" and row.key.kind == "Namespace":
        return bool(store.in_namespace(row.key.name))
    if is_crd(row.key.group, row.key.kind):
        defined = _crd_kind(row.manifest)
        return defined is not None and bool(store.of_kind(*defined))
    return False


def remove_or_mark(store: Store, row: Row, *, stamp: str) -> int:
    """Remove ``row`` (1), or mark it Terminating at ``stamp`` (0) while
    finalizers, or objects in it (a Namespace, a CRD), hold it."""
    if not finalizers_of(row.manifest) and not _contents(store, row):
        finish_delete(store, row)
        return 1
    if not is_deleting(row.manifest):
        obj = marked_deleting(row.manifest, stamp=stamp)
        rv = store.next_rv()
        obj["metadata"]["resourceVersion"] = str(rv)
        store.put(row.key, obj, rv=rv, settle_at=None)
    return 0


def finish_delete(store: Store, row: Row) -> None:
    """Remove ``row`` for good; a Terminating Namespace or CRD it was the last
    object of goes with it."""
    store.remove(row.key, rv=store.next_rv())
    holders: list[Row] = []
    if row.key.namespace:
        namespace = store.get(ResourceKey("", "Namespace", "", row.key.namespace))
        holders += [namespace] if namespace is not None else []
    if builtin_kind(row.key.group, row.key.kind) is None:  # a custom resource: its CRD
        holders += [
            crd
            for crd in store.of_kind(CRD_GROUP, CRD_KIND)
            if is_deleting(crd.manifest)
            and _crd_kind(crd.manifest) == (row.key.group, row.key.kind)
        ]
    for holder in holders:
        if (
            is_deleting(holder.manifest)
            and not finalizers_of(holder.manifest)
            and not _contents(store, holder)
        ):
            store.remove(holder.key, rv=store.next_rv())
