"""The provider router: each object goes to the provider that handles its kind.

"Target" is where gitwave reconciles (the ``--target`` flag); the router is the
one value that holds those targets' providers and picks one per object.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, cast

from gitwave.engine.clusters import Cluster
from gitwave.engine.errors import ProviderError
from gitwave.engine.exclusions import is_excluded
from gitwave.engine.model import Live, Resource, ResourceKey
from gitwave.engine.provider import BulkReader, Declaring, Impersonating, Provider, StateStamp

# The provider calls that reach a target (an API server, AWS, the sandbox's
# store): what ``time_requests`` times. ``health`` reads a Live already fetched.
TIMED_OPERATIONS = (
    "observe",
    "observe_many",
    "apply",
    "delete",
    "dry_run_apply",
    "list_tracked",
    "tracked_keys",
    "changes",
)


class RequestObserver(Protocol):
    """Told how long each provider call took (``ProviderRouter.time_requests``)."""

    def __call__(self, *, cluster: str, target: str, operation: str, seconds: float) -> None: ...


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
        self._request_observer: RequestObserver | None = None

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
            found = self._as_user.setdefault(user, found)
            observer = self._request_observer
        if observer is not None and found is not self:
            found.time_requests(observer)
        return found

    def time_requests(self, observer: RequestObserver) -> None:
        """Tell ``observer`` how long each call of ``TIMED_OPERATIONS`` on
        these providers takes, from now on (and on the routers ``as_user``
        makes). The one place every request to a target passes is its
        provider's methods, called from the plan, the sync and the health
        waits alike; so the methods are wrapped on each provider instance
        rather than at every call site. The instance stays the same object
        (the loop keys change feeds by it, protocols are checked on it), and
        a provider is wrapped once however many routers hold it. Off by
        default: it costs two clock reads per call only once asked for."""
        cluster = self.cluster.name if self.cluster is not None else "in-cluster"
        with self._lock:
            self._request_observer = observer
            others = [r for r in self._as_user.values() if r is not self]
        for provider in self.providers:
            _time_provider(provider, cluster, observer)
        for router in others:
            router.time_requests(observer)

    def offers(self, provider: Provider, capability: type) -> bool:
        """Whether ``provider`` (one of this router's) has the optional
        ``capability`` (a runtime-checkable Protocol of ``engine.provider``)."""
        cache_key = (id(provider), capability)
        found = self._offers.get(cache_key)
        if found is None:
            found = self._offers[cache_key] = isinstance(provider, capability)
        return found

    def state_stamp(self, app: str) -> str | None:
        """Every provider's ``StateStamp`` for ``app``, in order, as one text;
        None when any provider cannot tell (a Kubernetes cluster)."""
        stamps = []
        for provider in self.providers:
            if not self.offers(provider, StateStamp):
                return None
            stamp = cast(StateStamp, provider).state_stamp(app)
            if stamp is None:
                return None
            stamps.append(f"{provider.name}: {stamp}")
        return "\n".join(stamps)

    def for_resource(self, resource: Resource) -> Provider:
        # The cache read here, not through for_kind: 10,000 calls per plan.
        provider = self._cache.get((resource.api_version, resource.key.kind))
        if provider is not None:
            return provider
        return self.for_kind(resource.api_version, resource.key.kind)

    def by_provider(self, resources: Iterable[Resource]) -> list[tuple[Provider, list[Resource]]]:
        """``resources`` by the provider each goes to (providers in the order
        first met, each one's resources in the order given). Routes each
        apiVersion and kind once, not each object: 10,000 per plan.
        ProviderError when no provider handles one."""
        routed: dict[tuple[str, str], list[Resource]] = {}  # a route: its provider's list
        groups: dict[int, tuple[Provider, list[Resource]]] = {}
        for resource in resources:
            route = (resource.api_version, resource.key.kind)
            mine = routed.get(route)
            if mine is None:
                provider = self.for_kind(*route)
                mine = routed[route] = groups.setdefault(id(provider), (provider, []))[1]
            mine.append(resource)
        return list(groups.values())

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

    def to_declare(self, resources: Iterable[Resource]) -> list[Resource]:
        """The ``resources`` a Declaring provider handles, so a caller copies
        (tracking id added) only those: deep copies of a 10,000-object render
        that no provider looks at were a fifth of a fresh plan's time."""
        declaring = [p for p in self.providers if self.offers(p, Declaring)]
        if not declaring:
            return []
        ids = {id(p) for p in declaring}
        # Decided per apiVersion and kind, in the order given.
        declared: dict[tuple[str, str], bool] = {}
        found = []
        for resource in resources:
            route = (resource.api_version, resource.key.kind)
            mine = declared.get(route)
            if mine is None:
                mine = declared[route] = id(self.for_kind(*route)) in ids
            if mine:
                found.append(resource)
        return found

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


def _time_provider(provider: Provider, cluster: str, observer: RequestObserver) -> None:
    try:
        attributes = vars(provider)
    except TypeError:  # a provider with __slots__: not timed, still routed
        return
    if attributes.get("_gitwave_timed") == id(provider):
        return
    target = str(getattr(provider, "name", "") or type(provider).__name__)
    for operation in TIMED_OPERATIONS:
        if getattr(attributes.get(operation), "_gitwave_timing", False):
            # A copy of a timed provider (an impersonating twin is made with
            # copy.copy): its wrappers call the original; time its own methods.
            del attributes[operation]
        method = getattr(provider, operation, None)
        if callable(method):
            attributes[operation] = _timed(method, cluster, target, operation, observer)
    attributes["_gitwave_timed"] = id(provider)


def _timed(
    method: Callable[..., Any],
    cluster: str,
    target: str,
    operation: str,
    observer: RequestObserver,
) -> Callable[..., Any]:
    @functools.wraps(method)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            observer(
                cluster=cluster,
                target=target,
                operation=operation,
                seconds=time.perf_counter() - started,
            )

    timed._gitwave_timing = True  # type: ignore[attr-defined]
    return timed


def observe_all(
    resources: Iterable[Resource], targets: ProviderRouter, *, parallelism: int = 8
) -> dict[ResourceKey, Live | None]:
    """Observe every desired object in parallel. Raises on the first failed read."""
    items = list(resources)
    result: dict[ResourceKey, Live | None] = {}
    singles: list[Resource] = []
    for provider, mine in targets.by_provider(items):
        # A Protocol isinstance check is slow: the router answers it once per provider.
        if targets.offers(provider, BulkReader):
            result.update(cast(BulkReader, provider).observe_many([r.key for r in mine]))
        else:
            singles.extend(mine)

    def one(resource: Resource) -> tuple[ResourceKey, Live | None]:
        return resource.key, targets.for_resource(resource).observe(resource.key)

    if len(singles) < 16:
        result.update(one(r) for r in singles)
    else:
        with ThreadPoolExecutor(max_workers=parallelism) as pool:
            result.update(pool.map(one, singles))
    if len(result) == len(items) and all(
        key is r.key for key, r in zip(result, items, strict=True)
    ):
        return result  # one bulk read of them all, answered in their order: as is
    return {r.key: result[r.key] for r in items}
