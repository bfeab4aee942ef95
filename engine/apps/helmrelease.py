"""Flux ``HelmRelease`` (helm.toolkit.fluxcd.io/v2) → the objects its chart renders to.

gitwave plays helm-controller: a HelmRelease in an app's render is replaced by
what ``helm template`` makes of its chart, with the flags Flux's Helm SDK sets
(release name ``[targetNamespace-]name``, the release namespace,
``--kube-version`` of the target, the target's API versions), the chart's
CRDs applied per ``install.crds`` on the first install and ``upgrade.crds``
after it (``model.InstallGate``, decided by the plan), its
``postRenderers`` (Kustomize patches and images) applied by the real
Kustomize, and helm-controller's origin labels (``helmrelease_post``). The chart comes from the
source the HelmRelease names in the same render: a ``HelmRepository`` (HTTP
index or ``type: oci``), an ``OCIRepository`` (``chartRef``), a ``HelmChart``
(``chartRef``) or a ``GitRepository`` (a chart directory in it). Those source
objects are read, never applied (as the Kustomizations of a bootstrap tree).

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
import hashlib
import posixpath
import re
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from gitwave.engine.apps.doc_kinds import has_helm_releases, is_flux_source
from gitwave.engine.apps.doc_kinds import is_helm_release as _is_release
from gitwave.engine.apps.doc_kinds import is_helm_source as _is_helm_source
from gitwave.engine.apps.fields import Reader
from gitwave.engine.apps.flux import parse_git_repository
from gitwave.engine.apps.helmrelease_post import (
    HELM_GROUP,
    LABEL_NAME,
    LABEL_NAMESPACE,
    labelled,
    post_render,
)
from gitwave.engine.apps.helmrelease_values import release_values
from gitwave.engine.apps.holder import Holder
from gitwave.engine.apps.model import FLUX_SOURCE_GROUP, AppSource
from gitwave.engine.errors import RenderError, ValidationError
from gitwave.engine.kube_versions import current_version
from gitwave.engine.model import (
    ANNOTATION_DEPENDS_ON,
    ApplyMode,
    InstallGate,
    Resource,
    ResourceKey,
    SourceRef,
)
from gitwave.engine.names import HELM_RELEASE_MAX
from gitwave.engine.render import Rendered, RenderOptions
from gitwave.engine.render.capabilities import target_api_versions
from gitwave.engine.render.charts import ChartRef, FetchedChart, chart_cache_dir, fetch_chart
from gitwave.engine.render.directory import Doc
from gitwave.engine.render.helm import ChartRender, fetched_chart_docs
from gitwave.engine.render.postbuild import ObjectReader
from gitwave.engine.render.resources import to_resources
from gitwave.engine.render.values import HelmReleaseInfo
from gitwave.engine.source import (
    Checkout,
    allowed_local_repos,
    check_local_repo,
    open_source,
    redact_url,
    safe_join,
)
from gitwave.engine.source_oci import OciArtifactRef, pull_artifact
from gitwave.engine.tls_trust import TlsTrust

_SOURCE_KINDS = ("HelmRepository", "OCIRepository", "HelmChart", "GitRepository")
_CRD_POLICIES = ("Skip", "Create", "CreateReplace")
_HELM_HOOK = "helm.sh/hook"
# The layer of a chart pushed by ``helm push``.
HELM_CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"


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
        checkout,
        source,
        read,
        cache_dir,
        sources,
        kube_version or current_version(),
        known_sources,
        {r.key: r for r in rendered.resources if r.key.group == "" and r.key.kind == "Secret"},
    )
    parsed = [_parse_release(r) for r in releases]
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


@dataclass(frozen=True)
class _Release:
    resource: Resource
    where: str
    name: str
    namespace: str  # of the HelmRelease object
    release_name: str
    release_namespace: str
    chart: Mapping[str, Any]  # spec.chart.spec, or {} with chart_ref
    chart_ref: Mapping[str, Any]
    values: Mapping[str, Any]
    values_from: tuple[Mapping[str, Any], ...]
    create_namespace: bool
    install_crds: ApplyMode
    upgrade_crds: ApplyMode
    depends_on: tuple[tuple[str, str], ...]
    post_renderers: tuple[Mapping[str, Any], ...]


def _parse_release(resource: Resource) -> _Release:
    name, namespace = resource.key.name, resource.key.namespace
    where = f"HelmRelease/{namespace}/{name} ({resource.source})"
    reader = Reader(where)
    doc = resource.manifest
    spec = reader.mapping(doc, "spec", required=True)
    chart = reader.mapping(spec, "spec.chart")
    chart_ref = reader.mapping(spec, "spec.chartRef")
    if bool(chart) == bool(chart_ref):
        reader.fail("set exactly one of spec.chart and spec.chartRef")
    chart_spec = reader.mapping(chart, "spec.chart.spec", required=bool(chart))
    target_namespace = reader.dns_name(
        reader.string(spec, "spec.targetNamespace"), "spec.targetNamespace"
    )
    release_name = reader.string(spec, "spec.releaseName")
    if release_name:
        release_name = reader.dns_name(
            release_name, "spec.releaseName", max_len=HELM_RELEASE_MAX, dots=True
        )
    else:
        release_name = _default_release_name(name, target_namespace)
    install = reader.mapping(spec, "spec.install")
    upgrade = reader.mapping(spec, "spec.upgrade")
    crds = {}
    for field_name, block in (("install", install), ("upgrade", upgrade)):
        policy = reader.string(block, f"spec.{field_name}.crds")
        if policy and policy not in _CRD_POLICIES:
            known = ", ".join(_CRD_POLICIES)
            reader.fail(f"spec.{field_name}.crds: {policy!r} is not one of {known}")
        crds[field_name] = policy
    depends_on = tuple(
        (
            reader.string(dep, f"spec.dependsOn[{i}].name", required=True),
            reader.string(dep, f"spec.dependsOn[{i}].namespace") or namespace,
        )
        for i, dep in enumerate(reader.mappings(spec, "spec.dependsOn"))
    )
    values_from = tuple(reader.mappings(spec, "spec.valuesFrom"))
    for i, entry in enumerate(values_from):
        kind = reader.string(entry, f"spec.valuesFrom[{i}].kind", required=True)
        if kind not in ("ConfigMap", "Secret"):
            reader.fail(f"spec.valuesFrom[{i}].kind: {kind!r} is not ConfigMap or Secret")
        reader.string(entry, f"spec.valuesFrom[{i}].name", required=True)
    post_renderers = tuple(reader.mappings(spec, "spec.postRenderers"))
    for i, entry in enumerate(post_renderers):
        if set(entry) - {"kustomize"}:
            reader.fail(f"spec.postRenderers[{i}]: only kustomize post-renderers are supported")
    return _Release(
        resource=resource,
        where=where,
        name=name,
        namespace=namespace,
        release_name=release_name,
        release_namespace=target_namespace or namespace,
        chart=chart_spec,
        chart_ref=chart_ref,
        values=reader.mapping(spec, "spec.values"),
        values_from=values_from,
        create_namespace=reader.boolean(install, "spec.install.createNamespace"),
        # Flux's defaults: CRDs are created on install, left alone on upgrade.
        install_crds=ApplyMode(crds["install"] or "Create"),
        upgrade_crds=ApplyMode(crds["upgrade"] or "Skip"),
        depends_on=depends_on,
        post_renderers=post_renderers,
    )


# A document helm read from a chart's (or a sub-chart's) ``crds/`` directory, as
# ``fetched_chart_docs`` names it: ``name-version/[charts/sub/]crds/file.yaml``.
_CRDS_DIRECTORY = re.compile(r"^[^/]+/(?:charts/[^/]+/)*crds/")


def _gated(resource: Resource, release: _Release) -> Resource:
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


def _chart_directory(root: Path, where: str, subject: str) -> Path:
    """The chart in an artifact ``root``: Chart.yaml at the root, the only chart
    directory one level down, or the only packaged chart (unpacked beside it)."""
    if (root / "Chart.yaml").is_file():
        return root
    charts = sorted(p.parent for p in root.glob("*/Chart.yaml") if p.is_file())
    packages = sorted(p for p in root.glob("*.tgz") if p.is_file())
    if len(charts) == 1 and not packages:
        return charts[0]
    if len(packages) == 1 and not charts:
        return _unpacked(packages[0], where, subject)
    raise RenderError(
        SourceRef(where),
        f"spec.chartRef: {subject} holds no single chart (a Chart.yaml at its root, "
        "one chart directory or one .tgz)",
    )


def _unpacked(package: Path, where: str, subject: str) -> Path:
    """``package`` unpacked once next to the artifact store (content-named, so
    reused); the ``data`` filter keeps every member inside the target."""
    digest = hashlib.sha256(package.read_bytes()).hexdigest()
    target = package.parent.parent / f"unpacked-{digest}"
    if not target.is_dir():
        tmp = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=package.parent.parent))
        try:
            with tarfile.open(package, "r:gz") as archive:
                archive.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise RenderError(
                SourceRef(where), f"spec.chartRef: {subject}: {package.name} is no chart: {exc}"
            ) from None
        try:
            tmp.rename(target)
        except OSError:  # another process unpacked the same package first
            shutil.rmtree(tmp, ignore_errors=True)
    charts = sorted(p.parent for p in target.glob("*/Chart.yaml") if p.is_file())
    if len(charts) != 1:
        raise RenderError(
            SourceRef(where), f"spec.chartRef: {subject}: {package.name} holds no single chart"
        )
    return charts[0]


def _default_release_name(name: str, target_namespace: str) -> str:
    """Flux's default: ``[targetNamespace-]name``, shortened with a digest past 53 characters."""
    full = f"{target_namespace}-{name}" if target_namespace else name
    if len(full) <= HELM_RELEASE_MAX:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:12]
    return f"{full[: HELM_RELEASE_MAX - 13].rstrip('-.')}-{digest}"


