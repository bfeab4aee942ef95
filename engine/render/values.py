"""The render stage's values: which tool renders a path, the options, and the result."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gitwave.engine.model import Resource, ResourceKey

if TYPE_CHECKING:
    # An annotation only: the sops module (and its key handling, PyYAML) loads
    # when an app decrypts, not with every render value.
    from gitwave.engine.render.sops import Decryption

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


class RenderTool(enum.StrEnum):
    """How a directory is rendered (compares equal to its string value)."""

    DIRECTORY = "directory"
    KUSTOMIZE = "kustomize"
    HELM = "helm"

    @staticmethod
    def detect(directory: Path) -> RenderTool:
        """The tool Argo CD would pick for ``directory``."""
        if any((directory / name).is_file() for name in KUSTOMIZATION_FILES):
            return RenderTool.KUSTOMIZE
        if (directory / "Chart.yaml").is_file():
            return RenderTool.HELM
        return RenderTool.DIRECTORY


@dataclass(frozen=True)
class HelmOptions:
    """Argo CD's ``spec.source.helm``: release, namespace, values and ``--set`` parameters.

    ``values_files`` are relative to the chart directory; ``values`` is YAML
    text (Argo's ``valuesObject`` is dumped to text so options stay hashable);
    ``parameters`` and ``string_parameters`` are ``name=value`` strings passed
    as ``--set`` / ``--set-string``. Precedence, lowest first: values files,
    values, parameters — as in Argo CD.
    """

    release_name: str = ""
    namespace: str = ""
    values_files: tuple[str, ...] = ()
    values: str = ""
    parameters: tuple[str, ...] = ()
    string_parameters: tuple[str, ...] = ()
    skip_crds: bool = False


@dataclass(frozen=True)
class ChartSource:
    """A chart from a Helm repository (Argo CD ``spec.source.chart``): the
    repository (``https://…`` index or ``oci://…``), the chart's name and a
    semver constraint for its version (Argo's ``targetRevision``)."""

    repo_url: str
    chart: str
    version: str = ""


@dataclass(frozen=True)
class ValueRepo:
    """An Argo CD multi-source ``ref`` source: the repository that Helm values
    files written ``$name/path`` are read from (``open_source`` arguments)."""

    name: str
    fetch_from: str
    fetch_revision: str | None = None
    repo_url: str = ""  # as written (what an AppProject's sourceRepos is checked against)


@dataclass(frozen=True)
class RenderOptions:
    """How to render an app path.

    ``kustomize_images`` are Argo's ``kustomize.images`` (``nginx:1.27``,
    ``nginx=repo/nginx:1.27``, ``nginx@sha256:…``). ``default_namespace`` fills
    in a missing namespace on namespaced objects (Argo's destination
    namespace); ``target_namespace`` overrides it on every namespaced object
    (Flux's ``targetNamespace``). ``directory_include``/``directory_exclude``
    are Argo's directory globs, matched against the path relative to the app
    directory (``{a,b}`` alternatives allowed). ``decryption`` is Flux's
    ``spec.decryption``, recorded only: encrypted files are decrypted whether
    or not it is set.
    """

    kustomize_images: tuple[str, ...] = ()
    helm: HelmOptions | None = None
    directory_recurse: bool = True
    directory_include: str = ""
    directory_exclude: str = ""
    default_namespace: str = ""
    target_namespace: str = ""
    decryption: Decryption | None = None
    # Argo CD: a chart from a Helm repository instead of a path, and the ``ref``
    # sources of a multi-source app (``$name/values.yaml`` values files).
    chart: ChartSource | None = None
    value_repos: tuple[ValueRepo, ...] = ()
    # Argo CD multi-source: the other sources that render manifests (their
    # objects are added to this one's).
    more_sources: tuple[MoreSource, ...] = ()


@dataclass(frozen=True)
class MoreSource:
    """Another rendering source of an Argo CD multi-source app: where it is
    (``open_source`` arguments, or a chart in ``options.chart``), its path,
    its repoURL as written, and how it renders."""

    repo_url: str
    fetch_from: str
    fetch_revision: str | None
    path: str
    options: RenderOptions


@dataclass(frozen=True)
class HelmReleaseInfo:
    """A Flux HelmRelease gitwave rendered in helm-controller's place: the
    release object, the Helm release it makes, the chart it used and the
    objects it rendered (what ``gitwave status`` reports as the release)."""

    key: ResourceKey
    release_name: str
    release_namespace: str
    chart: str
    version: str
    objects: tuple[ResourceKey, ...]


@dataclass(frozen=True)
class Rendered:
    """The objects one app path renders to, at one revision.

    ``path`` is repo-relative (``"."`` for the root); ``revision`` is the
    checkout's commit ("" for a plain directory), ``<sha>+dirty`` for a work
    tree with uncommitted edits. ``encrypted`` holds the objects read from
    SOPS-encrypted files (or built by Kustomize from their values only): what
    the plaintext-Secret check (``engine.policy``) lets pass.
    """

    resources: tuple[Resource, ...]
    revision: str
    path: str
    tool: RenderTool
    encrypted: frozenset[ResourceKey] = frozenset()
    helm_releases: tuple[HelmReleaseInfo, ...] = ()

    def __len__(self) -> int:
        return len(self.resources)


__all__ = [
    "KUSTOMIZATION_FILES",
    "ChartSource",
    "HelmOptions",
    "HelmReleaseInfo",
    "MoreSource",
    "RenderOptions",
    "RenderTool",
    "Rendered",
    "ValueRepo",
]
