"""Delete: a DELETE with the propagation policy asked for; an object already
absent is unchanged, and deleting a CRD invalidates discovery."""

from __future__ import annotations

from typing import Any

from gitwave.engine.model import ChangeAction, ChangeSetEntry, Propagation, ResourceKey

from .state import CRD, ClusterState
from .transport import HttpError

_PROPAGATION = {
    Propagation.FOREGROUND: "Foreground",
    Propagation.BACKGROUND: "Background",
    Propagation.ORPHAN: "Orphan",
}


def delete(
    state: ClusterState, key: ResourceKey, *, propagation: Propagation = Propagation.FOREGROUND
) -> ChangeSetEntry:
    """Delete with ``propagationPolicy`` Foreground (dependents first; the
    object stays, Terminating, until they are gone), Background (the garbage
    collector removes dependents afterwards) or Orphan (they stay, without
    owner reference). Deleted (the deletion started), or unchanged when the
    object was already absent."""
    rtype = state.type_of(key)
    if rtype is None:
        return ChangeSetEntry(key, ChangeAction.UNCHANGED, message="already absent")
    body = {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "propagationPolicy": _PROPAGATION[propagation],
    }
    try:
        _, answer = state.transport.request(
            "DELETE", rtype.object_path(key.namespace, key.name), body=body
        )
    except HttpError as exc:
        if exc.is_not_found:
            return ChangeSetEntry(key, ChangeAction.UNCHANGED, message="already absent")
        raise state.refused(key, exc, ()) from None
    if (key.group, key.kind) == CRD:
        state.discovery.invalidate()
    held = _finalizers(answer)
    if held:
        # The object stays, Terminating, until whoever owns each finalizer removes it.
        which = f"finalizer{'s' if len(held) > 1 else ''} {', '.join(held)}"
        return ChangeSetEntry(key, ChangeAction.DELETED, message=f"terminating: waiting on {which}")
    return ChangeSetEntry(
        key, ChangeAction.DELETED, message=f"deleted ({propagation.value} propagation)"
    )


def _finalizers(answer: Any) -> list[str]:
    """The finalizers holding the object a DELETE answered with (the server
    answers with the object while it is being deleted, with a Status once gone)."""
    if not isinstance(answer, dict) or answer.get("kind") == "Status":
        return []
    meta = answer.get("metadata") or {}
    found = meta.get("finalizers") if meta.get("deletionTimestamp") else None
    return [str(f) for f in found if f != "foregroundDeletion"] if isinstance(found, list) else []
