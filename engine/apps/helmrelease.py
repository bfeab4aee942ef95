"""Flux ``HelmRelease`` (helm.toolkit.fluxcd.io/v2) → the objects its chart renders to.

gitwave plays helm-controller: a HelmRelease in an app's render is replaced by
what ``helm template`` makes of its chart, with the flags Flux's Helm SDK sets
(release name ``[targetNamespace-]name``, the release namespace,
``--kube-version`` of the target, the target's API versions), the chart's
CRDs applied per ``install.crds`` on the first install and ``upgrade.crds``
after it (``model.InstallGate``, decided by the plan), its
``postRenderers`` (Kustomize patches and images) applied by the real
Kustomize, its ``commonMetadata``, test hooks (``spec.test``) and
``driftDetection.ignore`` rules, and helm-controller's origin labels
(``helmrelease_post``). The spec is read and checked by
``helmrelease_spec`` (every field honoured or refused); the chart comes from
the source the HelmRelease names (``helmrelease_chart``): a
``HelmRepository`` (HTTP index or ``type: oci``), an ``OCIRepository``
(``chartRef``), a ``HelmChart`` (``chartRef``) or a ``GitRepository`` (a
chart directory in it). Those source objects are read, never applied (as the
Kustomizations of a bootstrap tree).

Values are merged as Flux merges them: each ``valuesFrom`` entry in order
(a ConfigMap or Secret key read from the target, ``targetPath`` setting one
value, ``optional`` allowing absence), then ``spec.values``
(``helmrelease_values``). A value read from
a Secret is masked in every diff, event and error (``Resource.masked_values``).
A chart that cannot be fetched fails the whole render, naming the URL: never
an empty render, so nothing of the release is pruned.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from gitwave.engine.apps.doc_kinds import has_helm_releases, is_flux_source
from gitwave.engine.apps.doc_kinds import is_helm_release as _is_release
from gitwave.engine.apps.doc_kinds import is_helm_source as _is_helm_source
from gitwave.engine.apps.helmrelease_chart import (
    HELM_CHART_LAYER,
    ChartSourcing,
    SourceBook,
    SourceLookup,
)
from gitwave.engine.apps.helmrelease_post import (
    HELM_GROUP,
    LABEL_NAME,
    LABEL_NAMESPACE,
    labelled,
    post_render,
    release_fields,
)
from gitwave.engine.apps.helmrelease_spec import ReleaseSpec, parse_release
from gitwave.engine.apps.helmrelease_values import release_values
from gitwave.engine.apps.model import FLUX_SOURCE_GROUP, AppSource
from gitwave.engine.errors import RenderError, ValidationError
from gitwave.engine.kube_versions import current_version
from gitwave.engine.model import (
    ANNOTATION_DEPENDS_ON,
    InstallGate,
    Resource,
    ResourceKey,
    SourceRef,
)
from gitwave.engine.render import Rendered, RenderOptions
from gitwave.engine.render.capabilities import target_api_versions
from gitwave.engine.render.charts import FetchedChart
from gitwave.engine.render.directory import Doc
from gitwave.engine.render.helm import ChartRender, fetched_chart_docs
from gitwave.engine.render.postbuild import ObjectReader
from gitwave.engine.render.resources import to_resources
from gitwave.engine.render.values import HelmReleaseInfo
from gitwave.engine.source import Checkout

_SOURCE_KINDS = ("HelmRepository", "OCIRepository", "HelmChart", "GitRepository")
_HELM_HOOK = "helm.sh/hook"


def expand_helm_releases(
    rendered: Rendered,
    *,
    checkout: Checkout,
    source: AppSource,
    read: ObjectReader | None,
    cache_dir: Path | None = None,
    kube_version: str = "",
    known_sources: SourceLookup | None = None,
) -> Rendered:
    """``rendered`` with each HelmRelease replaced by its chart's objects and the
    Flux Helm sources (HelmRepository, OCIRepository, HelmChart, and the
    GitRepositories a release uses) left out.

    ``checkout``/``source`` are the app's (a GitRepository ``.`` or naming this
    repository is this checkout); ``read`` reads valuesFrom objects from the
    target (None: none can be read, so a required one is missing);
    ``kube_version`` the target's release (``1.33``; "": ``kube_versions``'s);
    ``known_sources`` finds the Flux sources defined elsewhere in what was
    loaded (those of the render win). Raises
    RenderError naming the HelmRelease and URL when a chart cannot be fetched
    or rendered, ValidationError for a malformed HelmRelease.
    """
    sources = {
        (r.key.kind, r.key.namespace, r.key.name): r
        for r in rendered.resources
        if r.key.group == FLUX_SOURCE_GROUP and r.key.kind in _SOURCE_KINDS
    }
    releases = [r for r in rendered.resources if _is_release(r)]
    context = _Context(
        checkout=checkout,
        source=source,
        cache_dir=cache_dir,
        sources=sources,
        known_sources=known_sources,
        secrets={
            r.key: r for r in rendered.resources if r.key.group == "" and r.key.kind == "Secret"
        },
        read=read,
        kube_version=kube_version or current_version(),
    )
    parsed = [parse_release(r) for r in releases]
    objects: dict[ResourceKey, tuple[Resource, ...]] = {}
    used_git: set[ResourceKey] = set()
    infos: list[HelmReleaseInfo] = []
    for release in parsed:
        made, git_source, chart = context.render(release)
        objects[release.resource.key] = made
        if git_source is not None:
            used_git.add(git_source)
        infos.append(
            HelmReleaseInfo(
                key=release.resource.key,
                release_name=release.release_name,
                release_namespace=release.release_namespace,
                chart=chart.name,
                version=chart.version,
                objects=tuple(r.key for r in made),
            )
        )
    kept: list[Resource] = []
    for resource in rendered.resources:
        if _is_helm_source(resource) or resource.key in used_git:
            continue
        if _is_release(resource):
            kept.extend(_with_dependencies(resource, parsed, objects))
            continue
        kept.append(resource)
    seen: dict[ResourceKey, Resource] = {}
    for resource in kept:
        first = seen.get(resource.key)
        if first is not None and not (
            resource.key.kind == "Namespace" and resource.manifest == first.manifest
        ):
            raise RenderError(
                resource.source or SourceRef(rendered.path),
                f"{resource.key.display} is defined twice: at {first.source} and at "
                f"{resource.source}",
                hint="two HelmReleases (or a release and a file) render the same object",
            )
        seen.setdefault(resource.key, resource)
    return replace(
        rendered,
        resources=tuple(seen.values()),
        helm_releases=(*rendered.helm_releases, *infos),
    )


# A document helm read from a chart's (or a sub-chart's) ``crds/`` directory, as
# ``fetched_chart_docs`` names it: ``name-version/[charts/sub/]crds/file.yaml``.
_CRDS_DIRECTORY = re.compile(r"^[^/]+/(?:charts/[^/]+/)*crds/")


def _gated(resource: Resource, release: ReleaseSpec) -> Resource:
    """A CRD from the chart's ``crds/`` directory, applied as ``install.crds``
    says on the release's first install and as ``upgrade.crds`` says later
    (Helm and Flux leave CRDs in templates/ to the templates' rules)."""
    if (
        resource.key.kind != "CustomResourceDefinition"
        or resource.source is None
        or not _CRDS_DIRECTORY.match(resource.source.file)
    ):
        return resource
    gate = InstallGate(
        labels=((LABEL_NAME, release.name), (LABEL_NAMESPACE, release.namespace)),
        on_install=release.install_crds,
        on_upgrade=release.upgrade_crds,
        subject=f"HelmRelease/{release.namespace}/{release.name}",
    )
    return replace(resource, install_gate=gate)


@dataclass(frozen=True)
class _Context(ChartSourcing):
    read: ObjectReader | None = None
    kube_version: str = ""

    def render(
        self, release: ReleaseSpec
    ) -> tuple[tuple[Resource, ...], ResourceKey | None, FetchedChart]:
        """The objects ``release`` renders to, the GitRepository it used (if one)
        and the chart."""
        chart, root, git_key = self.chart(release)
        values, secret_values = release_values(
            values=release.values,
            values_from=release.values_from,
            read=self.read,
            namespace=release.namespace,
            where=release.where,
        )
        how = ChartRender(
            release_name=release.release_name,
            namespace=release.release_namespace,
            values_files=chart_values_files(release, chart.directory),
            skip_schema_validation=release.skip_schema_validation,
            values_texts=(yaml.safe_dump(values, sort_keys=False),) if values else (),
            # Always rendered: a skipped CRD stays desired, so it is never pruned;
            # the plan applies each as the release's install/upgrade policy says.
            include_crds=True,
            kube_version=f"v{self.kube_version}.0",
            api_versions=target_api_versions(),
            redact=frozenset(secret_values),
        )
        docs = fetched_chart_docs(chart, how, where=release.where, root=root)
        docs = post_render(docs, release.post_renderers, release.where)
        docs = [
            release_fields(
                doc,
                labels=release.common_labels,
                annotations=release.common_annotations,
                test=release.test,
                drift_ignore=release.drift_ignore,
            )
            for doc in docs
        ]
        docs = [labelled(doc, release.name, release.namespace) for doc in docs]
        options = RenderOptions(default_namespace=release.release_namespace)
        resources = [_gated(r, release) for r in to_resources(docs, options)]
        if release.create_namespace and not any(
            r.key.kind == "Namespace" and r.key.name == release.release_namespace for r in resources
        ):
            namespace_doc = Doc(
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": release.release_namespace},
                },
                release.resource.source or SourceRef(release.where),
            )
            resources[:0] = to_resources([namespace_doc], options)
        if secret_values:
            masked = tuple(sorted(secret_values))
            resources = [
                replace(r, masked_values=tuple(sorted(set(r.masked_values) | set(masked))))
                if any(v in yaml.safe_dump(r.manifest) for v in masked)
                else r
                for r in resources
            ]
        return tuple(resources), git_key, chart