@dataclass(frozen=True)
class _Context:
    checkout: Checkout
    source: AppSource
    read: ObjectReader | None
    cache_dir: Path | None
    sources: Mapping[tuple[str, str, str], Resource]
    kube_version: str
    known_sources: SourceLookup | None
    # The render's Secrets: a source's certSecretRef names one beside it.
    secrets: Mapping[ResourceKey, Resource] = field(default_factory=dict)

    def render(
        self, release: _Release
    ) -> tuple[tuple[Resource, ...], ResourceKey | None, FetchedChart]:
        """The objects ``release`` renders to, the GitRepository it used (if one)
        and the chart."""
        chart, root, git_key = self._chart(release)
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

    # --- the chart ---------------------------------------------------------

    def _chart(self, release: _Release) -> tuple[FetchedChart, Path | None, ResourceKey | None]:
        reader = Reader(release.where)
        if release.chart_ref:
            kind = reader.string(release.chart_ref, "spec.chartRef.kind", required=True)
            name = reader.string(release.chart_ref, "spec.chartRef.name", required=True)
            namespace = reader.string(release.chart_ref, "spec.chartRef.namespace")
            if kind == "ExternalArtifact":
                return self._artifact_chart(name, namespace or release.namespace, release)
            ref = self._source(reader, kind, name, namespace or release.namespace, "spec.chartRef")
            if kind == "OCIRepository":
                return self._oci_repository(ref, release), None, None
            if kind == "HelmChart":
                spec = Reader(ref.where).mapping(ref.manifest, "spec", required=True)
                return self._chart_from_spec(spec, ref.where, ref.key.namespace, release)
            reader.fail(
                f"spec.chartRef.kind: {kind!r} is not OCIRepository, HelmChart or ExternalArtifact"
            )
        return self._chart_from_spec(release.chart, release.where, release.namespace, release)

    def _chart_from_spec(
        self, spec: Mapping[str, Any], where: str, namespace: str, release: _Release
    ) -> tuple[FetchedChart, Path | None, ResourceKey | None]:
        """A ``spec.chart.spec`` (or a HelmChart's spec): chart, version, sourceRef."""
        reader = Reader(where)
        chart = reader.string(spec, "spec.chart.spec.chart", required=True)
        version = reader.string(spec, "spec.chart.spec.version") or "*"
        ref = reader.mapping(spec, "spec.chart.spec.sourceRef", required=True)
        kind = reader.string(ref, "spec.chart.spec.sourceRef.kind", required=True)
        source = self._source(
            reader,
            kind,
            reader.string(ref, "spec.chart.spec.sourceRef.name", required=True),
            reader.string(ref, "spec.chart.spec.sourceRef.namespace") or namespace,
            "spec.chart.spec.sourceRef",
        )
        source_reader = Reader(source.where)
        source_spec = source_reader.mapping(source.manifest, "spec", required=True)
        if kind == "HelmRepository":
            url = source_reader.string(source_spec, "spec.url", required=True)
            if source_reader.string(source_spec, "spec.type") == "oci" and not url.startswith(
                "oci://"
            ):
                source_reader.fail(f"spec.url: {url!r} must start with oci:// for type oci")
            fetched = fetch_chart(
                ChartRef(
                    url,
                    chart,
                    version,
                    where=release.where,
                    insecure=source_reader.boolean(source_spec, "spec.insecure"),
                    tls=self._tls(source_reader, source_spec, source),
                ),
                cache_dir=self.cache_dir,
            )
            return fetched, None, None
        if kind == "GitRepository":
            return self._git_chart(source, chart, release)
        reader.fail(
            f"spec.chart.spec.sourceRef.kind: {kind!r} is not HelmRepository or GitRepository"
        )

    def _artifact_chart(
        self, name: str, namespace: str, release: _Release
    ) -> tuple[FetchedChart, Path | None, ResourceKey | None]:
        """The chart an ArtifactGenerator's ExternalArtifact holds: a chart directory
        at its root (or the only one below it), or a packaged chart (.tgz)."""
        book = self.known_sources
        found = book.artifact(namespace, name) if isinstance(book, SourceBook) else None
        if found is None:
            raise ValidationError(
                release.where,
                f"spec.chartRef: ExternalArtifact {namespace}/{name} is not built by an "
                "ArtifactGenerator in what was read",
            )
        root, where = found
        directory = _chart_directory(root, release.where, f"ExternalArtifact {namespace}/{name}")
        meta = yaml.safe_load((directory / "Chart.yaml").read_text(encoding="utf-8")) or {}
        fetched = FetchedChart(
            directory=directory,
            name=str(meta.get("name", directory.name)),
            version=str(meta.get("version", "")),
            # The artifact's directory is named by its content digest.
            digest=root.name,
            url=where,
        )
        # A packaged chart is unpacked outside the artifact: its own parent is its root.
        return fetched, (root if directory.is_relative_to(root) else None), None

    def _oci_repository(self, source: Resource, release: _Release) -> FetchedChart:
        reader = Reader(source.where)
        spec = reader.mapping(source.manifest, "spec", required=True)
        url = reader.string(spec, "spec.url", required=True)
        if not url.startswith("oci://"):
            reader.fail(f"spec.url: {url!r} is not an oci:// URL")
        ref = reader.mapping(spec, "spec.ref")
        digest = reader.string(ref, "spec.ref.digest")
        if digest:
            # A digest pins the manifest: pulled over the registry API (``helm pull``
            # takes versions), its chart layer checked against its digest.
            subject = f"OCIRepository/{source.key.namespace}/{source.key.name}"
            pulled = pull_artifact(
                OciArtifactRef(
                    url,
                    digest=digest,
                    insecure=reader.boolean(spec, "spec.insecure"),
                    media_type=HELM_CHART_LAYER,
                    tls=self._tls(reader, spec, source),
                ),
                subject=f"{subject} ({source.source})",
                cache_dir=(self.cache_dir or chart_cache_dir()) / "oci-layers",
            )
            directory = _chart_directory(pulled.directory, release.where, subject)
            meta = yaml.safe_load((directory / "Chart.yaml").read_text(encoding="utf-8")) or {}
            return FetchedChart(
                directory=directory,
                name=str(meta.get("name", directory.name)),
                version=str(meta.get("version", "")),
                digest=digest.removeprefix("sha256:"),
                url=redact_url(url),
            )
        version = reader.string(ref, "spec.ref.semver") or reader.string(ref, "spec.ref.tag")
        repository, _, name = url.rstrip("/").rpartition("/")
        return fetch_chart(
            ChartRef(
                repository,
                name,
                version,
                where=release.where,
                insecure=reader.boolean(spec, "spec.insecure"),
                tls=self._tls(reader, spec, source),
            ),
            cache_dir=self.cache_dir,
        )

    def _git_chart(
        self, source: Resource, chart: str, release: _Release
    ) -> tuple[FetchedChart, Path, ResourceKey]:
        holder = Holder.for_source(self.checkout, self.source)
        git = parse_git_repository(source.manifest, source.where, holder.resolve)
        fetch_from, fetch_revision = holder.resolve(git.url, git.revision, git.where, "spec.url")
        allowed = (Path(holder.fetch_from).resolve(), *allowed_local_repos())
        check_local_repo(fetch_from, allowed=allowed, subject=release.where)
        checkout = (
            self.checkout
            if fetch_from == holder.fetch_from and fetch_revision == holder.fetch_revision
            else open_source(fetch_from, revision=fetch_revision, cache_dir=None)
        )
        directory = safe_join(checkout.root, posixpath.normpath(chart.lstrip("/")))
        if not (directory / "Chart.yaml").is_file():
            raise RenderError(
                SourceRef(release.where),
                f"spec.chart.spec.chart: {chart!r} is no chart directory (no Chart.yaml) in "
                f"GitRepository/{source.key.namespace}/{source.key.name}",
            )
        meta = yaml.safe_load((directory / "Chart.yaml").read_text(encoding="utf-8")) or {}
        fetched = FetchedChart(
            directory=directory,
            name=str(meta.get("name", directory.name)),
            version=str(meta.get("version", "")),
            digest=checkout.revision,
            url=git.url,
        )
        return fetched, checkout.root, source.key

    def _tls(self, reader: Reader, spec: Mapping[str, Any], source: Resource) -> TlsTrust | None:
        """The CA (and client certificate) the source's certSecretRef names, from
        a Secret of this render in the source's namespace."""
        from gitwave.engine.apps.cert_secret import cert_secret_trust

        return cert_secret_trust(reader, spec, self.secrets.get, source.key.namespace)

    def _source(
        self, reader: Reader, kind: str, name: str, namespace: str, field_name: str
    ) -> Resource:
        found = self.sources.get((kind, namespace, name))
        if found is None and self.known_sources is not None:
            found = self.known_sources(ResourceKey(FLUX_SOURCE_GROUP, kind, namespace, name))
        if found is None:
            reader.fail(f"{field_name}: {kind}/{namespace}/{name} is not defined in what was read")
        return found


