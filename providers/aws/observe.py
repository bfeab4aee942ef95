"""Observe: an AWS resource as the desired-shaped Live object, and its health.

``observe`` returns ``forProvider`` as AWS has it now (so drift shows field by
field), the rest of the spec and the metadata from gitwave's record tag (see
``record``), ``status.atProvider`` and Crossplane's Ready/Synced conditions.
``list_tracked`` finds every resource an app's tags name; ``kind_health``
answers health for the AWS kinds (the provider's own registry, never the
engine's).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any

from gitwave.engine.api import health_of
from gitwave.engine.model import (
    ANNOTATION_TRACKING_ID,
    LABEL_APP,
    Health,
    Live,
    Manifest,
    ResourceKey,
)

from .kinds import KindHandler, Observed, handler_for, handlers
from .managed import ANNOTATION_EXTERNAL_NAME, Managed, gitwave_side, with_spec_defaults
from .parse import handler_of
from .record import Record
from .state import ProviderState, listing_region


def observe(state: ProviderState, key: ResourceKey) -> Live | None:
    """The object as it is in AWS now, or None when it does not exist."""
    handler = handler_of(key)
    managed = state.declared(key)
    ctx, hint = state.context(handler, key, managed)
    observed = state.find(handler, ctx, key, managed, hint)
    if observed is None:
        state.lost(key)
        return None
    state.remember(key, observed, managed)
    state.secrets.complete_pending(handler, key, observed)
    return live_object(handler, key, observed, managed)


def list_tracked(state: ProviderState, app: str) -> list[Live]:
    """Every AWS resource tagged ``gitwave.dev/app: <app>``, sorted by key.

    Looks in the default region of every provider config and in every region a
    declared or seen object uses. Raises on a failed read."""
    targets = state.scan_targets()
    found: dict[ResourceKey, Live] = {}
    for handler in handlers():
        places = sorted({(c, listing_region(handler, r)) for c, r in targets})
        for config, region in places:
            ctx = state.make_context(
                handler, ResourceKey(handler.group, handler.kind, "", ""), config, region
            )
            for observed in handler.scan(ctx, app):
                key = _key_of(Record.from_tags(observed.tags), handler)
                if key is None or key in found:
                    continue
                managed = state.declared(key)
                state.remember(key, observed, managed, config=config)
                found[key] = live_object(handler, key, observed, managed)
    return [found[k] for k in sorted(found)]


def kind_health(live: Live) -> Health:
    """The health of a live AWS object, by its kind's own check (the engine's
    generic reading for a kind gitwave does not manage)."""
    handler = handler_for(live.key.group, live.key.kind)
    return handler.health(live.manifest) if handler else health_of(live.manifest)


def live_object(
    handler: KindHandler,
    key: ResourceKey,
    observed: Observed,
    managed: Managed | None,
) -> Live:
    """The Live object gitwave shows for ``observed``: desired-shaped, with a
    resource version that changes whenever anything observed changes."""
    record = Record.from_tags(observed.tags)
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    if record.belongs_to(key):
        spec, inputs, metadata = gitwave_side(record)
        labels.update(_strings(metadata.get("labels")))
        annotations.update(_strings(metadata.get("annotations")))
        if record.app:
            labels[LABEL_APP] = record.app
        if record.tracking_id:
            annotations[ANNOTATION_TRACKING_ID] = record.tracking_id
    elif managed is not None:
        # Nothing recorded (observe-only, or not adopted yet): what Git says.
        spec = dict(managed.extra_spec)
        inputs = {k: v for k, v in managed.for_provider.items() if k in handler.write_only}
        labels.update(managed.labels)
        annotations.update(managed.annotations)
        if managed.tracking_id:  # as declared: the tracking id the sync stamps
            annotations[ANNOTATION_TRACKING_ID] = managed.tracking_id
    else:
        spec, inputs = {}, {}
    if observed.external_name:
        annotations[ANNOTATION_EXTERNAL_NAME] = observed.external_name
    for_provider = dict(observed.for_provider)
    for name, value in inputs.items():
        for_provider[name] = value
    if managed is not None:
        for name, want in managed.for_provider.items():
            if name in for_provider and name not in handler.write_only:
                have = for_provider[name]
                if want is not None and handler.same(name, want, have):
                    # Equal in meaning (order, a minor version): show it as Git has it.
                    for_provider[name] = (
                        {**have, **want}
                        if isinstance(want, Mapping) and isinstance(have, Mapping)
                        else want
                    )
    metadata_out: dict[str, Any] = {"name": key.name}
    if key.namespace:
        metadata_out["namespace"] = key.namespace
    identity = f"{observed.region}/{key.group}/{key.kind}/{observed.external_name or key}"
    metadata_out["uid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, identity))
    if observed.created:
        metadata_out["creationTimestamp"] = observed.created
    if labels:
        metadata_out["labels"] = dict(sorted(labels.items()))
    if annotations:
        metadata_out["annotations"] = dict(sorted(annotations.items()))
    manifest: Manifest = {
        "apiVersion": handler.api_version,
        "kind": key.kind,
        "metadata": metadata_out,
        "spec": {**with_spec_defaults(spec), "forProvider": for_provider},
        "status": {
            "atProvider": dict(observed.at_provider),
            "conditions": [
                observed.readiness.condition(observed.message),
                {"type": "Synced", "status": "True", "reason": "ReconcileSuccess"},
            ],
        },
    }
    # Changes whenever anything observed changes, status included (as in Kubernetes).
    encoded = json.dumps(manifest, sort_keys=True, default=str).encode()
    version = hashlib.sha256(encoded).hexdigest()[:16]
    return Live(key, manifest, resource_version=version)


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


def _key_of(record: Record, handler: KindHandler) -> ResourceKey | None:
    """The key a resource's record names, when it is one of ``handler``'s kind."""
    if not record.key:
        return None
    try:
        key = ResourceKey.parse(record.key)
    except ValueError:
        return None
    if (key.group, key.kind) != (handler.group, handler.kind):
        return None
    return key
