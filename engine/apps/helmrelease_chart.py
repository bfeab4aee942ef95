"""Where a Flux ``HelmRelease``'s chart comes from: the source it names in the
same render or elsewhere in what was loaded (``SourceBook``) — a
``HelmRepository`` (HTTP index or ``type: oci``), an ``OCIRepository``, a
``HelmChart``, a ``GitRepository`` (a chart directory in it) or an
``ExternalArtifact`` an ArtifactGenerator built. Those source objects are
read, never applied. A chart that cannot be fetched raises RenderError naming
the release and the URL.
"""

from __future__ import annotations

import hashlib
import posixpath
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gitwave.engine.apps.doc_kinds import is_flux_source
from gitwave.engine.apps.fields import Reader
from gitwave.engine.apps.flux import parse_git_repository
from gitwave.engine.apps.helmrelease_spec import ReleaseSpec
from gitwave.engine.apps.holder import Holder
from gitwave.engine.apps.model import FLUX_SOURCE_GROUP, AppSource
from gitwave.engine.errors import RenderError, ValidationError
from gitwave.engine.model import Resource, ResourceKey, SourceRef
from gitwave.engine.render.charts import ChartRef, FetchedChart, chart_cache_dir, fetch_chart
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

# The layer of a chart pushed by ``helm push``.
HELM_CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

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


def chart_directory(root: Path, where: str, subject: str) -> Path:
    """The chart in an artifact ``root``: Chart.yaml at the root, the only chart
    directory one level down, or the only packaged chart (unpacked beside it)."""
    if (root / "Chart.yaml").is_file():
        return root
    charts = sorted(p.parent for p in root.glob("*/Chart.yaml") if p.is_file())
    packages = sorted(p for p in root.glob("*.tgz") if p.is_file())
    if len(charts) == 1 and not packages:
        return charts[0]
    if len(packages) == 1 and not charts:
        return unpacked(packages[0], where, subject)
    raise RenderError(
        SourceRef(where),
        f"spec.chartRef: {subject} holds no single chart (a Chart.yaml at its root, "
        "one chart directory or one .tgz)",
    )


def unpacked(package: Path, where: str, subject: str) -> Path:
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


@dataclass(frozen=True)
class ChartSourcing:
    """The chart of a release, from the sources of one render (and the load's)."""

    checkout: Checkout
    source: AppSource
    cache_dir: Path | None
    sources: Mapping[tuple[str, str, str], Resource]
    known_sources: SourceLookup | None
    # The render's Secrets: a source's certSecretRef names one beside it.
    secrets: Mapping[ResourceKey, Resource] = field(default_factory=dict)

    def chart(self, release: ReleaseSpec) -> tuple[FetchedChart, Path | None, ResourceKey | None]:
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
        self, spec: Mapping[str, Any], where: str, namespace: str, release: ReleaseSpec
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
        self, name: str, namespace: str, release: ReleaseSpec
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
        directory = chart_directory(root, release.where, f"ExternalArtifact {namespace}/{name}")
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

    def _oci_repository(self, source: Resource, release: ReleaseSpec) -> FetchedChart:
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
            directory = chart_directory(pulled.directory, release.where, subject)
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
        self, source: Resource, chart: str, release: ReleaseSpec
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


__all__ = ["HELM_CHART_LAYER", "ChartSourcing", "SourceBook", "SourceLookup"]
