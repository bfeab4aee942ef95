"""Observe: read live objects (from the list+watch caches while they are
synced, else from the server), find an app's tracked objects, and answer the
change feed from what the watches saw."""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from gitwave.engine.errors import ProviderError, UnreachableError
from gitwave.engine.model import LABEL_APP, Live, Manifest, ResourceKey

from .changes import ChangeLog
from .discovery import ResourceType
from .state import ClusterState, app_label, rv_of
from .transport import HttpError

# Types never scanned for tracked objects: gitwave does not apply them, and
# there are many of them.
_NOT_SCANNED = frozenset({("", "Event"), ("events.k8s.io", "Event")})


def observe(state: ClusterState, key: ResourceKey) -> Live | None:
    """The live object (from the cache while it is synced), or None when it
    does not exist. Raises UnreachableError when the cluster cannot be read."""
    rtype = state.type_of(key)
    if rtype is None:
        return None
    informer = state.informers.for_type(rtype)
    if informer is not None and informer.synced:
        return _live(key, informer.get(key.namespace, key.name))
    return _live(key, state.get(rtype, key))


def observe_many(
    state: ClusterState, keys: Iterable[ResourceKey]
) -> dict[ResourceKey, Live | None]:
    """``observe`` for many keys: from the caches, waiting (up to
    ``cache_wait_s``) for a first list of each type; keys of a type whose
    cache cannot sync are read one by one. Raises like ``observe``."""
    wanted = list(keys)
    result: dict[ResourceKey, Live | None] = {}
    by_type: dict[ResourceType, list[ResourceKey]] = {}
    for key in wanted:
        rtype = state.type_of(key)
        if rtype is None:
            result[key] = None
        else:
            by_type.setdefault(rtype, []).append(key)
    direct: list[tuple[ResourceType, ResourceKey]] = []
    informers = {rtype: state.informers.for_type(rtype) for rtype in by_type}
    for rtype, group in by_type.items():
        informer = informers[rtype]
        if informer is not None and informer.wait_ready(state.cache_wait_s):
            for key in group:
                result[key] = _live(key, informer.get(key.namespace, key.name))
        else:
            direct += [(rtype, key) for key in group]
    if direct:
        with ThreadPoolExecutor(max_workers=min(8, len(direct))) as pool:
            fetched = list(pool.map(lambda pair: state.get(*pair), direct))
        for (_, key), manifest in zip(direct, fetched, strict=True):
            result[key] = _live(key, manifest)
    return {key: result[key] for key in wanted}


def list_tracked(state: ClusterState, app: str) -> list[Live]:
    """Objects labelled ``gitwave.dev/app: <app>``, sorted by key.

    Looked for in every type this provider applied or read, plus the types a
    scan of all listable types found holding the app's objects (once per
    app, then every ``inventory_rescan_s``). Raises rather than answering
    from part of the cluster."""
    found = [_live_of(rtype, obj) for rtype, obj in _tracked(state, app)]
    return sorted(found, key=lambda live: live.key)


def list_labelled(state: ClusterState, api_version: str, kind: str, selector: str) -> list[Live]:
    """Objects of ``kind`` matching ``selector``, all namespaces, sorted by key."""
    group, _, version = api_version.rpartition("/")
    rtype = state.discovery.lookup(group, version, kind)
    if rtype is None:
        return []
    found = [_live_of(rtype, item) for item in _list(state, rtype, selector=selector)]
    return sorted(found, key=lambda live: live.key)


def tracked_keys(state: ClusterState, app: str) -> list[ResourceKey]:
    """The keys ``list_tracked`` returns, sorted. Raises like it."""
    return sorted(_live_of(rtype, obj).key for rtype, obj in _tracked(state, app))


def changes(state: ClusterState, cursor: str) -> tuple[str, frozenset[ResourceKey] | None]:
    """The new cursor and the keys the watches saw created, changed or
    deleted after ``cursor`` (``engine.provider.ChangeFeed``; ``""`` starts
    the feed). None when events may have been missed: a watch relisted
    after a failure, or the cursor is not from this provider. Only types in
    use are watched (everything gitwave applied or read). Raises
    UnreachableError while a watch cannot reach the cluster."""
    failing = state.informers.failing()
    if failing:
        informer = failing[0]
        # The informer's error names this target already: keep the reason.
        reason = informer.last_error.rpartition(f"{state.name} unreachable: ")[2]
        raise UnreachableError(state.name, f"{reason} (watching {informer.rtype.display})")
    return state.changes.since(cursor)


def record_event(changes: ChangeLog, rtype: ResourceType, manifest: Manifest | None) -> None:
    if manifest is None:
        changes.lost()
        return
    meta = manifest.get("metadata") or {}
    changes.record(
        ResourceKey(
            rtype.group,
            rtype.kind,
            str(meta.get("namespace") or ""),
            str(meta.get("name") or ""),
        )
    )


