"""Delete: remove the AWS resource, or stop tracking it when policy says so.

``deletionPolicy: Orphan``, or ``managementPolicies`` without Delete, leave the
resource in AWS and drop only gitwave's app tags. Otherwise gitwave deletes
only what it created: a resource without its ownership tags is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import ChangeAction, ChangeSetEntry, ResourceKey

from .kinds import Context, KindHandler, Observed
from .managed import DeletionPolicy, ManagementAction, ManagementPolicies, gitwave_side
from .parse import handler_of
from .record import TAG_APP, TAG_OWNER, TAG_RECORD, TAG_TRACKING_ID, Record
from .state import ProviderState


def delete(state: ProviderState, key: ResourceKey) -> ChangeSetEntry:
    """Delete ``key``'s AWS resource, or leave it untracked; deleted, orphaned
    (left in AWS by its policies), or unchanged when it was already absent.
    Raises ProviderError for a resource without gitwave's ownership tag."""
    handler = handler_of(key)
    managed = state.declared(key)
    ctx, hint = state.context(handler, key, managed)
    observed = state.find(handler, ctx, key, managed, hint)
    if observed is None:
        return ChangeSetEntry(key, ChangeAction.UNCHANGED, message="already absent from AWS")
    record = Record.from_tags(observed.tags)
    recorded = record.belongs_to(key)
    spec = record.spec if recorded else (managed.extra_spec if managed else {})
    deletion, policies = _policies_of(key, spec)
    what = f"{key.kind} {observed.external_name}"
    if not deletion.removes_external or not policies.allows(ManagementAction.DELETE):
        why = (
            "deletionPolicy is Orphan"
            if not deletion.removes_external
            else "managementPolicies do not include Delete"
        )
        if recorded and policies.writes:
            _untrack(state, handler, ctx, observed)
        state.forget(key)
        return ChangeSetEntry(key, ChangeAction.ORPHANED, message=f"{what} left in AWS: {why}")
    if not (recorded and record.owned_by(state.owner)):
        error = ProviderError(
            key,
            f"refusing to delete {what}: it does not carry gitwave's ownership tags "
            f"({TAG_OWNER}={state.owner}, gitwave.dev/key={key}); gitwave only deletes "
            "what it created",
        )
        error.hint = "set deletionPolicy: Orphan to stop managing it, or delete it in AWS yourself"
        raise error
    _, inputs, _ = gitwave_side(record)
    handler.delete(ctx, observed, inputs)
    state.wrote()
    state.forget(key)
    return ChangeSetEntry(key, ChangeAction.DELETED, message=f"{what} deleted")


def _untrack(state: ProviderState, handler: KindHandler, ctx: Context, observed: Observed) -> None:
    """Drop the app, tracking-id and record tags (owner and key stay, so a
    later declaration of the same object finds it again)."""
    remove = sorted(
        k for k in observed.tags if k in (TAG_APP, TAG_TRACKING_ID) or k.startswith(TAG_RECORD)
    )
    if remove:
        handler.retag(ctx, observed, {}, remove)
        state.wrote()


def _policies_of(
    key: ResourceKey, spec: Mapping[str, Any]
) -> tuple[DeletionPolicy, ManagementPolicies]:
    try:
        deletion = DeletionPolicy(spec.get("deletionPolicy", DeletionPolicy.DELETE.value))
    except ValueError:
        deletion = DeletionPolicy.ORPHAN  # unreadable: the safe choice
    try:
        policies = ManagementPolicies.parse(key, spec.get("managementPolicies"))
    except ProviderError:
        policies = ManagementPolicies(frozenset({ManagementAction.OBSERVE}))
    return deletion, policies