def chart_values_files(release: ReleaseSpec, chart: Path) -> tuple[Path, ...]:
    """``spec.chart.spec.valuesFiles`` in the chart directory ``chart``, in
    order; one missing is skipped with ``ignoreMissingValuesFiles``, else a
    ValidationError naming it (as is one that leaves the chart by a symlink)."""
    found = []
    top = chart.resolve()
    for i, name in enumerate(release.values_files):
        path = (chart / name).resolve()
        if not path.is_relative_to(top):
            raise ValidationError(
                release.where, f"spec.chart.spec.valuesFiles[{i}]: {name!r} leaves the chart"
            )
        if not path.is_file():
            if release.ignore_missing_values_files:
                continue
            raise ValidationError(
                release.where,
                f"spec.chart.spec.valuesFiles[{i}]: the chart has no file {name!r}",
                hint="fix the path, or set spec.chart.spec.ignoreMissingValuesFiles: true",
            )
        found.append(path)
    return tuple(found)


def _with_dependencies(
    resource: Resource,
    parsed: Sequence[ReleaseSpec],
    objects: Mapping[ResourceKey, tuple[Resource, ...]],
) -> list[Resource]:
    """The objects of the release ``resource``, each non-hook one depending on the
    non-hook objects of the releases its ``dependsOn`` names in this render
    (Flux installs a release once its dependencies are ready)."""
    release = next(r for r in parsed if r.resource.key == resource.key)
    made = list(objects[resource.key])
    if not release.depends_on:
        return made
    targets: list[str] = []
    for name, namespace in release.depends_on:
        key = ResourceKey(HELM_GROUP, "HelmRelease", namespace, name)
        if key not in objects:
            raise ValidationError(
                release.where,
                f"spec.dependsOn: HelmRelease/{namespace}/{name} is not in this app",
                hint="gitwave orders HelmReleases of one app; put both in the same directory",
            )
        targets.extend(_reference(r.key) for r in objects[key] if not _is_hook(r))
    if not targets:
        return made
    out = []
    for r in made:
        if _is_hook(r) or r.key.kind in ("Namespace", "CustomResourceDefinition"):
            out.append(r)
            continue
        manifest = copy.deepcopy(dict(r.manifest))
        annotations = manifest["metadata"].setdefault("annotations", {})
        existing = annotations.get(ANNOTATION_DEPENDS_ON)
        annotations[ANNOTATION_DEPENDS_ON] = ", ".join(
            ([existing] if isinstance(existing, str) and existing else []) + targets
        )
        out.append(replace(r, manifest=manifest))
    return out


def _reference(key: ResourceKey) -> str:
    kind = f"{key.kind}.{key.group}" if key.group else key.kind
    return f"{kind}/{key.namespace}/{key.name}" if key.namespace else f"{kind}/{key.name}"


def _is_hook(resource: Resource) -> bool:
    return _HELM_HOOK in resource.annotations or "argocd.argoproj.io/hook" in resource.annotations


__all__ = [
    "HELM_CHART_LAYER",
    "HELM_GROUP",
    "SourceBook",
    "SourceLookup",
    "expand_helm_releases",
    "has_helm_releases",
    "is_flux_source",
]
