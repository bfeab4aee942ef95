"""Apply: server-side apply as field manager ``gitwave``.

Not forced by default: when the server answers with field conflicts, the
managers it names are looked up in the object's managedFields. Managers that
only wrote with Update (``kubectl edit/scale``, a controller, client-side
apply) made drift, which gitwave takes back by applying again with force;
a manager with an Apply entry is another applier (Flux, another Argo CD,
``kubectl apply --server-side``), and the apply fails with FieldConflictError
naming the fields and managers, unless the object is to be applied with
force (``Resource.force_conflicts``: Argo CD's ServerSideApply=true,Force=true).

The body is the desired object without nulls, status or server metadata; the
request carries the cached resourceVersion as a precondition so the answer
can say unchanged or configured for sure; a kind that is not served is looked
up once more (and waited for, when this provider just applied its CRD) before
failing like kubectl. A successful apply feeds the cache, the inventory and,
for a CRD, discovery.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from gitwave.engine.api import scope_error, secret_values
from gitwave.engine.errors import FieldConflictError, ProviderError
from gitwave.engine.model import (
    SERVER_METADATA_FIELDS,
    ChangeAction,
    ChangeSetEntry,
    Live,
    Manifest,
    Resource,
    ResourceKey,
)

from .cache import Informer
from .discovery import ResourceType
from .state import CRD, ClusterState, app_label, rv_of, with_hint
from .transport import APPLY_PATCH, HttpError

FIELD_MANAGER = "gitwave"

# Applies on a cached resourceVersion before giving up on an exact answer.
_PRECONDITION_TRIES = 4
# How long a kind whose CRD this provider applied may take to be served.
_CRD_SERVED_WAIT_S = 15.0
_CRD_RECENT_S = 120.0
# A FieldManagerConflict cause's message: which manager (and subresource) owns the field.
_CONFLICT = re.compile(r'conflict with "(?P<manager>[^"]+)"(?: with subresource "(?P<sub>[^"]*)")?')


def _without_nulls(value: Any) -> Any:
    """A copy without null map values: in gitwave a null expresses no opinion,
    while an apply would take it as "remove this field"."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _comparable(manifest: Mapping[str, Any]) -> Manifest:
    """What an apply can change: the object without status, resourceVersion and
    the timestamps of managedFields (a no-op apply leaves all else alone)."""
    result = {k: v for k, v in manifest.items() if k != "status"}
    meta = dict(result.get("metadata") or {})
    meta.pop("resourceVersion", None)
    fields = meta.get("managedFields")
    if isinstance(fields, list):
        meta["managedFields"] = sorted(
            (
                {k: v for k, v in entry.items() if k != "time"}
                for entry in fields
                if isinstance(entry, Mapping)
            ),
            key=lambda e: (str(e.get("manager")), str(e.get("operation"))),
        )
    result["metadata"] = meta
    return result


