"""The state of one load of apps (``LoaderBase``): what was found, what failed
alone, the Flux sources and Secrets read so far; the pieces the Flux-tree and
app-of-apps walks share (moved out of ``loader.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from gitwave.engine.apps.app_render import render_whole
from gitwave.engine.apps.broken import BrokenApp
from gitwave.engine.apps.doc_kinds import is_flux_source
from gitwave.engine.apps.files import app_documents
from gitwave.engine.apps.model import AppKind, AppSpec
from gitwave.engine.apps.namespaces import DEFAULT_NAMESPACE, with_default_namespace
from gitwave.engine.apps.project_choice import ProjectBook
from gitwave.engine.apps.resource_kinds import document_resource
from gitwave.engine.clusters import ClusterSource
from gitwave.engine.errors import GitwaveError
from gitwave.engine.model import Resource, ResourceKey
from gitwave.engine.source import check_local_repo, is_remote

if TYPE_CHECKING:
    from gitwave.engine.apps.appset import LoadedSet, SetLoader
    from gitwave.engine.yamlio import Document


def app_identity(app: AppSpec) -> tuple[str, str | None, str]:
    source = app.source
    place = source.fetch_from if is_remote(source.fetch_from) else str(Path(source.fetch_from))
    return (place, source.fetch_revision, source.path)


class LoaderBase:
    """One load: the apps found and, beside them, the ones that failed alone."""

    def __init__(
        self,
        cache_dir: Path | None,
        local_repos: tuple[Path, ...],
        clusters: ClusterSource | None = None,
        default_namespace: str = DEFAULT_NAMESPACE,
    ) -> None:
        self.cache_dir = cache_dir
        self.default_namespace = default_namespace
        self.local_repos = local_repos  # host directories an app's source may be in
        self.broken: list[BrokenApp] = []
        self.location_known = True  # see top_level
        self.projects = ProjectBook()
        self._clusters = clusters
        # Every Kustomization found in a ``flux bootstrap`` tree, read or not.
        self.flux_tree_names: set[str] = set()
        # Every Flux source object read (top-level files, Kustomization renders):
        # a HelmRelease may name one defined in another Kustomization, as in Flux.
        self.flux_sources: dict[ResourceKey, Resource] = {}
        # The ExternalArtifacts ArtifactGenerators built: (namespace, name) ->
        # (directory, file:line), for a HelmRelease's chartRef.
        self.built_artifacts: dict[tuple[str, str], tuple[Path, str]] = {}
        # Buckets and plain Secrets of top-level files: an ArtifactGenerator's
        # Bucket sources and their credentials (never pooled for HelmReleases).
        self.beside: dict[ResourceKey, Resource] = {}

    @cached_property
    def sets(self) -> SetLoader:
        """The ApplicationSet loader, made when the first set is met."""
        from gitwave.engine.apps.appset import CurrentTargetOnly, SetLoader

        return SetLoader(self._clusters or CurrentTargetOnly(), self.local_repos, self.cache_dir)

    def _pool(self, resources: Sequence[Resource]) -> None:
        for resource in resources:
            if is_flux_source(resource):
                self.flux_sources.setdefault(resource.key, resource)

    def _pool_document(self, doc: Document, rel: str) -> None:
        resource = document_resource(doc, rel)
        if resource is not None:
            self._pool([resource])

    def _keep_beside(self, doc: Document, rel: str) -> None:
        """A Bucket or Secret of a top-level file, for an ArtifactGenerator."""
        resource = document_resource(doc, rel)
        if resource is not None:
            self.beside.setdefault(resource.key, resource)

    def _find_source(self, key: ResourceKey) -> Resource | None:
        return self.flux_sources.get(key) or self.beside.get(key)

    def with_sources(self, apps: Sequence[AppSpec]) -> list[AppSpec]:
        """``apps`` (and their children) able to find every Flux source of this
        load: those read already, else (once, when a HelmRelease asks) those the
        other Flux apps render."""
        flux = [a for a in apps for a in a.walk() if a.kind is AppKind.FLUX]
        if not flux and not self.flux_sources and not self.built_artifacts:
            return list(apps)
        cache_dir = self.cache_dir

        def more() -> list[Resource]:
            found: list[Resource] = []
            for app in flux:
                try:
                    found.extend(render_whole(app, cache_dir=cache_dir)[1].resources)
                except GitwaveError:
                    continue  # that app fails on its own; its sources are unknown
            return found

        from gitwave.engine.apps.helmrelease import SourceBook

        book = SourceBook(self.flux_sources.values(), more, self.built_artifacts)

        def give(app: AppSpec) -> AppSpec:
            children = tuple(give(c) for c in app.children)
            if app.kind is not AppKind.FLUX and app.kind is not AppKind.IMPLICIT:
                return replace(app, children=children) if children else app
            return replace(app, children=children, flux_sources=book)

        return [give(a) for a in apps]

    def _fail(self, name: str, error: GitwaveError, spec: AppSpec | None = None) -> None:
        self.broken.append(BrokenApp(name=name, error=error, spec=spec))

    def _set(self, loaded: LoadedSet) -> AppSpec:
        """The set's app; a set some elements of which failed is broken with their
        error (reported, nothing of it taken for removed) yet keeps the others' apps."""
        if loaded.error is not None:
            self._fail(loaded.app.name, loaded.error, loaded.app)
        return loaded.app

    def _documents(self, file: Path, rel: str) -> list[Document]:
        documents, error = app_documents(file, rel)
        if error is not None:
            self._fail(rel, error)  # its apps are unknown: none is synced or pruned
        return documents

    def _namespaced(self, app: AppSpec) -> AppSpec:
        """``app`` with the default destination namespace when it names none: set
        before its first render, so that render and the sync's are one (cached)."""
        return with_default_namespace(app, self.default_namespace)

    def _check_local(self, app: AppSpec, also: tuple[Path, ...] = ()) -> None:
        """ValidationError when a source of ``app`` (its ``ref`` sources too) is a
        host directory outside the allowed ones (and ``also``)."""
        render = app.source.render
        for fetch_from in (
            app.source.fetch_from,
            *(r.fetch_from for r in render.value_repos),
            *(m.fetch_from for m in render.more_sources),
            *(r.fetch_from for m in render.more_sources for r in m.options.value_repos),
        ):
            check_local_repo(fetch_from, allowed=(*self.local_repos, *also), subject=app.where)


__all__ = ["LoaderBase", "app_identity"]
