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
    state: ClusterState, rtype: ResourceType, *, selector: str, limit: int = 500
) -> list[Manifest]:
    """Every object of ``rtype`` matching ``selector``, all namespaces, paged."""
    items: list[Manifest] = []
    token = ""
    while True:
        query = [("labelSelector", selector), ("limit", str(limit))]
        if token:
            query.append(("continue", token))
        try:
            _, page = state.transport.request("GET", rtype.collection_path(), query=query)
        except HttpError as exc:
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
            objects = informer.select(lambda obj: app_label(obj) == app)
        else:
            objects = _list(state, rtype, selector=f"{LABEL_APP}={app}")
        found += [(rtype, obj) for obj in objects]
    return found


def _inventory_types(state: ClusterState, app: str) -> list[ResourceType]:
    """The types that may hold ``app``'s objects: those it applied, those
    watched anyway, and those a scan found (the scan runs once per app, then
    every ``inventory_rescan_s``: objects of a new type applied by another
    process show up at the next scan)."""
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


def _scan(state: ClusterState, app: str) -> None:
    started = time.monotonic()
    selector = f"{LABEL_APP}={app}"
    candidates = [
        t
        for t in state.discovery.listable()
        if "patch" in t.verbs and (t.group, t.kind) not in _NOT_SCANNED
    ]

    def holds(rtype: ResourceType) -> bool:
        try:
            _, page = state.transport.request(
                "GET",
                rtype.collection_path(),
                query=[("labelSelector", selector), ("limit", "1")],
            )
        except HttpError as exc:
            if exc.status in (403, 404, 405):
                # Not allowed to list it (so gitwave could not have read back what
                # it applied there either), or the type went away meanwhile.
                return False
            raise ProviderError(
                None,
                f"{state.name}: cannot list {rtype.display} to find the objects of "
                f"app {app!r}: {exc}",
                retriable=exc.status == 429 or exc.status >= 500,
            ) from None
        return bool(page.get("items"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        hits = list(pool.map(holds, candidates))
    with state.lock:
        inventory = state.inventory.setdefault(app, set())
        inventory.update((t.group, t.kind) for t, hit in zip(candidates, hits, strict=True) if hit)
        state.scanned_at[app] = started


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