def apply(state: ClusterState, resource: Resource, *, dry_run: bool = False) -> ChangeSetEntry:
    """Server-side apply as field manager ``gitwave``; forced over imperative
    edits, and over other appliers only with ``resource.force_conflicts``.

    Created (HTTP 201), configured, or unchanged when the server stored
    nothing new. With ``dry_run`` the server runs the apply (``dryRun=All``:
    admission, defaults, validation) and stores nothing; the returned Live is
    what would be stored. Raises ProviderError when the server refuses the
    object (unknown kind, missing namespace, invalid field), naming it;
    FieldConflictError when another applier owns fields it would change;
    UnreachableError when the cluster cannot be reached."""
    key = resource.key
    started = time.monotonic()
    secrets = secret_values(resource.manifest) if resource.is_secret else ()
    secrets = (*secrets, *resource.masked_values)  # Flux postBuild: a Secret's value in it
    rtype = _type_for_apply(state, resource, started)
    body = _body(resource, rtype)
    informer = state.informers.for_type(rtype)
    before = (
        informer.get(key.namespace, key.name)
        if informer is not None and informer.synced
        else state.get(rtype, key)
    )
    status, obj, before, exact = _patch(
        state, rtype, key, body, before, dry_run, secrets, force=resource.force_conflicts
    )
    if status == 201:
        action = ChangeAction.CREATED
    elif before is None:
        action = ChangeAction.CONFIGURED  # it existed after all (a race with another writer)
    elif exact and not dry_run:
        # Applied on exactly ``before``: the server stored something iff it
        # handed out a new resourceVersion.
        same = rv_of(obj) == rv_of(before)
        action = ChangeAction.UNCHANGED if same else ChangeAction.CONFIGURED
    else:
        # A dry run stores nothing and bumps nothing: compare what it would store.
        same = _comparable(obj) == _comparable(before)
        action = ChangeAction.UNCHANGED if same else ChangeAction.CONFIGURED
    if not dry_run:
        _after_apply(state, resource, rtype, obj, informer)
    live = Live(key, obj, "" if dry_run and status == 201 else rv_of(obj))
    return ChangeSetEntry(key, action, message="dry run" if dry_run else "", live=live)


def _patch(
    state: ClusterState,
    rtype: ResourceType,
    key: ResourceKey,
    body: Manifest,
    before: Manifest | None,
    dry_run: bool,
    secrets: Sequence[str],
    *,
    force: bool,
) -> tuple[int, Manifest, Manifest | None, bool]:
    """The apply request: ``(status, object, before, exact)``.

    The apply carries ``before``'s resourceVersion as a precondition, so it
    lands on exactly the object ``before`` describes (``exact``) and the
    result can say unchanged or configured for sure. A conflict means the
    cache lagged: read the object again and retry; an object that keeps
    changing (a rollout writing status) is finally applied without the
    precondition, and ``exact`` is False. Field conflicts with managers
    that only wrote with Update are forced; with an applier they raise
    FieldConflictError unless ``force``."""
    path = rtype.object_path(key.namespace, key.name)
    for attempt in range(_PRECONDITION_TRIES + 1):
        query = [("fieldManager", FIELD_MANAGER)]
        if force:
            query.append(("force", "true"))
        if dry_run:
            query.append(("dryRun", "All"))
        precondition = rv_of(before) if attempt < _PRECONDITION_TRIES else ""
        meta = body["metadata"]
        if precondition:
            meta["resourceVersion"] = precondition
        else:
            meta.pop("resourceVersion", None)
        try:
            status, obj = state.transport.request(
                "PATCH", path, query=query, body=body, content_type=APPLY_PATCH
            )
        except HttpError as exc:
            conflicts = field_conflicts(exc) if exc.status == 409 else []
            if conflicts and not force:
                owners = appliers(state.get(rtype, key), conflicts)
                if owners:
                    raise FieldConflictError(key, owners) from None
                force = True  # only imperative edits: drift, taken back
                continue
            if exc.status != 409 or not precondition:
                raise state.refused(key, exc, secrets) from None
            before = state.get(rtype, key)
            continue
        if not isinstance(obj, dict):
            raise ProviderError(key, f"{state.name} answered an apply with {obj!r}")
        obj.setdefault("apiVersion", rtype.api_version)
        obj.setdefault("kind", rtype.kind)
        return int(status), obj, before, bool(precondition) or before is None
    raise AssertionError("unreachable: the last attempt has no precondition")


def field_conflicts(exc: HttpError) -> list[tuple[str, str, str]]:
    """The ``(field, manager, subresource)`` of each FieldManagerConflict cause
    of a 409 answer to an apply (empty for any other 409)."""
    details = exc.status_body.get("details")
    causes = details.get("causes") if isinstance(details, Mapping) else None
    found: list[tuple[str, str, str]] = []
    for cause in causes if isinstance(causes, list) else []:
        if not isinstance(cause, Mapping) or cause.get("reason") != "FieldManagerConflict":
            continue
        match = _CONFLICT.search(str(cause.get("message") or ""))
        if match:
            found.append((str(cause.get("field") or ""), match["manager"], match["sub"] or ""))
    return found


