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
  engine may apply a wave with many threads; left unset, the limit is
  dropped once the server shows API Priority and Fairness (as Flux does,
  ``transport``).

This module only wires the verbs together, as Flux's ssa manager is split by
verb: ``observe`` (reads, the tracked objects, the change feed), ``apply``
(server-side apply), ``delete``, with ``state`` (the connection, discovery,
caches and inventory the verbs share) beside them.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
import time
from collections.abc import Iterable
from functools import partial
from typing import Any

from gitwave.engine.api import (
    BulkReader,
    Impersonating,
    KindCatalog,
    Provider,
    health_of,
    is_cloud_group,
)
from gitwave.engine.errors import ProviderError
from gitwave.engine.model import (
    ChangeSetEntry,
    Health,
    Live,
    Manifest,
    Propagation,
    Resource,
    ResourceKey,
)

from . import apply as apply_verb
from . import delete as delete_verb
from . import observe as observe_verb
from . import patch as patch_verb
from .apply import FIELD_MANAGER
from .cache import InformerSet
from .changes import ChangeLog
from .config import impersonating_client, load_client, load_client_from_config
from .discovery import Discovery
from .state import ClusterState
from .transport import DEFAULT_BURST, HttpError, Transport

# How long the answer of ``/version`` is reused (an upgrade of the control plane
# shows within this time).
VERSION_TTL_S = 60.0


