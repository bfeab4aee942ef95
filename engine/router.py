"""The provider router: each object goes to the provider that handles its kind.

"Target" is where gitwave reconciles (the ``--target`` flag); the router is the
one value that holds those targets' providers and picks one per object.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import cast

from gitwave.engine.clusters import Cluster
from gitwave.engine.errors import ProviderError
from gitwave.engine.exclusions import is_excluded
from gitwave.engine.model import Live, Resource, ResourceKey
from gitwave.engine.provider import BulkReader, Declaring, Impersonating, Provider


class ProviderRouter:
    """Routes each object to the provider that handles its apiVersion and kind."""

    def __init__(self, providers: Sequence[Provider], *, cluster: Cluster | None = None) -> None:
        if not providers:
            raise ValueError("at least one provider is needed")
        self.providers = tuple(providers)
        # The destination cluster these providers reach (None: the current
        # target); its namespace restriction is checked before any apply.
        self.cluster = cluster
        self._cache: dict[tuple[str, str], Provider] = {}
        self._lock = threading.Lock()
        self._as_user: dict[str, ProviderRouter] = {}
        # A runtime Protocol isinstance check walks the protocol's attributes
        # each time (Python 3.11: tens of µs); the answer for one provider of
        # this router never changes, and it is asked several times per app.
        self._offers: dict[tuple[int, type], bool] = {}

    def for_kind(self, api_version: str, kind: str) -> Provider:
        """The provider for that apiVersion and kind; ProviderError when none handles it."""
        cache_key = (api_version, kind)
        provider = self._cache.get(cache_key)
        if provider is not None:
            return provider
        for candidate in self.providers:
            if candidate.handles(api_version, kind):
                with self._lock:
                    self._cache[cache_key] = candidate
                return candidate
        names = ", ".join(p.name for p in self.providers)
        raise ProviderError(None, f"no target handles {kind} ({api_version}); targets: {names}")

    def as_user(self, user: str) -> ProviderRouter:
        """These targets with each ``Impersonating`` one writing as ``user``
        (the others, e.g. the sandbox with no RBAC, as they are); this router
        when none impersonates. One router per user, kept."""
        with self._lock:
            found = self._as_user.get(user)
        if found is not None:
            return found
        swapped = [p.as_user(user) if isinstance(p, Impersonating) else p for p in self.providers]
        found = (
            self
            if swapped == list(self.providers)
            else ProviderRouter(swapped, cluster=self.cluster)
        )
        with self._lock:
            return self._as_user.setdefault(user, found)

    def offers(self, provider: Provider, capability: type) -> bool:
        """Whether ``provider`` (one of this router's) has the optional
        ``capability`` (a runtime-checkable Protocol of ``engine.provider``)."""
        cache_key = (id(provider), capability)
        found = self._offers.get(cache_key)
        if found is None:
            found = self._offers[cache_key] = isinstance(provider, capability)
        return found

    def for_resource(self, resource: Resource) -> Provider:
        return self.for_kind(resource.api_version, resource.kind)

    def for_live(self, live: Live) -> Provider:
        return self.for_kind(str(live.manifest.get("apiVersion", "")), live.key.kind)

    def list_tracked(self, app: str, *, exclude: Collection[ResourceKey] = ()) -> list[Live]:
        """Every object any target holds for ``app``, less the ``exclude`` keys
        (the desired ones, which are no prune candidates) and the kinds no app
        tracks (``engine.exclusions``: Endpoints, EndpointSlices, Leases, …).
        Raises on a failed read."""
        found: dict[ResourceKey, Live] = {}
        for provider in self.providers:
            if self.offers(provider, BulkReader):
                reader = cast(BulkReader, provider)
                keys = [
                    k for k in reader.tracked_keys(app) if k not in exclude and not is_excluded(k)
                ]
                observed = reader.observe_many(keys) if keys else {}
                found.update({k: live for k, live in observed.items() if live is not None})
                continue
            for live in provider.list_tracked(app):
                if live.key not in exclude and not is_excluded(live.key):
                    found[live.key] = live
        return [found[k] for k in sorted(found)]

    def declare(self, resources: Iterable[Resource]) -> None:
        """Show each Declaring provider the desired objects it handles."""
        items = list(resources)
        for provider in self.providers:
            if self.offers(provider, Declaring):
                mine = [r for r in items if self.for_resource(r) is provider]
                if mine:
                    cast(Declaring, provider).declare(mine)

    @property
    def description(self) -> str:
        """The targets as a person reads them, e.g. ``sandbox, AWS: embedded emulator``."""
        return ", ".join(
            str(getattr(p, "description", "") or p.name)
            for p in self.providers
            if getattr(p, "in_use", True)
        )


def observe_all(
    resources: Iterable[Resource], targets: ProviderRouter, *, parallelism: int = 8
) -> dict[ResourceKey, Live | None]:
    """Observe every desired object in parallel. Raises on the first failed read."""
    items = list(resources)
    result: dict[ResourceKey, Live | None] = {}
    singles: list[Resource] = []
    bulk: dict[int, tuple[BulkReader, list[ResourceKey]]] = {}
    is_bulk: dict[int, bool] = {}  # a Protocol isinstance check is slow; once per provider
    for resource in items:
        provider = targets.for_resource(resource)
        bulk_reader = is_bulk.get(id(provider))
        if bulk_reader is None:
            bulk_reader = is_bulk[id(provider)] = isinstance(provider, BulkReader)
        if bulk_reader:
            bulk.setdefault(id(provider), (cast(BulkReader, provider), []))[1].append(resource.key)
        else:
            singles.append(resource)
    for reader, keys in bulk.values():
        result.update(reader.observe_many(keys))

    def one(resource: Resource) -> tuple[ResourceKey, Live | None]:
        return resource.key, targets.for_resource(resource).observe(resource.key)

    if len(singles) < 16:
        result.update(one(r) for r in singles)
    else:
        with ThreadPoolExecutor(max_workers=parallelism) as pool:
            result.update(pool.map(one, singles))
    return {r.key: result[r.key] for r in items}