def appliers(
    live: Manifest | None, conflicts: Sequence[tuple[str, str, str]]
) -> list[tuple[str, str]]:
    """The conflicts (``(field, manager)``) whose manager applies the object
    (an Apply entry in its managedFields); the others only wrote with Update.
    Without the live object every conflict counts: nothing is forced blind."""
    if live is None:
        return [(name, manager) for name, manager, _ in conflicts]
    entries = (live.get("metadata") or {}).get("managedFields")
    applying = {
        (str(e.get("manager") or ""), str(e.get("subresource") or ""))
        for e in (entries if isinstance(entries, list) else [])
        if isinstance(e, Mapping) and e.get("operation") == "Apply"
    }
    return [(name, manager) for name, manager, sub in conflicts if (manager, sub) in applying]


def _type_for_apply(state: ClusterState, resource: Resource, started: float) -> ResourceType:
    key = resource.key
    group, _, version = resource.api_version.rpartition("/")
    if group != key.group:
        raise ProviderError(
            key, f"apiVersion {resource.api_version!r} is not in API group {key.group!r}"
        )
    rtype = state.discovery.lookup(group, version, key.kind)
    if rtype is None:
        state.discovery.refresh_if_older(started)
        rtype = state.discovery.lookup(group, version, key.kind)
    if rtype is None and _crd_recently_applied(state, group, key.kind):
        # Established, but the discovery document may follow a moment later.
        deadline = time.monotonic() + _CRD_SERVED_WAIT_S
        while rtype is None and time.monotonic() < deadline:
            time.sleep(0.2)
            state.discovery.refresh_if_older(time.monotonic())
            rtype = state.discovery.lookup(group, version, key.kind)
    if rtype is None:
        raise with_hint(
            ProviderError(
                key,
                f'no matches for kind "{key.kind}" in version "{resource.api_version}" '
                f"on {state.name}",
            ),
            "install the CustomResourceDefinition that defines it (gitwave applies a "
            "CRD from the repository before its custom resources), or fix apiVersion",
        )
    misplaced = scope_error(key, namespaced=rtype.namespaced)
    if misplaced is not None:
        raise misplaced
    return rtype


def _crd_recently_applied(state: ClusterState, group: str, kind: str) -> bool:
    with state.lock:
        applied = state.crds_applied.get((group, kind))
    return applied is not None and time.monotonic() - applied < _CRD_RECENT_S


def _body(resource: Resource, rtype: ResourceType) -> Manifest:
    key = resource.key
    body: Manifest = _without_nulls(resource.manifest)
    body.pop("status", None)
    meta = body.get("metadata")
    if not isinstance(meta, dict):
        raise ProviderError(key, "metadata must be a map")
    for field in SERVER_METADATA_FIELDS:
        meta.pop(field, None)
    meta.pop("generateName", None)
    meta["name"] = key.name
    if key.namespace:
        meta["namespace"] = key.namespace
    else:
        meta.pop("namespace", None)
    body["apiVersion"] = rtype.api_version
    body["kind"] = rtype.kind
    return body


def _after_apply(
    state: ClusterState,
    resource: Resource,
    rtype: ResourceType,
    obj: Manifest,
    informer: Informer | None,
) -> None:
    if informer is not None:
        informer.offer(obj)
    app = app_label(obj)
    with state.lock:
        if app:
            state.inventory.setdefault(app, set()).add((rtype.group, rtype.kind))
        if (rtype.group, rtype.kind) == CRD:
            spec = obj.get("spec") or {}
            names = spec.get("names") or {}
            if spec.get("group") and names.get("kind"):
                state.crds_applied[(str(spec["group"]), str(names["kind"]))] = time.monotonic()
    if (rtype.group, rtype.kind) == CRD:
        state.discovery.invalidate()