class KubernetesProvider:
    """A Kubernetes cluster reached through one kubeconfig context. Thread-safe.

    Build it with ``from_kubeconfig``; ``close()`` stops the watch threads."""

    def __init__(
        self,
        api_client: Any,
        *,
        name: str,
        qps: float | None = None,
        burst: int | None = None,
        aggregated_discovery: bool = True,
        cache_wait_s: float = 10.0,
        inventory_rescan_s: float = 300.0,
    ) -> None:
        self.name = name
        self._api_client = api_client
        self._transport = Transport(api_client, target=name, qps=qps, burst=burst)
        changes = ChangeLog()
        self._state = ClusterState(
            name=name,
            transport=self._transport,
            discovery=Discovery(self._transport, aggregated=aggregated_discovery),
            informers=InformerSet(
                self._transport, listener=partial(observe_verb.record_event, changes)
            ),
            changes=changes,
            cache_wait_s=cache_wait_s,
            rescan_s=inventory_rescan_s,
        )
        self._closed = False
        self._qps, self._burst = qps, burst
        # Writes go through ``_writer``: this cluster's state, or (``as_user``) a
        # twin of it whose requests impersonate a user.
        self._writer = self._state
        self._parent: KubernetesProvider | None = None
        self._twins: dict[str, KubernetesProvider] = {}
        self._twins_lock = threading.Lock()

    @classmethod
    def from_kubeconfig(
        cls,
        *,
        context: str | None = None,
        kubeconfig: str | None = None,
        allow_exec_plugins: bool = False,
        qps: float | None = None,
        burst: int | None = None,
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
            pool_size=max(32, DEFAULT_BURST if burst is None else int(burst)),
        )
        return cls(connection.api_client, name=f"kube:{connection.context}", qps=qps, burst=burst)

    def as_user(self, user: str) -> KubernetesProvider:
        """This cluster writing as ``user`` (``Impersonate-User``, as ``kubectl
        --as``): apply, dry run and delete are authorised as that user, so a
        ServiceAccount's RBAC bounds them (HTTP 403 names the user and the
        object). Reads, discovery and the live-state cache stay this
        provider's: one view of the cluster whoever writes (a namespace-bound
        ServiceAccount could not list the cluster to find what to prune).
        One twin per user, closed with this provider
        (``engine.provider.Impersonating``)."""
        parent = self._parent or self
        with parent._twins_lock:
            twin = parent._twins.get(user)
            if twin is None:
                client = impersonating_client(parent._api_client, user)
                twin = copy.copy(parent)
                twin._parent = parent
                twin._api_client = client
                twin._writer = parent._state.writing_through(
                    Transport(client, target=parent.name, qps=parent._qps, burst=parent._burst),
                    name=f"{parent.name} (as {user})",
                )
                parent._twins[user] = twin
        return twin

    @classmethod
    def from_config(
        cls,
        config: Any,
        *,
        name: str,
        subject: str,
        allow_exec_plugins: bool = False,
        qps: float | None = None,
        burst: int | None = None,
    ) -> KubernetesProvider:
        """The provider for an in-memory kubeconfig (from an Argo CD cluster
        Secret or a Flux kubeConfig Secret named by ``subject``), named ``name``.
        Raises ``KubeconfigError`` like ``from_kubeconfig``; contacts nothing."""
        connection = load_client_from_config(
            config,
            subject=subject,
            allow_exec_plugins=allow_exec_plugins,
            pool_size=max(32, DEFAULT_BURST if burst is None else int(burst)),
        )
        return cls(connection.api_client, name=name, qps=qps, burst=burst)

    def close(self) -> None:
        """Stop every watch thread and close the connections; unusable afterwards."""
        if self._parent is not None:
            return  # a twin lives as long as its parent, which closes it
        with self._twins_lock:
            twins = list(self._twins.values())
        for twin in twins:
            twin._api_client.close()
        with self._state.lock:
            if self._closed:
                return
            self._closed = True
        self._state.informers.close()
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
        return observe_verb.observe(self._state, key)

    def observe_many(self, keys: Iterable[ResourceKey]) -> dict[ResourceKey, Live | None]:
        """``observe`` for many keys: from the caches, waiting (up to
        ``cache_wait_s``) for a first list of each type; keys of a type whose
        cache cannot sync are read one by one. Raises like ``observe``."""
        return observe_verb.observe_many(self._state, keys)

    def apply(self, resource: Resource, *, dry_run: bool = False) -> ChangeSetEntry:
        """Server-side apply as field manager ``gitwave``: forced over imperative
        edits, over another applier's fields only with ``resource.force_conflicts``
        (else FieldConflictError naming them).

        Created (HTTP 201), configured, or unchanged when the server stored
        nothing new. With ``dry_run`` the server runs the apply (``dryRun=All``:
        admission, defaults, validation) and stores nothing; the returned Live is
        what would be stored. Raises ProviderError when the server refuses the
        object (unknown kind, missing namespace, invalid field), naming it;
        UnreachableError when the cluster cannot be reached."""
        return apply_verb.apply(self._writer, resource, dry_run=dry_run)

    def dry_run_apply(self, resource: Resource) -> Live:
        """What the server would store for ``resource``, defaults and admission
        included (a server-side dry-run apply). For the planner: diffing this
        against the live object shows only what an apply would really change.
        Raises like ``apply``."""
        # As if forced: the plan shows what the sync would change; a conflict
        # is reported by the sync (and its dry run), which knows the app's choice.
        entry = self.apply(dataclasses.replace(resource, force_conflicts=True), dry_run=True)
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
        return delete_verb.delete(self._writer, key, propagation=propagation)

    def merge_patch(
        self, key: ResourceKey, patch: Manifest, *, subresource: str | None = None
    ) -> Live:
        """A JSON merge patch of the object or its ``subresource``, as
        ``kubectl patch --type merge`` (``engine.rollouts.RolloutPatcher``: how a
        Rollout is promoted or aborted). Raises ProviderError when refused."""
        return patch_verb.merge_patch(self._writer, key, patch, subresource=subresource)

    def health(self, live: Live) -> Health:
        return health_of(live.manifest)

    def list_tracked(self, app: str) -> list[Live]:
        """Objects labelled ``gitwave.dev/app: <app>``, sorted by key.

        Looked for in every type this provider applied or read, plus the types a
        scan of all listable types found holding the app's objects (once per
        app, then every ``inventory_rescan_s``). Raises rather than answering
        from part of the cluster."""
        return observe_verb.list_tracked(self._state, app)

    def list_labelled(self, api_version: str, kind: str, selector: str) -> list[Live]:
        """Every object of that kind (all namespaces) matching the label
        ``selector`` (the destination registry reads Argo CD cluster Secrets so).
        Raises ProviderError when it cannot be read."""
        return observe_verb.list_labelled(self._state, api_version, kind, selector)

    def tracked_keys(self, app: str) -> list[ResourceKey]:
        """The keys ``list_tracked`` returns, sorted. Raises like it."""
        return observe_verb.tracked_keys(self._state, app)

    # ------------------------------------------------------------ kind catalog

    def serves(self, api_version: str, kind: str) -> bool:
        """True when discovery lists ``kind`` at ``apiVersion`` (``engine.provider.
        KindCatalog``). A miss is checked once more on fresh discovery, as kubectl
        does, so a CRD established a moment ago counts. Raises UnreachableError
        when the cluster cannot be asked."""
        group, _, version = api_version.rpartition("/")
        discovery = self._state.discovery
        if discovery.lookup(group, version, kind) is not None:
            return True
        discovery.refresh_if_older(time.monotonic())
        return discovery.lookup(group, version, kind) is not None

    def kubernetes_version(self) -> str:
        """``major.minor`` from the API server's ``/version`` (``engine.provider.
        ServerVersion``); a managed cluster's ``28+`` minor loses its ``+``.
        Asked again after ``VERSION_TTL_S``: every app's plan wants it, and a
        fleet asked the server once per app."""
        now = time.monotonic()
        with self._state.lock:
            known = self._state.version
        if known is not None and now - known[0] < VERSION_TTL_S:
            return known[1]
        _, body = self._transport.request("GET", "/version")
        major = str(body.get("major", "")).rstrip("+")
        minor = str(body.get("minor", "")).rstrip("+")
        version = f"{major}.{minor}"
        with self._state.lock:
            self._state.version = (now, version)
        return version

    def custom_resource_definition(self, group: str, kind: str) -> Manifest | None:
        """The cluster's CustomResourceDefinition of ``group``/``kind`` (its name is
        ``<plural>.<group>``), or None when no CRD defines it (a built-in kind,
        or an aggregated API)."""
        served = self._state.discovery.preferred(group, kind)
        if served is None or not group:
            return None
        path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{served.plural}.{group}"
        try:
            _, crd = self._transport.request("GET", path)
        except HttpError as exc:
            if exc.status in (403, 404):  # not a CRD, or not ours to read: apply decides
                return None
            raise ProviderError(
                None,
                f"{self._state.name}: reading CustomResourceDefinition {served.plural}.{group} "
                f"failed: {exc.message}",
                retriable=exc.status == 429 or exc.status >= 500,
            ) from None
        return crd if isinstance(crd, dict) else None

    # ------------------------------------------------------------ change feed

    def changes(self, cursor: str) -> tuple[str, frozenset[ResourceKey] | None]:
        """The new cursor and the keys the watches saw created, changed or
        deleted after ``cursor`` (``engine.provider.ChangeFeed``; ``""`` starts
        the feed). None when events may have been missed: a watch relisted
        after a failure, or the cursor is not from this provider. Only types in
        use are watched (everything gitwave applied or read). Raises
        UnreachableError while a watch cannot reach the cluster."""
        return observe_verb.changes(self._state, cursor)


def _conforms(
    provider: KubernetesProvider,
) -> tuple[Provider, BulkReader, KindCatalog, Impersonating]:
    """Never called: mypy checks here that KubernetesProvider is a Provider, a
    BulkReader, a KindCatalog and Impersonating."""
    return provider, provider, provider, provider


__all__ = ["FIELD_MANAGER", "KubernetesProvider"]