def _list(
    state: ClusterState,
    rtype: ResourceType,
    *,
    selector: str,
    limit: int = 500,
    accept: str = "application/json",
    refused_is_empty: bool = False,
) -> list[Manifest]:
    """Every object of ``rtype`` matching ``selector``, all namespaces, paged.
    With ``refused_is_empty``, a forbidden (403) or unlistable (405) type
    answers no objects instead of raising."""
    items: list[Manifest] = []
    token = ""
    while True:
        query = [("labelSelector", selector), ("limit", str(limit))]
        if token:
            query.append(("continue", token))
        try:
            _, page = state.transport.request(
                "GET", rtype.collection_path(), query=query, accept=accept
            )
        except HttpError as exc:
            if refused_is_empty and exc.status in (403, 405):
                return []
            if exc.status == 410:  # the continue token expired: start over
                items, token = [], ""
                continue
            if exc.is_unknown_path:
                # Not served any more (its CRD was deleted): no object of it exists.
                state.discovery.invalidate()
                return []
            raise ProviderError(
                None,
                f"{state.name}: cannot list {rtype.display}: {exc}",
                retriable=exc.status in (429,) or exc.status >= 500,
            ) from None
        for item in page.get("items") or []:
            item["apiVersion"], item["kind"] = rtype.api_version, rtype.kind
            items.append(item)
        token = str((page.get("metadata") or {}).get("continue") or "")
        if not token:
            return items


def _tracked(state: ClusterState, app: str) -> list[tuple[ResourceType, Manifest]]:
    found: list[tuple[ResourceType, Manifest]] = []
    for rtype in _inventory_types(state, app):
        informer = state.informers.for_type(rtype)
        if informer is not None and informer.wait_ready(state.cache_wait_s):
            objects = informer.of_app(app)
        else:
            objects = _list(state, rtype, selector=f"{LABEL_APP}={app}")
        found += [(rtype, obj) for obj in objects]
    return found


def _inventory_types(state: ClusterState, app: str) -> list[ResourceType]:
    """The types that may hold ``app``'s objects: those it applied, those
    watched anyway, and those a scan found. An app is scanned when first asked
    about, then every ``inventory_rescan_s``; one scan of the cluster answers
    for every app that asks within ``SCAN_SHARE_S`` of it, so a sync of many
    apps scans once instead of once per app (objects of a new type applied by
    another process show up at the next scan)."""
    with state.lock:
        scanned = state.scanned_at.get(app)
    if scanned is None or time.monotonic() - scanned > state.rescan_s:
        _scan(state, app)
    with state.lock:
        pairs = set(state.inventory.get(app, set()))
    types = {t for t in state.informers.types()}
    for group, kind in pairs:
        rtype = state.discovery.preferred(group, kind)
        if rtype is not None:
            types.add(rtype)
    return sorted(types, key=lambda t: (t.group, t.kind))


# A scan of the whole cluster answers for apps that ask this soon after it.
SCAN_SHARE_S = 30.0
# Object metadata only: a scan needs labels, not specs.
_METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


def _scan(state: ClusterState, app: str) -> None:
    asked = time.monotonic()
    # One scan at a time: apps asking together wait for one scan, not one each.
    with state.scan_lock:
        last = state.cluster_scanned_at
        if last is None or asked - last > SCAN_SHARE_S:
            _scan_cluster(state)
        with state.lock:
            state.scanned_at[app] = state.cluster_scanned_at or asked


def _scan_cluster(state: ClusterState) -> None:
    """Which types hold objects of which app, for every app at once: each
    listable type not watched already (a watched type is searched in its cache)
    is listed once, metadata only, with a selector for the app label."""
    started = time.monotonic()
    watched = {(t.group, t.kind) for t in state.informers.types()}
    candidates = [
        t
        for t in state.discovery.listable()
        if "patch" in t.verbs
        and (t.group, t.kind) not in _NOT_SCANNED
        and (t.group, t.kind) not in watched
    ]

    def apps_in(rtype: ResourceType) -> set[str]:
        # Not allowed to list a type: gitwave could not have read back what it
        # applied there either, so it holds nothing gitwave can track.
        items = _list(
            state, rtype, selector=LABEL_APP, accept=_METADATA_LIST, refused_is_empty=True
        )
        return {app_label(obj) for obj in items} - {""}

    with ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(apps_in, candidates))
    with state.lock:
        for rtype, apps in zip(candidates, found, strict=True):
            for app in apps:
                state.inventory.setdefault(app, set()).add((rtype.group, rtype.kind))
        state.cluster_scanned_at = started


def _live(key: ResourceKey, manifest: Manifest | None) -> Live | None:
    if manifest is None:
        return None
    return Live(key, manifest, rv_of(manifest))


def _live_of(rtype: ResourceType, manifest: Manifest) -> Live:
    meta = manifest.get("metadata") or {}
    key = ResourceKey(
        rtype.group,
        rtype.kind,
        str(meta.get("namespace") or ""),
        str(meta.get("name") or ""),
    )
    return Live(key, manifest, rv_of(manifest))
