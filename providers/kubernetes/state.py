"""What the Kubernetes provider's verbs share: the connection, discovery, the
informers and change log, the inventory of types each app uses, and the reads
and error mapping every verb needs (which served type a key is, GET one
object, the typed error for a refused request)."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from gitwave.engine.api import redact
from gitwave.engine.errors import ConflictError, ProviderError
from gitwave.engine.model import LABEL_APP, Manifest, ResourceKey

from .cache import InformerSet
from .changes import ChangeLog
from .discovery import Discovery, ResourceType
from .transport import HttpError, Transport

CRD = ("apiextensions.k8s.io", "CustomResourceDefinition")

# A lookup miss of an observe refreshes discovery at most this often.
_OBSERVE_REFRESH_S = 1.0


def rv_of(manifest: Mapping[str, Any] | None) -> str:
    if not manifest:
        return ""
    return str((manifest.get("metadata") or {}).get("resourceVersion") or "")


def app_label(manifest: Mapping[str, Any]) -> str:
    labels = (manifest.get("metadata") or {}).get("labels")
    return str(labels.get(LABEL_APP) or "") if isinstance(labels, Mapping) else ""


def with_hint(error: ProviderError, hint: str) -> ProviderError:
    error.hint = hint
    return error


class ClusterState:
    """One cluster as the verbs see it. Thread-safe: ``lock`` guards the
    inventory, the scan times and the CRDs applied."""

    def __init__(
        self,
        *,
        name: str,
        transport: Transport,
        discovery: Discovery,
        informers: InformerSet,
        changes: ChangeLog,
        cache_wait_s: float,
        rescan_s: float,
    ) -> None:
        self.name = name
        self.transport = transport
        self.discovery = discovery
        self.informers = informers
        self.changes = changes
        self.cache_wait_s = cache_wait_s
        self.rescan_s = rescan_s
        self.lock = threading.Lock()
        # app → the (group, kind) pairs it has objects of (applied or found by a scan).
        self.inventory: dict[str, set[tuple[str, str]]] = {}
        self.scanned_at: dict[str, float] = {}
        # When the last scan of the whole cluster for app labels started;
        # scan_lock lets one scan run at a time (see observe._scan).
        self.cluster_scanned_at: float | None = None
        self.scan_lock = threading.Lock()
        # (group, kind) of custom resources whose CRD this provider applied, and when.
        self.crds_applied: dict[tuple[str, str], float] = {}
        # (when it was read, ``major.minor``) of the server's /version.
        self.version: tuple[float, str] | None = None

    def writing_through(self, transport: Transport, *, name: str) -> ClusterState:
        """This state with writes through ``transport`` (another identity), sharing
        discovery, caches, inventory and lock: one cluster, one view of it."""
        twin = copy.copy(self)
        twin.transport = transport
        twin.name = name
        return twin

    def type_of(self, key: ResourceKey) -> ResourceType | None:
        """The served type of ``key`` (preferred version), None when no object
        with that key can exist (kind not served, or scope does not fit)."""
        rtype = self.discovery.preferred(key.group, key.kind)
        if rtype is None:
            self.discovery.refresh_if_older(time.monotonic() - _OBSERVE_REFRESH_S)
            rtype = self.discovery.preferred(key.group, key.kind)
        if rtype is None or rtype.namespaced != bool(key.namespace):
            return None
        return rtype

    def get(self, rtype: ResourceType, key: ResourceKey) -> Manifest | None:
        """GET one object; None when it does not exist."""
        try:
            _, obj = self.transport.request("GET", rtype.object_path(key.namespace, key.name))
        except HttpError as exc:
            if exc.is_not_found:
                if exc.is_unknown_path:
                    self.discovery.invalidate()  # the type went away
                return None
            raise self.refused(key, exc, ()) from None
        if not isinstance(obj, dict):
            raise ProviderError(key, f"{self.name} answered a GET with {type(obj).__name__}")
        obj.setdefault("apiVersion", rtype.api_version)
        obj.setdefault("kind", rtype.kind)
        return obj

    def refused(self, key: ResourceKey, exc: HttpError, secrets: Sequence[str]) -> ProviderError:
        """The typed error for an HTTP error about ``key``. Secret values that the
        server echoed (an invalid label value, say) are masked."""
        message = redact(exc.message, secrets) if secrets else exc.message
        if exc.status == 409:
            return ConflictError(key, message)
        if exc.is_unknown_path:
            self.discovery.invalidate()
            return ProviderError(key, f"{self.name} does not serve this kind any more ({message})")
        if exc.status == 404 and (exc.status_body.get("details") or {}).get("kind") == "namespaces":
            return with_hint(
                ProviderError(key, f"{message} on {self.name}"),
                f"add a Namespace {key.namespace!r} to the repository (gitwave applies it "
                "before what is in it), or enable CreateNamespace",
            )
        if exc.status == 401:
            return with_hint(
                ProviderError(key, f"{self.name} rejected the credentials: {message}"),
                "the kubeconfig's token or certificate expired or is wrong",
            )
        if exc.status == 403:
            return ProviderError(key, f"forbidden on {self.name}: {message}")
        if exc.status == 429:
            return ProviderError(
                key,
                f"{self.name} is throttling requests (HTTP 429, API Priority and Fairness): "
                f"{message}",
                retriable=True,
                retry_after_s=exc.retry_after_s,
            )
        retriable = exc.status >= 500
        return ProviderError(
            key,
            f"{self.name} refused it: {message}",
            retriable=retriable,
            retry_after_s=exc.retry_after_s if retriable else 0.0,
        )