def _with_dependencies(
    resource: Resource,
    parsed: Sequence[_Release],
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


# Finds a Flux source object defined elsewhere in what was loaded (None: nowhere).
SourceLookup = Callable[[ResourceKey], Resource | None]


class SourceBook:
    """The Flux source objects of one load, for HelmReleases that name a source
    another Kustomization defines (Flux looks sources up cluster-wide).

    ``known`` are those read while loading; ``more`` renders the other apps
    when a source is not among them, once, only when a HelmRelease asks.
    Not part of an app's identity (``AppSpec.flux_sources``)."""

    def __init__(
        self,
        known: Iterable[Resource],
        more: Callable[[], Iterable[Resource]] | None = None,
        artifacts: Mapping[tuple[str, str], tuple[Path, str]] | None = None,
    ) -> None:
        self._known = {r.key: r for r in known if is_flux_source(r)}
        self._more = more
        self._lock = threading.Lock()
        # (namespace, name) -> (directory, where): the ExternalArtifacts the load's
        # ArtifactGenerators built. Only those: an ExternalArtifact object read from
        # Git names no directory gitwave may trust.
        self._artifacts = dict(artifacts or {})

    def artifact(self, namespace: str, name: str) -> tuple[Path, str] | None:
        """The built ExternalArtifact ``namespace/name``: its directory and ``file:line``."""
        return self._artifacts.get((namespace, name))

    def __call__(self, key: ResourceKey) -> Resource | None:
        with self._lock:
            if key not in self._known and self._more is not None:
                more, self._more = self._more, None
                for resource in more():
                    if is_flux_source(resource):
                        self._known.setdefault(resource.key, resource)
            return self._known.get(key)


__all__ = [
    "HELM_GROUP",
    "SourceBook",
    "SourceLookup",
    "expand_helm_releases",
    "has_helm_releases",
    "is_flux_source",
]
