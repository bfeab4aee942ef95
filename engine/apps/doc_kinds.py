"""What kind of app document or rendered object this is, apart from the modules
that parse or expand it: the loader asks these of every document and object,
and imports ApplicationSet generators, HelmRelease expansion (charts, OCI
pulls) or ArtifactGenerators only when one is met."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gitwave.engine.apps.model import ARGO_GROUP, FLUX_SOURCE_GROUP
from gitwave.engine.model import Resource

if TYPE_CHECKING:
    from gitwave.engine.render import Rendered

__all__ = [
    "EXTENSIONS_GROUP",
    "HELM_GROUP",
    "has_helm_releases",
    "is_app_set",
    "is_artifact_generator",
    "is_flux_source",
    "is_helm_release",
    "is_helm_source",
]

HELM_GROUP = "helm.toolkit.fluxcd.io"
EXTENSIONS_GROUP = "source.extensions.fluxcd.io"
_SOURCE_KINDS = ("HelmRepository", "OCIRepository", "HelmChart", "GitRepository")


def is_app_set(doc: Any) -> bool:
    """True for an argoproj.io ``ApplicationSet`` document."""
    return (
        isinstance(doc, Mapping)
        and str(doc.get("apiVersion", "")).rpartition("/")[0] == ARGO_GROUP
        and doc.get("kind") == "ApplicationSet"
    )


def is_artifact_generator(value: Any) -> bool:
    """True for a Flux ``ArtifactGenerator`` document."""
    return (
        isinstance(value, dict)
        and str(value.get("apiVersion", "")).rpartition("/")[0] == EXTENSIONS_GROUP
        and value.get("kind") == "ArtifactGenerator"
    )


def is_helm_release(resource: Resource) -> bool:
    """True for a Flux ``HelmRelease``."""
    return resource.key.group == HELM_GROUP and resource.key.kind == "HelmRelease"


def is_helm_source(resource: Resource) -> bool:
    """True for a Flux source of Helm charts: HelmRepository, OCIRepository, HelmChart."""
    return resource.key.group == FLUX_SOURCE_GROUP and resource.key.kind in (
        "HelmRepository",
        "OCIRepository",
        "HelmChart",
    )


def has_helm_releases(rendered: Rendered) -> bool:
    """True when ``rendered`` holds a HelmRelease (or a Flux Helm source) to expand."""
    return any(is_helm_release(r) or is_helm_source(r) for r in rendered.resources)


def is_flux_source(resource: Resource) -> bool:
    """A source a HelmRelease may name: HelmRepository, OCIRepository, HelmChart, GitRepository."""
    return resource.key.group == FLUX_SOURCE_GROUP and resource.key.kind in _SOURCE_KINDS
