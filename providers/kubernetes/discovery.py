"""Discovery: which kinds the API server serves, under which resource names and scope.

Reads the aggregated discovery documents (``/api`` and ``/apis`` with
``apidiscovery.k8s.io/v2``: two requests for the whole cluster) and falls back
to the per-group-version documents of older servers. The result is cached
until a CustomResourceDefinition changes (``invalidate``) or a lookup misses
(``refresh_if_older``): a kind that is not served is looked up once more on a
fresh copy before anyone calls it unknown, as kubectl does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from gitwave.engine.errors import ProviderError

from .transport import HttpError, Transport

_AGGREGATED = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
    "application/json"
)


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One served resource: ``apps/v1`` ``Deployment`` at ``deployments``, namespaced."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: frozenset[str]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def display(self) -> str:
        """``deployments.apps/v1`` — as error messages name a type."""
        return f"{self.plural}.{self.group}/{self.version}" if self.group else self.plural

    def _prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def collection_path(self, namespace: str = "") -> str:
        """The list URL: in ``namespace``, or across all namespaces when empty."""
        if self.namespaced and namespace:
            return f"{self._prefix()}/namespaces/{quote(namespace, safe='')}/{self.plural}"
        return f"{self._prefix()}/{self.plural}"

    def object_path(self, namespace: str, name: str) -> str:
        return f"{self.collection_path(namespace)}/{quote(name, safe='')}"

    @property
    def listable(self) -> bool:
        return {"list", "watch"} <= self.verbs


@dataclass(frozen=True, slots=True)
class _Snapshot:
    by_gvk: Mapping[tuple[str, str, str], ResourceType]
    # (group, kind) → the type in the group's most preferred version serving that kind.
    preferred: Mapping[tuple[str, str], ResourceType]


class Discovery:
    """The served resource types of one cluster, fetched lazily. Thread-safe."""

    def __init__(self, transport: Transport, *, aggregated: bool = True) -> None:
        self._transport = transport
        self._aggregated = aggregated
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._fetched_at = float("-inf")
        self._stale = False

    def lookup(self, group: str, version: str, kind: str) -> ResourceType | None:
        """The type serving ``kind`` at ``group/version``; None when not served."""
        return self._current().by_gvk.get((group, version, kind))

    def preferred(self, group: str, kind: str) -> ResourceType | None:
        """``kind`` in the preferred version of ``group`` that serves it; None when not served."""
        return self._current().preferred.get((group, kind))

    def listable(self) -> list[ResourceType]:
        """Every preferred-version type that can be listed and watched, sorted."""
        types = {t for t in self._current().preferred.values() if t.listable}
        return sorted(types, key=lambda t: (t.group, t.kind))

    def served(self) -> tuple[ResourceType, ...]:
        """Every served type, every version (not only the preferred ones)."""
        return tuple(self._current().by_gvk.values())

    def invalidate(self) -> None:
        """The next lookup fetches discovery again (a CRD was applied or deleted)."""
        with self._lock:
            self._stale = True

    def refresh_if_older(self, since: float) -> None:
        """Fetch again unless a fetch started at or after ``since`` (time.monotonic)."""
        with self._lock:
            if self._fetched_at >= since and not self._stale:
                return
            self._fetch_locked()

    @property
    def fetched_at(self) -> float:
        return self._fetched_at

    def _current(self) -> _Snapshot:
        with self._lock:
            if self._snapshot is None or self._stale:
                self._fetch_locked()
            assert self._snapshot is not None
            return self._snapshot

    def _fetch_locked(self) -> None:
        started = time.monotonic()
        try:
            types = self._fetch_aggregated() if self._aggregated else None
            if types is None:
                types = self._fetch_legacy()
        except HttpError as exc:
            raise ProviderError(
                None,
                f"{self._transport.target}: discovery of the served kinds failed: {exc}",
                retriable=exc.status == 429 or exc.status >= 500,
            ) from None
        by_gvk: dict[tuple[str, str, str], ResourceType] = {}
        preferred: dict[tuple[str, str], ResourceType] = {}
        for rtype in types:  # in preference order within each group
            by_gvk.setdefault((rtype.group, rtype.version, rtype.kind), rtype)
            preferred.setdefault((rtype.group, rtype.kind), rtype)
        self._snapshot = _Snapshot(by_gvk, preferred)
        self._fetched_at = started
        self._stale = False

    # ------------------------------------------------------------ aggregated (v2)

    def _fetch_aggregated(self) -> list[ResourceType] | None:
        types: list[ResourceType] = []
        for path in ("/api", "/apis"):
            _, doc = self._transport.request("GET", path, accept=_AGGREGATED)
            if not isinstance(doc, dict) or doc.get("kind") != "APIGroupDiscoveryList":
                return None  # an older server: it answered with the legacy document
            for group_doc in doc.get("items") or []:
                group = str((group_doc.get("metadata") or {}).get("name") or "")
                for version_doc in group_doc.get("versions") or []:
                    version = str(version_doc.get("version") or "")
                    types.extend(_aggregated_types(group, version, version_doc))
        return types

    # ------------------------------------------------------------ legacy

    def _fetch_legacy(self) -> list[ResourceType]:
        versions: list[tuple[str, str]] = []
        _, core = self._transport.request("GET", "/api")
        versions += [("", str(v)) for v in (core or {}).get("versions") or []]
        _, groups = self._transport.request("GET", "/apis")
        for group_doc in (groups or {}).get("groups") or []:
            name = str(group_doc.get("name") or "")
            preferred = str((group_doc.get("preferredVersion") or {}).get("version") or "")
            listed = [str(v.get("version")) for v in group_doc.get("versions") or []]
            ordered = [preferred] if preferred in listed else []
            versions += [(name, v) for v in ordered + [v for v in listed if v != preferred]]
        types: list[ResourceType] = []
        for group, version in versions:
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            try:
                _, doc = self._transport.request("GET", path)
            except HttpError as exc:
                if exc.status in (404, 503):  # an aggregated API that is down
                    continue
                raise
            types.extend(_legacy_types(group, version, (doc or {}).get("resources") or []))
        return types


def _aggregated_types(group: str, version: str, doc: Mapping[str, Any]) -> Iterable[ResourceType]:
    for resource in doc.get("resources") or []:
        kind = str((resource.get("responseKind") or {}).get("kind") or "")
        plural = str(resource.get("resource") or "")
        if kind and plural:
            yield ResourceType(
                group,
                version,
                kind,
                plural,
                resource.get("scope") == "Namespaced",
                frozenset(str(v) for v in resource.get("verbs") or []),
            )


def _legacy_types(group: str, version: str, resources: Iterable[Any]) -> Iterable[ResourceType]:
    for resource in resources:
        plural = str(resource.get("name") or "")
        kind = str(resource.get("kind") or "")
        if kind and plural and "/" not in plural:  # "deployments/scale" is a subresource
            yield ResourceType(
                group,
                version,
                kind,
                plural,
                bool(resource.get("namespaced")),
                frozenset(str(v) for v in resource.get("verbs") or []),
            )
