"""Merge patches (``kubectl patch --type merge [--subresource status]``): how
``gitwave rollout promote|abort`` reach a real Argo Rollouts controller."""

from __future__ import annotations

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import Live, Manifest, ResourceKey

from .state import ClusterState, rv_of
from .transport import HttpError

MERGE_PATCH = "application/merge-patch+json"
# Not "gitwave": these are imperative edits (operation Update), which a later
# apply from Git must see as someone else's, as it sees kubectl's.
FIELD_MANAGER = "gitwave-rollout"


def merge_patch(
    state: ClusterState, key: ResourceKey, patch: Manifest, *, subresource: str | None = None
) -> Live:
    """PATCH the object (or its ``subresource``) with a JSON merge patch; the
    object the server answers with. ProviderError when it is absent or refused."""
    rtype = state.type_of(key)
    if rtype is None:
        raise ProviderError(key, "not found: its kind is not served by the cluster")
    path = rtype.object_path(key.namespace, key.name)
    if subresource:
        path = f"{path}/{subresource}"
    try:
        _, obj = state.transport.request(
            "PATCH",
            path,
            query=[("fieldManager", FIELD_MANAGER)],
            body=patch,
            content_type=MERGE_PATCH,
        )
    except HttpError as exc:
        raise state.refused(key, exc, ()) from None
    if not isinstance(obj, dict):
        raise ProviderError(key, f"{state.name} answered a patch with {obj!r}")
    obj.setdefault("apiVersion", rtype.api_version)
    obj.setdefault("kind", rtype.kind)
    return Live(key, obj, rv_of(obj))
