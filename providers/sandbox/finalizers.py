"""Finalizers, as the API server honours them (pure helpers for ``lifecycle``).

Deleting an object that lists ``metadata.finalizers`` only marks it: it gets a
``deletionTimestamp`` (and ``deletionGracePeriodSeconds: 0``) and stays,
Terminating, until whoever owns each finalizer removes it; removing the last
one completes the delete. Once an object is being deleted no finalizer may be
added. A Namespace stays Terminating while objects in it are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import Manifest, ResourceKey

from .fields import clone


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
