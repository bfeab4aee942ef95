"""KubernetesProvider: a real cluster as a gitwave target.

- **Apply** is server-side apply (``PATCH application/apply-patch+yaml``) as
  field manager ``gitwave`` with ``force=true``: Git owns the fields it
  declares and takes them back from ``kubectl edit``/``scale`` (as Flux and
  Argo CD do); fields other managers set and Git does not are left alone, and
  a field Git stops setting is removed. No last-applied annotation is written.
- **Reads** come from a live-state cache (``cache.Informer``: list+watch per
  resource type in use) while it is synced, else straight from the server. A
  failed read raises (``UnreachableError`` naming ``kube:CONTEXT``); it never
  makes an object look absent, and ``list_tracked`` never returns part of the
  answer.
- **Discovery** maps kinds to resource names and scope; applying a
  CustomResourceDefinition invalidates it, and a kind that is not served is
  looked up once more before failing like kubectl ("no matches for kind").
- **Requests** are rate limited (``qps``/``burst``, like client-go), so the
  engine may apply a wave with many threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gitwave.engine.api import (
    BulkReader,
    Provider,
    health_of,
    is_cloud_group,
    redact,
    secret_values,
)
from gitwave.engine.errors import ConflictError, ProviderError, UnreachableError
from gitwave.engine.model import (
    LABEL_APP,
    SERVER_METADATA_FIELDS,
    ChangeAction,
    ChangeSetEntry,
    Health,
    Live,
    Manifest,
    Propagation,
    Resource,
    ResourceKey,
)

from .cache import Informer, InformerSet
from .changes import ChangeLog
from .config import load_client
from .discovery import Discovery, ResourceType
from .transport import APPLY_PATCH, HttpError, Transport

FIELD_MANAGER = "gitwave"

_CRD = ("apiextensions.k8s.io", "CustomResourceDefinition")


_PROPAGATION = {
    Propagation.FOREGROUND: "Foreground",
    Propagation.BACKGROUND: "Background",
    Propagation.ORPHAN: "Orphan",
}

# Types never scanned for tracked objects: gitwave does not apply them, and
# there are many of them.
_NOT_SCANNED = frozenset({("", "Event"), ("events.k8s.io", "Event")})

# Applies on a cached resourceVersion before giving up on an exact answer.
_PRECONDITION_TRIES = 4
# A lookup miss of an observe refreshes discovery at most this often.
_OBSERVE_REFRESH_S = 1.0
# How long a kind whose CRD this provider applied may take to be served.
_CRD_SERVED_WAIT_S = 15.0
_CRD_RECENT_S = 120.0

LiveList = list[Live]
KeyList = list[ResourceKey]


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


def _rv_of(manifest: Mapping[str, Any] | None) -> str:
    if not manifest:
        return ""
    return str((manifest.get("metadata") or {}).get("resourceVersion") or "")


def _app_label(manifest: Mapping[str, Any]) -> str:
    labels = (manifest.get("metadata") or {}).get("labels")
    return str(labels.get(LABEL_APP) or "") if isinstance(labels, Mapping) else ""


def _with_hint(error: ProviderError, hint: str) -> ProviderError:
    error.hint = hint
    return error


class KubernetesProvider:
    """A Kubernetes cluster reached through one kubeconfig context. Thread-safe.

    Build it with ``from_kubeconfig``; ``close()`` stops the watch threads."""

    def __init__(
        self,
        api_client: Any,
        *,
        name: str,
        qps: float = 50.0,
        burst: int = 100,
        aggregated_discovery: bool = True,
        cache_wait_s: float = 10.0,
        inventory_rescan_s: float = 300.0,
    ) -> None:
        self.name = name
        self._api_client = api_client
        self._transport = Transport(api_client, target=name, qps=qps, burst=burst)
        self._discovery = Discovery(self._transport, aggregated=aggregated_discovery)
        self._changes = ChangeLog()
        self._informers = InformerSet(self._transport, listener=self._on_watch_event)
        self._cache_wait_s = cache_wait_s
        self._rescan_s = inventory_rescan_s
        self._lock = threading.Lock()
        # app → the (group, kind) pairs it has objects of (applied or found by a scan).
        self._inventory: dict[str, set[tuple[str, str]]] = {}
        self._scanned_at: dict[str, float] = {}
        # (group, kind) of custom resources whose CRD this provider applied, and when.
        self._crds_applied: dict[tuple[str, str], float] = {}
        self._closed = False

    @classmethod
    def from_kubeconfig(
        cls,
        *,
        context: str | None = None,
        kubeconfig: str | None = None,
        allow_exec_plugins: bool = False,
        qps: float = 50,
        burst: int = 100,
    ) -> KubernetesProvider:
        """The provider for ``context`` (None: the kubeconfig's current context),
        named ``kube:<context>``.

        ``kubeconfig`` overrides ``$KUBECONFIG`` (both may list several files,
        merged as kubectl does). Raises ``KubeconfigError`` for an unknown
        context (listing the known ones), a missing kubeconfig, or a user with
        an exec credential plugin unless ``allow_exec_plugins``. Does not
        contact the cluster: the first operation does."""
        connection = load_client(
            context=context,
            kubeconfig=kubeconfig,
            allow_exec_plugins=allow_exec_plugins,
            pool_size=max(32, int(burst)),
        )
        return cls(connection.api_client, name=f"kube:{connection.context}", qps=qps, burst=burst)

    def close(self) -> None:
        """Stop every watch thread and close the connections; unusable afterwards."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._informers.close()
        self._api_client.close()

    def __enter__(self) -> KubernetesProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"KubernetesProvider({self.name!r}, server={self._transport.server!r})"

    @property
    def server(self) -> str:
        return self._transport.server

    # ------------------------------------------------------------ Provider protocol

    def handles(self, api_version: str, kind: str) -> bool:
        """Every Kubernetes-shaped kind except cloud resources (another provider's)."""
        group = api_version.rpartition("/")[0]
        return bool(kind) and not is_cloud_group(group)

    def observe(self, key: ResourceKey) -> Live | None:
        """The live object (from the cache while it is synced), or None when it
        does not exist. Raises UnreachableError when the cluster cannot be read."""
        rtype = self._type_of(key)
        if rtype is None:
            return None
        informer = self._informers.for_type(rtype)
        if informer is not None and informer.synced:
            return self._live(key, informer.get(key.namespace, key.name))
        return self._live(key, self._get(rtype, key))

    def observe_many(self, keys: Iterable[ResourceKey]) -> dict[ResourceKey, Live | None]:
        """``observe`` for many keys: from the caches, waiting (up to
        ``cache_wait_s``) for a first list of each type; keys of a type whose
        cache cannot sync are read one by one. Raises like ``observe``."""
        wanted = list(keys)
        result: dict[ResourceKey, Live | None] = {}
        by_type: dict[ResourceType, list[ResourceKey]] = {}
        for key in wanted:
            rtype = self._type_of(key)
            if rtype is None:
                result[key] = None
            else:
                by_type.setdefault(rtype, []).append(key)
        direct: list[tuple[ResourceType, ResourceKey]] = []
        informers = {rtype: self._informers.for_type(rtype) for rtype in by_type}
        for rtype, group in by_type.items():
            informer = informers[rtype]
            if informer is not None and informer.wait_ready(self._cache_wait_s):
                for key in group:
                    result[key] = self._live(key, informer.get(key.namespace, key.name))
            else:
                direct += [(rtype, key) for key in group]
        if direct:
            with ThreadPoolExecutor(max_workers=min(8, len(direct))) as pool:
                fetched = list(pool.map(lambda pair: self._get(*pair), direct))
            for (_, key), manifest in zip(direct, fetched, strict=True):
                result[key] = self._live(key, manifest)
        return {key: result[key] for key in wanted}

    def apply(self, resource: Resource, *, dry_run: bool = False) -> ChangeSetEntry:
        """Server-side apply as field manager ``gitwave`` with force.

        Created (HTTP 201), configured, or unchanged when the server stored
        nothing new. With ``dry_run`` the server runs the apply (``dryRun=All``:
        admission, defaults, validation) and stores nothing; the returned Live is
        what would be stored. Raises ProviderError when the server refuses the
        object (unknown kind, missing namespace, invalid field), naming it;
        UnreachableError when the cluster cannot be reached."""
        key = resource.key
        started = time.monotonic()
        secrets = secret_values(resource.manifest) if resource.is_secret else ()
        rtype = self._type_for_apply(resource, started)
        body = self._body(resource, rtype)
        informer = self._informers.for_type(rtype)
        before = (
            informer.get(key.namespace, key.name)
            if informer is not None and informer.synced
            else self._get(rtype, key)
        )
        status, obj, before, exact = self._patch(rtype, key, body, before, dry_run, secrets)
        if status == 201:
            action = ChangeAction.CREATED
        elif before is None:
            action = ChangeAction.CONFIGURED  # it existed after all (a race with another writer)
        elif exact and not dry_run:
            # Applied on exactly ``before``: the server stored something iff it
            # handed out a new resourceVersion.
            same = _rv_of(obj) == _rv_of(before)
            action = ChangeAction.UNCHANGED if same else ChangeAction.CONFIGURED
        else:
            # A dry run stores nothing and bumps nothing: compare what it would store.
            same = _comparable(obj) == _comparable(before)
            action = ChangeAction.UNCHANGED if same else ChangeAction.CONFIGURED
        if not dry_run:
            self._after_apply(resource, rtype, obj, informer)
        live = Live(key, obj, "" if dry_run and status == 201 else _rv_of(obj))
        return ChangeSetEntry(key, action, message="dry run" if dry_run else "", live=live)

    def _patch(
        self,
        rtype: ResourceType,
        key: ResourceKey,
        body: Manifest,
        before: Manifest | None,
        dry_run: bool,
        secrets: Sequence[str],
    ) -> tuple[int, Manifest, Manifest | None, bool]:
        """The apply request: ``(status, object, before, exact)``.

        The apply carries ``before``'s resourceVersion as a precondition, so it
        lands on exactly the object ``before`` describes (``exact``) and the
        result can say unchanged or configured for sure. A conflict means the
        cache lagged: read the object again and retry; an object that keeps
        changing (a rollout writing status) is finally applied without the
        precondition, and ``exact`` is False."""
        query = [("fieldManager", FIELD_MANAGER), ("force", "true")]
        if dry_run:
            query.append(("dryRun", "All"))
        path = rtype.object_path(key.namespace, key.name)
        for attempt in range(_PRECONDITION_TRIES + 1):
            precondition = _rv_of(before) if attempt < _PRECONDITION_TRIES else ""
            meta = body["metadata"]
            if precondition:
                meta["resourceVersion"] = precondition
            else:
                meta.pop("resourceVersion", None)
            try:
                status, obj = self._transport.request(
                    "PATCH", path, query=query, body=body, content_type=APPLY_PATCH
                )
            except HttpError as exc:
                if exc.status != 409 or not precondition:
                    raise self._refused(key, exc, secrets) from None
                before = self._get(rtype, key)
                continue
            if not isinstance(obj, dict):
                raise ProviderError(key, f"{self.name} answered an apply with {obj!r}")
            obj.setdefault("apiVersion", rtype.api_version)
            obj.setdefault("kind", rtype.kind)
            return int(status), obj, before, bool(precondition) or before is None
        raise AssertionError("unreachable: the last attempt has no precondition")

    def dry_run_apply(self, resource: Resource) -> Live:
        """What the server would store for ``resource``, defaults and admission
        included (a server-side dry-run apply). For the planner: diffing this
        against the live object shows only what an apply would really change.
        Raises like ``apply``."""
        entry = self.apply(resource, dry_run=True)
        assert entry.live is not None
        return entry.live

    def delete(
        self, key: ResourceKey, *, propagation: Propagation = Propagation.FOREGROUND
    ) -> ChangeSetEntry:
        """Delete with ``propagationPolicy`` Foreground (dependents first; the
        object stays, Terminating, until they are gone), Background (the garbage
        collector removes dependents afterwards) or Orphan (they stay, without
        owner reference). Deleted (the deletion started), or unchanged when the
        object was already absent."""
        rtype = self._type_of(key)
        if rtype is None:
            return ChangeSetEntry(key, ChangeAction.UNCHANGED, message="already absent")
        body = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "propagationPolicy": _PROPAGATION[propagation],
        }
        try:
            self._transport.request("DELETE", rtype.object_path(key.namespace, key.name), body=body)
        except HttpError as exc:
            if exc.is_not_found:
                return ChangeSetEntry(key, ChangeAction.UNCHANGED, message="already absent")
            raise self._refused(key, exc, ()) from None
        if (key.group, key.kind) == _CRD:
            self._discovery.invalidate()
        return ChangeSetEntry(
            key, ChangeAction.DELETED, message=f"deleted ({propagation.value} propagation)"
        )

    def health(self, live: Live) -> Health:
        return health_of(live.manifest)

    def list_tracked(self, app: str) -> LiveList:
        """Objects labelled ``gitwave.dev/app: <app>``, sorted by key.

        Looked for in every type this provider applied or read, plus the types a
        scan of all listable types found holding the app's objects (once per
        app, then every ``inventory_rescan_s``). Raises rather than answering
        from part of the cluster."""
        found = [self._live_of(rtype, obj) for rtype, obj in self._tracked(app)]
        return sorted(found, key=lambda live: live.key)

    def tracked_keys(self, app: str) -> KeyList:
        """The keys ``list_tracked`` returns, sorted. Raises like it."""
        return sorted(self._live_of(rtype, obj).key for rtype, obj in self._tracked(app))

    # ------------------------------------------------------------ change feed

    def changes(self, cursor: str) -> tuple[str, frozenset[ResourceKey] | None]:
        """The new cursor and the keys the watches saw created, changed or
        deleted after ``cursor`` (``engine.provider.ChangeFeed``; ``""`` starts
        the feed). None when events may have been missed: a watch relisted
        after a failure, or the cursor is not from this provider. Only types in
        use are watched (everything gitwave applied or read). Raises
        UnreachableError while a watch cannot reach the cluster."""
        failing = self._informers.failing()
        if failing:
            informer = failing[0]
            # The informer's error names this target already: keep the reason.
            reason = informer.last_error.rpartition(f"{self.name} unreachable: ")[2]
            raise UnreachableError(self.name, f"{reason} (watching {informer.rtype.display})")
        return self._changes.since(cursor)

    def _on_watch_event(self, rtype: ResourceType, manifest: Manifest | None) -> None:
        if manifest is None:
            self._changes.lost()
            return
        meta = manifest.get("metadata") or {}
        self._changes.record(
            ResourceKey(
                rtype.group,
                rtype.kind,
                str(meta.get("namespace") or ""),
                str(meta.get("name") or ""),
            )
        )

    # ------------------------------------------------------------ internals: types

    def _type_of(self, key: ResourceKey) -> ResourceType | None:
        """The served type of ``key`` (preferred version), None when no object
        with that key can exist (kind not served, or scope does not fit)."""
        rtype = self._discovery.preferred(key.group, key.kind)
        if rtype is None:
            self._discovery.refresh_if_older(time.monotonic() - _OBSERVE_REFRESH_S)
            rtype = self._discovery.preferred(key.group, key.kind)
        if rtype is None or rtype.namespaced != bool(key.namespace):
            return None
        return rtype

    def _type_for_apply(self, resource: Resource, started: float) -> ResourceType:
        key = resource.key
        group, _, version = resource.api_version.rpartition("/")
        if group != key.group:
            raise ProviderError(
                key, f"apiVersion {resource.api_version!r} is not in API group {key.group!r}"
            )
        rtype = self._discovery.lookup(group, version, key.kind)
        if rtype is None:
            self._discovery.refresh_if_older(started)
            rtype = self._discovery.lookup(group, version, key.kind)
        if rtype is None and self._crd_recently_applied(group, key.kind):
            # Established, but the discovery document may follow a moment later.
            deadline = time.monotonic() + _CRD_SERVED_WAIT_S
            while rtype is None and time.monotonic() < deadline:
                time.sleep(0.2)
                self._discovery.refresh_if_older(time.monotonic())
                rtype = self._discovery.lookup(group, version, key.kind)
        if rtype is None:
            raise _with_hint(
                ProviderError(
                    key,
                    f'no matches for kind "{key.kind}" in version "{resource.api_version}" '
                    f"on {self.name}",
                ),
                "install the CustomResourceDefinition that defines it (gitwave applies a "
                "CRD from the repository before its custom resources), or fix apiVersion",
            )
        if rtype.namespaced and not key.namespace:
            raise _with_hint(
                ProviderError(key, f"{key.kind} is namespaced; metadata.namespace is required"),
                "set metadata.namespace or the application's destination namespace",
            )
        if not rtype.namespaced and key.namespace:
            raise _with_hint(
                ProviderError(
                    key,
                    f"{key.kind} is cluster-scoped; it cannot be in namespace {key.namespace!r}",
                ),
                "remove metadata.namespace from this object",
            )
        return rtype

    def _crd_recently_applied(self, group: str, kind: str) -> bool:
        with self._lock:
            applied = self._crds_applied.get((group, kind))
        return applied is not None and time.monotonic() - applied < _CRD_RECENT_S

    # ------------------------------------------------------------ internals: I/O

    def _get(self, rtype: ResourceType, key: ResourceKey) -> Manifest | None:
        """GET one object; None when it does not exist."""
        try:
            _, obj = self._transport.request("GET", rtype.object_path(key.namespace, key.name))
        except HttpError as exc:
            if exc.is_not_found:
                if exc.is_unknown_path:
                    self._discovery.invalidate()  # the type went away
                return None
            raise self._refused(key, exc, ()) from None
        if not isinstance(obj, dict):
            raise ProviderError(key, f"{self.name} answered a GET with {type(obj).__name__}")
        obj.setdefault("apiVersion", rtype.api_version)
        obj.setdefault("kind", rtype.kind)
        return obj

    def _list(self, rtype: ResourceType, *, selector: str, limit: int = 500) -> list[Manifest]:
        """Every object of ``rtype`` matching ``selector``, all namespaces, paged."""
        items: list[Manifest] = []
        token = ""
        while True:
            query = [("labelSelector", selector), ("limit", str(limit))]
            if token:
                query.append(("continue", token))
            try:
                _, page = self._transport.request("GET", rtype.collection_path(), query=query)
            except HttpError as exc:
                if exc.status == 410:  # the continue token expired: start over
                    items, token = [], ""
                    continue
                if exc.is_unknown_path:
                    # Not served any more (its CRD was deleted): no object of it exists.
                    self._discovery.invalidate()
                    return []
                raise ProviderError(
                    None,
                    f"{self.name}: cannot list {rtype.display}: {exc}",
                    retriable=exc.status in (429,) or exc.status >= 500,
                ) from None
            for item in page.get("items") or []:
                item["apiVersion"], item["kind"] = rtype.api_version, rtype.kind
                items.append(item)
            token = str((page.get("metadata") or {}).get("continue") or "")
            if not token:
                return items

    def _refused(self, key: ResourceKey, exc: HttpError, secrets: Sequence[str]) -> ProviderError:
        """The typed error for an HTTP error about ``key``. Secret values that the
        server echoed (an invalid label value, say) are masked."""
        message = redact(exc.message, secrets) if secrets else exc.message
        if exc.status == 409:
            return ConflictError(key, message)
        if exc.is_unknown_path:
            self._discovery.invalidate()
            return ProviderError(key, f"{self.name} does not serve this kind any more ({message})")
        if exc.status == 404 and (exc.status_body.get("details") or {}).get("kind") == "namespaces":
            return _with_hint(
                ProviderError(key, f"{message} on {self.name}"),
                f"add a Namespace {key.namespace!r} to the repository (gitwave applies it "
                "before what is in it), or enable CreateNamespace",
            )
        if exc.status == 401:
            return _with_hint(
                ProviderError(key, f"{self.name} rejected the credentials: {message}"),
                "the kubeconfig's token or certificate expired or is wrong",
            )
        if exc.status == 403:
            return ProviderError(key, f"forbidden on {self.name}: {message}")
        retriable = exc.status == 429 or exc.status >= 500
        return ProviderError(key, f"{self.name} refused it: {message}", retriable=retriable)

    def _body(self, resource: Resource, rtype: ResourceType) -> Manifest:
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
        self, resource: Resource, rtype: ResourceType, obj: Manifest, informer: Informer | None
    ) -> None:
        if informer is not None:
            informer.offer(obj)
        app = _app_label(obj)
        with self._lock:
            if app:
                self._inventory.setdefault(app, set()).add((rtype.group, rtype.kind))
            if (rtype.group, rtype.kind) == _CRD:
                spec = obj.get("spec") or {}
                names = spec.get("names") or {}
                if spec.get("group") and names.get("kind"):
                    self._crds_applied[(str(spec["group"]), str(names["kind"]))] = time.monotonic()
        if (rtype.group, rtype.kind) == _CRD:
            self._discovery.invalidate()

    # ------------------------------------------------------------ internals: tracking

    def _tracked(self, app: str) -> list[tuple[ResourceType, Manifest]]:
        found: list[tuple[ResourceType, Manifest]] = []
        for rtype in self._inventory_types(app):
            informer = self._informers.for_type(rtype)
            if informer is not None and informer.wait_ready(self._cache_wait_s):
                objects = informer.select(lambda obj: _app_label(obj) == app)
            else:
                objects = self._list(rtype, selector=f"{LABEL_APP}={app}")
            found += [(rtype, obj) for obj in objects]
        return found

    def _inventory_types(self, app: str) -> list[ResourceType]:
        """The types that may hold ``app``'s objects: those it applied, those
        watched anyway, and those a scan found (the scan runs once per app, then
        every ``inventory_rescan_s``: objects of a new type applied by another
        process show up at the next scan)."""
        with self._lock:
            scanned = self._scanned_at.get(app)
        if scanned is None or time.monotonic() - scanned > self._rescan_s:
            self._scan(app)
        with self._lock:
            pairs = set(self._inventory.get(app, set()))
        types = {t for t in self._informers.types()}
        for group, kind in pairs:
            rtype = self._discovery.preferred(group, kind)
            if rtype is not None:
                types.add(rtype)
        return sorted(types, key=lambda t: (t.group, t.kind))

    def _scan(self, app: str) -> None:
        started = time.monotonic()
        selector = f"{LABEL_APP}={app}"
        candidates = [
            t
            for t in self._discovery.listable()
            if "patch" in t.verbs and (t.group, t.kind) not in _NOT_SCANNED
        ]

        def holds(rtype: ResourceType) -> bool:
            try:
                _, page = self._transport.request(
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
                    f"{self.name}: cannot list {rtype.display} to find the objects of "
                    f"app {app!r}: {exc}",
                    retriable=exc.status == 429 or exc.status >= 500,
                ) from None
            return bool(page.get("items"))

        with ThreadPoolExecutor(max_workers=8) as pool:
            hits = list(pool.map(holds, candidates))
        with self._lock:
            inventory = self._inventory.setdefault(app, set())
            inventory.update(
                (t.group, t.kind) for t, hit in zip(candidates, hits, strict=True) if hit
            )
            self._scanned_at[app] = started

    # ------------------------------------------------------------ internals: values

    def _live(self, key: ResourceKey, manifest: Manifest | None) -> Live | None:
        if manifest is None:
            return None
        return Live(key, manifest, _rv_of(manifest))

    def _live_of(self, rtype: ResourceType, manifest: Manifest) -> Live:
        meta = manifest.get("metadata") or {}
        key = ResourceKey(
            rtype.group,
            rtype.kind,
            str(meta.get("namespace") or ""),
            str(meta.get("name") or ""),
        )
        return Live(key, manifest, _rv_of(manifest))


def _conforms(provider: KubernetesProvider) -> tuple[Provider, BulkReader]:
    """Never called: mypy checks here that KubernetesProvider is a Provider and a BulkReader."""
    return provider, provider


__all__ = ["FIELD_MANAGER", "KubernetesProvider"]
