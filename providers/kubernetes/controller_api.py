"""The management cluster for ``gitwave controller`` (engine.controller.ControllerApi).

Applications and Kustomizations are read with the dynamic CustomObjects API,
status goes through the status subresource (a merge patch, as Argo CD and
Flux write theirs), and Leases are written with their resourceVersion so two
replicas racing for one Lease cannot both win (HTTP 409 for the loser).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from gitwave.engine.api import (
    ARGO_KIND,
    FLUX_KIND,
    HELM_KIND,
    REFRESH,
    REPORTING_CONTROLLER,
    AppObject,
    OperationEvent,
)

from .cache import Informer
from .config import load_client
from .controller_plain import PlainJson
from .controller_release_secrets import ReleaseSecretsMixin
from .controller_sets import ARGO_SETS, SET_KIND, SetObjects
from .discovery import ResourceType
from .transport import Transport

ARGO = ("argoproj.io", "v1alpha1", "applications")
FLUX_KUSTOMIZATION = ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations")
FLUX_GIT = ("source.toolkit.fluxcd.io", "v1", "gitrepositories")
ARGO_PROJECTS = ("argoproj.io", "v1alpha1", "appprojects")
FLUX_HELM = ("helm.toolkit.fluxcd.io", "v2", "helmreleases")
_KINDS = ((ARGO_KIND, ARGO), (FLUX_KIND, FLUX_KUSTOMIZATION), (HELM_KIND, FLUX_HELM))
# The sources a HelmRelease may name, read from the cluster (GitRepository above).
_HELM_SOURCES = (
    ("HelmRepository", ("source.toolkit.fluxcd.io", "v1", "helmrepositories")),
    ("OCIRepository", ("source.toolkit.fluxcd.io", "v1", "ocirepositories")),
)
_WATCHED = (
    *_KINDS,
    ("GitRepository", FLUX_GIT),
    ("AppProject", ARGO_PROJECTS),
    (SET_KIND, ARGO_SETS),
    *_HELM_SOURCES,
)
# A watched kind whose CRD is absent is taken as empty for this long, then
# asked again: a Flux-only cluster has no Argo CD CRDs, and listing them on
# every pass (three 404s) cost a replica more than a sync's status write.
ABSENT_RECHECK_S = 30.0
# Where each kind the controller writes the status of lives.
_COORDINATES = {
    ARGO_KIND: ARGO,
    FLUX_KIND: FLUX_KUSTOMIZATION,
    HELM_KIND: FLUX_HELM,
    SET_KIND: ARGO_SETS,
}


def _deleting(item: Mapping[str, Any]) -> bool:
    return bool((item.get("metadata") or {}).get("deletionTimestamp"))


def _app_object(kind: str, item: Mapping[str, Any]) -> AppObject:
    meta = item.get("metadata") or {}
    return AppObject(
        kind=kind,
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        generation=int(meta.get("generation") or 0),
        body=item,
    )


class KubeControllerApi(SetObjects, PlainJson, ReleaseSecretsMixin):
    """ControllerApi over the official client; Leases live in ``namespace``."""

    def __init__(self, api_client: Any, *, namespace: str) -> None:
        self.api_client = api_client
        self._custom = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)
        self._namespace = namespace
        # kind → the list+watch of that kind (start_watching); empty: list each time.
        self._informers: dict[str, Informer] = {}
        self._changed = threading.Event()
        self._transport: Transport | None = None  # the watches'
        self._watch_lock = threading.Lock()
        self._gone_since: dict[str, float] = {}  # kind → when its CRD was found absent
        self._plain_lock = threading.Lock()
        self._plain: Transport | None = None  # PlainJson._http, made on first use

    def start_watching(self) -> None:
        """Keep Applications, Kustomizations and GitRepositories in memory from one
        list+watch each (providers.kubernetes.cache), instead of listing them on
        every pass; ``wait_for_change`` then wakes the loop on each change."""
        for kind, coordinates in _WATCHED:
            self._start_informer(kind, coordinates)

    def _start_informer(self, kind: str, coordinates: tuple[str, str, str]) -> Informer:
        if self._transport is None:
            self._transport = Transport(self.api_client, target="gitwave-controller")
        group, version, plural = coordinates
        rtype = ResourceType(group, version, kind, plural, True, frozenset({"list", "watch"}))
        informer = Informer(self._transport, rtype, listener=lambda _t, _o: self._changed.set())
        informer.start()
        self._informers[kind] = informer
        return informer

    def stop_watching(self) -> None:
        with self._watch_lock:  # no absent kind's watch restarted meanwhile
            informers = list(self._informers.values())
            self._informers.clear()
        for informer in informers:
            informer.signal_stop()
        for informer in informers:
            informer.stop(wait=1.0)

    def wait_for_change(self, timeout: float) -> bool:
        """Block until an app object changed (True) or ``timeout`` passed (False)."""
        fired = self._changed.wait(timeout)
        self._changed.clear()
        return fired

    def _watched(self, kind: str) -> list[dict[str, Any]] | None:
        """Every object of ``kind`` from its watch; None when not watched or not
        synced now (the caller lists from the server: never a partial view)."""
        with self._watch_lock:
            informer = self._informers.get(kind)
            if informer is not None and informer.gone:
                # Its CRD is not installed (the server does not serve the type):
                # none of it, without asking on every pass; asked again (a new
                # watch) after ABSENT_RECHECK_S, so a CRD installed later is seen.
                now = time.monotonic()
                since = self._gone_since.setdefault(kind, now)
                if now - since < ABSENT_RECHECK_S:
                    return []
                del self._gone_since[kind]
                informer = self._start_informer(kind, dict(_WATCHED)[kind])
        if informer is None or not informer.wait_ready(5.0):
            return None
        return informer.items()

    @classmethod
    def connect(
        cls,
        *,
        context: str | None,
        kubeconfig: str | None,
        namespace: str,
        in_cluster: bool,
        allow_exec_plugins: bool = False,
    ) -> KubeControllerApi:
        """In-cluster config (the pod's ServiceAccount) or a kubeconfig context."""
        if in_cluster:
            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)
            return cls(client.ApiClient(configuration), namespace=namespace)
        connection = load_client(
            context=context, kubeconfig=kubeconfig, allow_exec_plugins=allow_exec_plugins
        )
        return cls(connection.api_client, namespace=namespace)

    def list_apps(self, namespace: str = "") -> list[AppObject]:
        """Every Application and Kustomization (in ``namespace`` only, when given)."""
        found: list[AppObject] = []
        for kind, (group, version, plural) in _KINDS:
            watched = None if namespace else self._watched(kind)
            if watched is not None:
                found += [_app_object(kind, item) for item in watched if not _deleting(item)]
                continue
            try:
                if namespace:
                    listed = self._custom.list_namespaced_custom_object(
                        group, version, namespace, plural
                    )
                else:
                    listed = self._custom.list_cluster_custom_object(group, version, plural)
            except ApiException as error:
                if error.status == 404:  # that tool's CRD is not installed
                    continue
                raise
            found += [
                _app_object(kind, item) for item in listed.get("items", []) if not _deleting(item)
            ]
        return found

    def get_app(self, kind: str, namespace: str, name: str) -> AppObject | None:
        """One Application or Kustomization as it is now; None when there is none."""
        group, version, plural = _COORDINATES[kind]
        try:
            item = self._custom.get_namespaced_custom_object(
                group, version, namespace, plural, name
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return _app_object(kind, item)

    def patch_app(self, obj: AppObject, patch: Mapping[str, Any]) -> None:
        """A merge patch to the object itself (never its status): what a client asks."""
        group, version, plural = self._coordinates(obj)
        # A dict body goes as a JSON merge patch (null deletes a field).
        self._custom.patch_namespaced_custom_object(
            group, version, obj.namespace, plural, obj.name, dict(patch)
        )

    def list_git_repositories(self) -> list[Mapping[str, Any]]:
        watched = self._watched("GitRepository")
        if watched is not None:
            return list(watched)
        group, version, plural = FLUX_GIT
        try:
            listed = self._custom.list_cluster_custom_object(group, version, plural)
        except ApiException as error:
            if error.status == 404:
                return []
            raise
        return list(listed.get("items", []))

    def list_helm_sources(self) -> list[Mapping[str, Any]]:
        """Every HelmRepository, OCIRepository and GitRepository (a kind whose CRD is
        not installed: none of it)."""
        found: list[Mapping[str, Any]] = [
            dict(item, kind="GitRepository") for item in self.list_git_repositories()
        ]
        for kind, coordinates in _HELM_SOURCES:
            items = self._watched(kind)
            if items is None:
                items = self._listed(coordinates)
            found += [dict(item, kind=kind) for item in items]
        return found

    def list_app_projects(self) -> list[Mapping[str, Any]]:
        """The AppProjects of the controller's namespace (Argo CD reads its own)."""
        watched = self._watched("AppProject")
        if watched is not None:
            return [
                item
                for item in watched
                if (item.get("metadata") or {}).get("namespace") == self._namespace
            ]
        group, version, plural = ARGO_PROJECTS
        try:
            listed = self._custom.list_namespaced_custom_object(
                group, version, self._namespace, plural
            )
        except ApiException as error:
            if error.status == 404:
                return []
            raise
        return list(listed.get("items", []))

    def _coordinates(self, obj: AppObject) -> tuple[str, str, str]:
        return _COORDINATES[obj.kind]

    def write_status(self, obj: AppObject, status: Mapping[str, Any]) -> None:
        group, version, plural = self._coordinates(obj)
        self._custom.patch_namespaced_custom_object_status(
            group, version, obj.namespace, plural, obj.name, {"status": dict(status)}
        )

    def clear_operation(self, obj: AppObject) -> None:
        group, version, plural = self._coordinates(obj)
        # A merge patch with null deletes the field, as Argo CD clears it after running it.
        self._custom.patch_namespaced_custom_object(
            group, version, obj.namespace, plural, obj.name, {"operation": None}
        )

    def clear_refresh(self, obj: AppObject) -> str:
        group, version, plural = self._coordinates(obj)
        # Only that key, null: the other annotations and fields are left as they are now.
        patched = self._custom.patch_namespaced_custom_object(
            group,
            version,
            obj.namespace,
            plural,
            obj.name,
            {"metadata": {"annotations": {REFRESH: None}}},
        )
        meta = patched.get("metadata") if isinstance(patched, Mapping) else None
        return str((meta or {}).get("resourceVersion", "") or "")

    def record_event(self, obj: AppObject, event: OperationEvent) -> None:
        """A core/v1 Event on the app object, as Argo CD and Flux record theirs."""
        api_version = "/".join(self._coordinates(obj)[:2])
        meta = obj.body.get("metadata") or {}
        now = datetime.now(UTC)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                # Unique per Event, as client-go's recorder names them.
                "name": f"{obj.name}.{int(now.timestamp() * 1e6):x}{secrets.token_hex(2)}",
                "namespace": obj.namespace,
                "annotations": event.annotations,
            },
            "involvedObject": {
                "apiVersion": api_version,
                "kind": obj.kind,
                "namespace": obj.namespace,
                "name": obj.name,
                "uid": str(meta.get("uid", "")),
            },
            "reason": event.reason,
            "message": event.message,
            "type": "Warning" if event.warning else "Normal",
            "source": {"component": "gitwave-controller", "host": event.replica},
            "reportingComponent": REPORTING_CONTROLLER,
            "reportingInstance": event.replica,
            "action": "Sync",
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "count": 1,
        }
        # Plain JSON both ways: the client would build a CoreV1Event model of the
        # answer (dateutil for each timestamp), twice per sync.
        self._http().request("POST", f"/api/v1/namespaces/{obj.namespace}/events", body=body)

    def list_events(self, obj: AppObject) -> list[Mapping[str, Any]]:
        """The Events about ``obj`` this controller recorded, oldest first."""
        selector = f"involvedObject.name={obj.name},involvedObject.kind={obj.kind}"
        _, listed = self._http().request(
            "GET",
            f"/api/v1/namespaces/{obj.namespace}/events",
            query=[("fieldSelector", selector)],
        )
        items = [
            item
            for item in (listed or {}).get("items") or []
            if item.get("reportingComponent") == REPORTING_CONTROLLER
        ]
        return sorted(items, key=lambda item: str(item.get("eventTime") or ""))

    def load_config_map(self, name: str) -> tuple[dict[str, str], str] | None:
        try:
            found = self._core.read_namespaced_config_map(name, self._namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return dict(found.data or {}), str(found.metadata.resource_version or "")

    def save_config_map(
        self, name: str, data: Mapping[str, str], *, version: str | None, labels: Mapping[str, str]
    ) -> bool:
        body = client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=name, labels=dict(labels), resource_version=version),
            data=dict(data),
        )
        try:
            if version is None:
                self._core.create_namespaced_config_map(self._namespace, body)
            else:
                self._core.replace_namespaced_config_map(name, self._namespace, body)
        except ApiException as error:
            if error.status in (409, 404):
                return False
            raise
        return True


__all__ = ["KubeControllerApi"]
