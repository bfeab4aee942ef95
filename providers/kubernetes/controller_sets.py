"""ApplicationSets and the Applications they own, for ``gitwave controller``
(engine.controller.set_loop.SetApi and finalizers.FinalizerApi): mixed into
``KubeControllerApi``, which holds the clients and the watches."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes.client.exceptions import ApiException

from gitwave.engine.api import ARGO_KIND, AppObject

ARGO_SETS = ("argoproj.io", "v1alpha1", "applicationsets")
SET_KIND = "ApplicationSet"
_APPS = ("argoproj.io", "v1alpha1", "applications")
_CLUSTER_SECRETS = "argocd.argoproj.io/secret-type=cluster"


def _meta(item: Mapping[str, Any]) -> Mapping[str, Any]:
    found = item.get("metadata") or {}
    return found if isinstance(found, Mapping) else {}


def app_object(kind: str, item: Mapping[str, Any]) -> AppObject:
    meta = _meta(item)
    return AppObject(
        kind=kind,
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        generation=int(meta.get("generation") or 0),
        body=item,
    )


class SetObjects:
    """The ApplicationSet side of the controller's cluster API."""

    _custom: Any
    _core: Any
    _namespace: str

    def _watched(self, kind: str) -> list[dict[str, Any]] | None:
        raise NotImplementedError

    def _listed(self, coordinates: tuple[str, str, str], namespace: str = "") -> list[Any]:
        group, version, plural = coordinates
        try:
            if namespace:
                found = self._custom.list_namespaced_custom_object(
                    group, version, namespace, plural
                )
            else:
                found = self._custom.list_cluster_custom_object(group, version, plural)
        except ApiException as error:
            if error.status == 404:  # the CRD is not installed
                return []
            raise
        return list(found.get("items", []))

    def list_app_sets(self) -> list[AppObject]:
        """Every ApplicationSet not being deleted (its Applications go with it, by
        their ownerReference, through the garbage collector)."""
        items = self._watched(SET_KIND)
        if items is None:
            items = self._listed(ARGO_SETS)
        return [app_object(SET_KIND, i) for i in items if not _meta(i).get("deletionTimestamp")]

    def list_cluster_secrets(self) -> list[Mapping[str, Any]]:
        """Argo CD cluster Secrets in the controller's namespace, as plain objects."""
        listed = self._core.list_namespaced_secret(self._namespace, label_selector=_CLUSTER_SECRETS)
        plain = self._core.api_client.sanitize_for_serialization(listed)
        return [dict(i, apiVersion="v1", kind="Secret") for i in plain.get("items", [])]

    def _all_apps(self, namespace: str = "") -> list[Mapping[str, Any]]:
        items = self._watched(ARGO_KIND)
        if items is None:
            return self._listed(_APPS, namespace)
        return [i for i in items if not namespace or _meta(i).get("namespace") == namespace]

    def list_namespace_apps(self, namespace: str) -> list[Mapping[str, Any]]:
        return self._all_apps(namespace)

    def create_app(self, body: Mapping[str, Any]) -> None:
        group, version, plural = _APPS
        namespace = str(_meta(body).get("namespace", ""))
        self._custom.create_namespaced_custom_object(group, version, namespace, plural, dict(body))

    def replace_app(self, body: Mapping[str, Any]) -> None:
        group, version, plural = _APPS
        meta = _meta(body)
        self._custom.replace_namespaced_custom_object(
            group, version, str(meta["namespace"]), plural, str(meta["name"]), dict(body)
        )

    def delete_app(self, namespace: str, name: str) -> None:
        group, version, plural = _APPS
        try:
            self._custom.delete_namespaced_custom_object(group, version, namespace, plural, name)
        except ApiException as error:
            if error.status != 404:
                raise

    def list_deleting_apps(self) -> list[AppObject]:
        """The Applications being deleted that still carry a finalizer."""
        return [
            app_object(ARGO_KIND, i)
            for i in self._all_apps()
            if _meta(i).get("deletionTimestamp") and _meta(i).get("finalizers")
        ]

    def remove_finalizer(self, obj: AppObject, finalizer: str) -> None:
        group, version, plural = _APPS
        meta = _meta(obj.body)
        kept = [f for f in meta.get("finalizers") or [] if f != finalizer]
        # The resourceVersion makes the merge patch conditional: a finalizer
        # another controller added meanwhile is not dropped (409, next pass).
        patch = {"metadata": {"finalizers": kept, "resourceVersion": meta.get("resourceVersion")}}
        try:
            self._custom.patch_namespaced_custom_object(
                group, version, obj.namespace, plural, obj.name, patch
            )
        except ApiException as error:
            if error.status not in (404, 409):
                raise


__all__ = ["ARGO_SETS", "SET_KIND", "SetObjects", "app_object"]
