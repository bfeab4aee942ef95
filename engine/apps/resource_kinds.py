"""What a loaded document or rendered object is, for the loader: Flux's
Kustomizations, sources and own installation, Argo CD's Applications and
ApplicationSets, Secrets (moved out of ``loader.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitwave.engine.apps.model import (
    ARGO_GROUP,
    FLUX_KUSTOMIZE_GROUP,
    FLUX_SOURCE_GROUP,
    AppSpec,
)
from gitwave.engine.apps.namespaces import DEFAULT_NAMESPACE
from gitwave.engine.model import Resource, ResourceKey, SourceRef

if TYPE_CHECKING:
    from gitwave.engine.yamlio import Document


def is_secret_document(value: object) -> bool:
    return (
        isinstance(value, dict)
        and value.get("apiVersion") == "v1"
        and value.get("kind") == "Secret"
    )


def document_resource(doc: Document, rel: str) -> Resource | None:
    value = doc.value
    meta = value.get("metadata") if isinstance(value, dict) else None
    if not isinstance(meta, dict) or not isinstance(value.get("apiVersion"), str):
        return None
    name, namespace = meta.get("name"), meta.get("namespace") or DEFAULT_NAMESPACE
    if not isinstance(name, str) or not isinstance(namespace, str):
        return None
    group = str(value["apiVersion"]).rpartition("/")[0]
    key = ResourceKey(group, str(value.get("kind")), namespace, name)
    return Resource(key, value["apiVersion"], value, SourceRef(rel, doc.line))


HELM_SOURCE_KINDS = ("HelmRepository", "OCIRepository", "HelmChart")
# Where ``flux bootstrap`` writes the root GitRepository and Kustomization of a cluster.
BOOTSTRAP_DIR = "flux-system"
# Flux's own installation (gotk-components.yaml) carries this label.
FLUX_PART_OF = ("app.kubernetes.io/part-of", "flux")


def is_flux_machinery(resource: Resource) -> bool:
    """What a Kustomization of a ``flux bootstrap`` tree renders that gitwave
    does not apply: the Kustomizations, GitRepositories and Buckets (gitwave
    reads them as apps and sources) and Flux's own controllers and CRDs (left to Flux),
    all but their Namespace, which the objects of the tree may live in."""
    if is_flux_kustomization(resource) or is_git_repository(resource) or is_bucket(resource):
        return True
    label, value = FLUX_PART_OF
    if resource.labels.get(label) != value:
        return False
    return not (resource.key.group == "" and resource.key.kind == "Namespace")


def is_flux_kustomization(resource: Resource) -> bool:
    return resource.key.group == FLUX_KUSTOMIZE_GROUP and resource.key.kind == "Kustomization"


def is_git_repository(resource: Resource) -> bool:
    return resource.key.group == FLUX_SOURCE_GROUP and resource.key.kind == "GitRepository"


def is_bucket(resource: Resource) -> bool:
    return resource.key.group == FLUX_SOURCE_GROUP and resource.key.kind == "Bucket"


def same_object(resource: Resource, app: AppSpec) -> bool:
    """The Kustomization's own object in its render (the root applies itself)."""
    return resource.key.name == app.name and resource.key.namespace in (
        app.app_namespace,
        app.app_namespace or "default",
    )


def is_argo_app_resource(resource: Resource) -> bool:
    return resource.key.group == ARGO_GROUP and resource.key.kind == "Application"


def is_app_set_resource(resource: Resource) -> bool:
    return resource.key.group == ARGO_GROUP and resource.key.kind == "ApplicationSet"


__all__ = [
    "BOOTSTRAP_DIR",
    "HELM_SOURCE_KINDS",
    "document_resource",
    "is_app_set_resource",
    "is_argo_app_resource",
    "is_bucket",
    "is_flux_kustomization",
    "is_flux_machinery",
    "is_git_repository",
    "is_secret_document",
    "same_object",
]
