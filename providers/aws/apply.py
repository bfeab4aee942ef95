"""Apply: create the AWS resource, or update the fields and tags that differ.

The way a Crossplane managed-resource reconciler does it: creates look before
they leap (the caller found nothing first), so a create interrupted after AWS
accepted it is never repeated; everything gitwave creates carries the
``gitwave.dev/owner`` and ``gitwave.dev/key`` tags, adopted resources
(``crossplane.io/external-name``) the key but never the owner tag; a resource
made by someone else is never taken over silently. ``managementPolicies``
without Create or Update leave AWS alone, and a dry run calls nothing that
writes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace

from gitwave.engine.api import diff_manifest
from gitwave.engine.errors import ProviderError
from gitwave.engine.model import ChangeAction, ChangeSetEntry, ResourceKey

from .compare import changed_fields, changed_inputs
from .connection import scrubbed
from .kinds import Context, Desired, KindHandler, Observed, Readiness
from .managed import ANNOTATION_EXTERNAL_NAME, Managed, ManagementAction, gitwave_side
from .observe import live_object
from .record import Record, RecordTooLargeError, tag_changes, user_tags
from .state import ProviderState

# Reads right after a create can miss the new resource (eventual consistency).
_READ_AFTER_CREATE_DELAYS = (0.0, 0.2, 0.5, 1.0, 2.0)


def apply(
    state: ProviderState, handler: KindHandler, managed: Managed, *, dry_run: bool
) -> ChangeSetEntry:
    """Create or update ``managed`` in AWS; created, configured or unchanged.

    Raises ProviderError for a change AWS cannot make in place, a resource
    that belongs to someone else, or a refused call."""
    key = managed.key
    state.declare([managed])
    ctx, hint = state.context(handler, key, managed)
    observed = state.find(handler, ctx, key, managed, hint)
    if observed is None:
        return _create(state, handler, ctx, managed, dry_run=dry_run)
    return _update(state, handler, ctx, managed, observed, dry_run=dry_run)


def _create(
    state: ProviderState, handler: KindHandler, ctx: Context, managed: Managed, *, dry_run: bool
) -> ChangeSetEntry:
    key = managed.key
    if not managed.policies.allows(ManagementAction.CREATE):
        what = "an observe-only resource" if not managed.policies.writes else "this resource"
        name = managed.external_name or key.name
        error = ProviderError(
            key,
            f"{key.kind} {name} does not exist in {ctx.client.where}, and gitwave may not "
            f"create {what} (managementPolicies {managed.policies.names})",
        )
        error.hint = "create it outside gitwave, fix crossplane.io/external-name, or allow Create"
        raise error
    if handler.named_by_aws and managed.external_name:
        raise ProviderError(
            key,
            f"{key.kind} {managed.external_name} (crossplane.io/external-name) does not "
            f"exist in {ctx.client.where}; AWS names new ones itself, so remove the "
            "annotation to create one",
        )
    desired = _desired(handler, ctx, managed, owner=state.owner, current_tags={})
    if dry_run:
        planned = Observed(
            external_name=handler.planned_name(key, managed.external_name) or "",
            region=ctx.region,
            for_provider={
                k: v for k, v in desired.for_provider.items() if k not in handler.write_only
            },
            at_provider={},
            tags=desired.tags,
            readiness=Readiness.CREATING,
        )
        return ChangeSetEntry(
            key,
            ChangeAction.CREATED,
            message="would be created",
            live=live_object(handler, key, planned, managed),
        )
    password = state.secrets.create_password(handler, managed)
    desired = replace(desired, password=password)
    with scrubbed(password):
        external_name = handler.create(ctx, desired)
    state.wrote()
    observed = _read_back(handler, ctx, external_name, managed)
    where = f" in {ctx.region}" if handler.region_field else ""
    messages = [f"{key.kind} {external_name} created{where}"]
    if observed is None:
        planned = Observed(
            external_name=external_name,
            region=ctx.region,
            for_provider=dict(desired.for_provider),
            at_provider={},
            tags=desired.tags,
            readiness=Readiness.CREATING,
        )
        return ChangeSetEntry(
            key,
            ChangeAction.CREATED,
            message=messages[0],
            live=live_object(handler, key, planned, managed),
        )
    state.remember(key, observed, managed)
    messages += state.secrets.write(handler, managed, observed, password)
    return ChangeSetEntry(
        key,
        ChangeAction.CREATED,
        message="; ".join(messages),
        live=live_object(handler, key, observed, managed),
    )


def _update(
    state: ProviderState,
    handler: KindHandler,
    ctx: Context,
    managed: Managed,
    observed: Observed,
    *,
    dry_run: bool,
) -> ChangeSetEntry:
    key = managed.key
    record = Record.from_tags(observed.tags)
    _check_ownership(state.owner, key, managed, observed, record)
    before = live_object(handler, key, observed, managed)
    if not managed.policies.writes:
        return ChangeSetEntry(
            key, ChangeAction.UNCHANGED, message="observe only: nothing written", live=before
        )
    ours = record.belongs_to(key)
    changed = changed_fields(handler, managed, observed)
    inputs_changed = changed_inputs(handler, managed, gitwave_side(record)[1] if ours else None)
    owner = record.owner if ours else None
    desired = _desired(handler, ctx, managed, owner=owner, current_tags=observed.tags)
    manage_user_tags = handler.tag_style.read(key, managed.for_provider) is not None
    put, remove = tag_changes(observed.tags, desired.tags, manage_user_tags=manage_user_tags)
    if not (changed or inputs_changed or put or remove):
        messages = [] if dry_run else state.secrets.write(handler, managed, observed, None)
        return ChangeSetEntry(key, ChangeAction.UNCHANGED, message="; ".join(messages), live=before)
    if not managed.policies.allows(ManagementAction.UPDATE):
        return ChangeSetEntry(
            key,
            ChangeAction.UNCHANGED,
            live=before,
            message=f"not updated: managementPolicies exclude Update "
            f"({len(changed)} fields differ)",
        )
    changes = diff_manifest(managed.manifest, before.manifest)
    if dry_run:
        after_tags = {k: v for k, v in observed.tags.items() if k not in remove}
        after_tags.update(put)
        planned = replace(
            observed,
            for_provider={
                **observed.for_provider,
                **{f: managed.for_provider[f] for f in changed},
            },
            tags=after_tags,
        )
        return ChangeSetEntry(
            key,
            ChangeAction.CONFIGURED,
            message="would be updated",
            changes=changes,
            live=live_object(handler, key, planned, managed),
        )
    if changed or inputs_changed:
        handler.update(ctx, observed, desired, changed | inputs_changed)
    if put or remove:
        handler.retag(ctx, observed, put, remove)
    state.wrote()
    hint = {**dict(observed.for_provider), **managed.for_provider}
    fresh = handler.get(ctx, observed.external_name, hint) or observed
    state.remember(key, fresh, managed)
    fields = sorted(changed) + sorted(inputs_changed)
    what = ", ".join(fields) if fields else "gitwave's tags"
    messages = [f"{key.kind} {fresh.external_name} updated: {what}"]
    messages += state.secrets.write(handler, managed, fresh, None)
    return ChangeSetEntry(
        key,
        ChangeAction.CONFIGURED,
        message="; ".join(messages),
        changes=changes,
        live=live_object(handler, key, fresh, managed),
    )


def _check_ownership(
    owner: str, key: ResourceKey, managed: Managed, observed: Observed, record: Record
) -> None:
    what = f"{key.kind} {observed.external_name}"
    if record.key and not record.belongs_to(key):
        raise ProviderError(
            key,
            f"{what} belongs to another gitwave object ({record.key}); two objects "
            "cannot manage one AWS resource",
        )
    if record.owner and not record.owned_by(owner):
        raise ProviderError(
            key, f"{what} belongs to another gitwave installation (owner {record.owner!r})"
        )
    if not record.key and not managed.external_name and managed.policies.writes:
        error = ProviderError(
            key,
            f"{what} already exists in AWS and was not created by gitwave; gitwave does not "
            "take it over silently",
        )
        error.hint = (
            f"to adopt it, set the annotation {ANNOTATION_EXTERNAL_NAME}: "
            f"{observed.external_name}; otherwise choose another name"
        )
        raise error


def _desired(
    handler: KindHandler,
    ctx: Context,
    managed: Managed,
    *,
    owner: str | None,
    current_tags: Mapping[str, str],
) -> Desired:
    key = managed.key
    wanted_user = handler.tag_style.read(key, managed.for_provider)
    tags = dict(wanted_user if wanted_user is not None else user_tags(current_tags))
    try:
        tags.update(managed.record(owner=owner, write_only=handler.write_only).tags())
    except RecordTooLargeError as exc:
        raise ProviderError(key, f"cannot record this object in AWS tags: {exc}") from None
    for_provider = dict(managed.for_provider)
    if handler.region_field is not None:
        for_provider[handler.region_field] = ctx.region
    return Desired(
        key=key,
        external_name=managed.external_name,
        region=ctx.region,
        for_provider=for_provider,
        tags=tags,
    )


def _read_back(
    handler: KindHandler, ctx: Context, external_name: str, managed: Managed
) -> Observed | None:
    for delay in _READ_AFTER_CREATE_DELAYS:
        if delay:
            time.sleep(delay)
        observed = handler.get(ctx, external_name, managed.for_provider)
        if observed is not None:
            return observed
    return None
