"""Finding apps: ``load_apps`` and ``render_app`` (see the package docstring for the rules).

The holder (``holder.py``) is the repository an app file lives in; it decides
what a repoURL written there resolves to. App of apps: an Argo app is rendered
to find the Applications it holds, and that render is the one ``render_app``
reuses (the render cache, keyed by commit and path, serves the second call).
Each step records its failure on the app it concerns (``BrokenApp``) rather
than stopping the walk.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from gitwave.engine.apps.broken import (
    AppSet,
    BrokenApp,
    definition_name,
    source_ref_kind,
    source_ref_name,
    without_broken_dependencies,
)
from gitwave.engine.apps.doc_kinds import (
    has_helm_releases,
    is_app_set,
    is_artifact_generator,
    is_flux_source,
)
from gitwave.engine.apps.files import app_documents, app_kind, top_level_files
from gitwave.engine.apps.holder import Holder
from gitwave.engine.apps.implicit import implicit_for
from gitwave.engine.apps.model import (
    ARGO_GROUP,
    FLUX_KUSTOMIZE_GROUP,
    FLUX_SOURCE_GROUP,
    MAX_APP_DEPTH,
    AppKind,
    AppSpec,
    Location,
    app_set_scope,
    file_set_scope,
)
from gitwave.engine.apps.namespaces import DEFAULT_NAMESPACE, with_default_namespace
from gitwave.engine.apps.order import check_depends_on, check_unique, order_apps
from gitwave.engine.apps.project_choice import ProjectBook
from gitwave.engine.apps.projects import is_app_project
from gitwave.engine.clusters import ClusterSource
from gitwave.engine.errors import GitwaveError, RenderError, SourceError, ValidationError
from gitwave.engine.model import Resource, ResourceKey, SourceRef
from gitwave.engine.render import Rendered, RenderTool, render, render_chart
from gitwave.engine.source import (
    Checkout,
    allowed_local_repos,
    check_local_repo,
    find_repo_root,
    is_remote,
    local_path,
    normalise_repo_url,
    open_source,
    remote_urls,
)

# What reads Argo CD, Flux, ApplicationSet and ArtifactGenerator documents, and
# expands HelmReleases, charts and postBuild, is imported where one is met: a
# directory of plain manifests (an implicit app) loads none of it.
if TYPE_CHECKING:
    from gitwave.engine.apps.appset import LoadedSet, SetLoader
    from gitwave.engine.apps.artifact_generator import ArtifactGenerator
    from gitwave.engine.apps.flux import FluxSource
    from gitwave.engine.render.postbuild import ObjectReader
    from gitwave.engine.yamlio import Document


def load_apps(
    location: str,
    *,
    revision: str | None = None,
    cache_dir: Path | None = None,
    allow_local_repos: Sequence[str] = (),
    clusters: ClusterSource | None = None,
    default_namespace: str = DEFAULT_NAMESPACE,
) -> tuple[Checkout, list[AppSpec]]:
    """The apps ``location`` (a directory, a repository URL or one file) defines.

    An app whose source is a host directory (a path or ``file://`` URL) is
    accepted only inside the repository of ``location`` or inside one of
    ``allow_local_repos`` or ``$GITWAVE_ALLOW_LOCAL_REPOS``.

    All or nothing: raises the error of the first broken app (see
    ``load_app_set`` for the form where each app fails alone), and
    SourceError/PathEscapeError for an unreadable location. ``clusters`` is
    what ApplicationSet ``clusters`` generators read (default: the current
    target only, as ``in-cluster``). ``default_namespace`` is the destination
    namespace of apps that name none (``namespaces.with_default_namespace``).
    """
    app_set = load_app_set(
        location,
        revision=revision,
        cache_dir=cache_dir,
        allow_local_repos=allow_local_repos,
        clusters=clusters,
        default_namespace=default_namespace,
    )
    error = app_set.first_error()
    if error is not None:
        raise error
    return app_set.checkout, list(app_set.apps)


def load_app_set(
    location: str,
    *,
    revision: str | None = None,
    cache_dir: Path | None = None,
    allow_local_repos: Sequence[str] = (),
    clusters: ClusterSource | None = None,
    default_namespace: str = DEFAULT_NAMESPACE,
) -> AppSet:
    """The apps ``location`` defines, each failing alone (``AppSet``): a malformed
    definition, an app of apps that cannot be rendered or a file that is not YAML
    is a ``BrokenApp`` naming file:line and the field. Raises SourceError when
    the location cannot be read, ValidationError for two apps of one name or a
    dependsOn cycle. An app naming no destination namespace gets
    ``default_namespace`` (``namespaces.with_default_namespace``)."""
    if is_remote(location):
        checkout = open_source(location, revision=revision, cache_dir=cache_dir)
        holder = Holder.remote(checkout, location)
        target = checkout.root
        given_path = local_path(location)  # a file:// URL names a repository on this host
        given_repo: tuple[Path, ...] = (given_path.resolve(),) if given_path else ()
    else:
        given = Path(location)
        if not given.exists():
            raise SourceError(f"{location}: no such file or directory", hint="check the path")
        if not given.is_dir() and not given.is_file():  # /dev/null, a FIFO, a socket
            raise SourceError(
                f"{location}: not a directory or a regular file",
                hint="give a directory, a Git repository or an Application file",
            )
        directory = given.resolve() if given.is_dir() else given.resolve().parent
        top = find_repo_root(directory) or directory
        checkout = open_source(str(directory), revision=revision, cache_dir=cache_dir)
        holder = Holder.local(checkout, top, revision)
        target = checkout.root / os.path.relpath(given.resolve(), top)
        given_repo = (top,)
    loader = _Loader(
        cache_dir,
        (*given_repo, *allowed_local_repos(allow_local_repos)),
        clusters,
        default_namespace,
    )
    apps = loader.with_sources(loader.top_level(holder, target))
    apps = loader.projects.assign(apps, loader.broken)
    identities: dict[str, str] = {}
    broken = tuple(
        replace(b, spec=_identified(b.spec, "", identities)) if b.spec is not None else b
        for b in loader.broken
    )
    if holder.fetch_from not in identities:
        identities[holder.fetch_from] = repository_identity(holder.fetch_from)
    read_at = Location(
        identities[holder.fetch_from],
        checkout.relpath(target),
        is_file=target.is_file(),
        fetch_from=holder.fetch_from,
        fetch_revision=holder.fetch_revision,
    )
    return AppSet(
        checkout=checkout,
        apps=tuple(_identified(app, "", identities) for app in apps),
        broken=broken,
        location=read_at if loader.location_known else None,
    )


def _identified(
    app: AppSpec, parent: str = "", known: dict[str, str] | None = None, set_scope: str = ""
) -> AppSpec:
    """``app`` (and its children) with ``source.repository`` set, part of its
    identity, each child with its parent's owner, and each app an ApplicationSet
    generates with where that set is defined (``set_scope``). ``known`` keeps the
    identities found (a thousand apps of one repository read its remotes once)."""
    known = {} if known is None else known
    fetch_from = app.source.fetch_from
    source = app.source
    if not source.repository:  # set already: an ExternalArtifact (its directory changes)
        if fetch_from not in known:
            known[fetch_from] = repository_identity(fetch_from)
        source = replace(app.source, repository=known[fetch_from])
    identified = replace(app, source=source, parent=parent, set_scope=set_scope)
    owner = identified.owner
    scope = ""
    if app.kind is AppKind.APPSET:
        scope = app_set_scope(parent) if parent else file_set_scope(source.repository, source.path)
    children = tuple(
        _identified(c, f"{owner.app}@{owner.source}", known, scope) for c in app.children
    )
    return replace(identified, children=children)


def repository_identity(fetch_from: str) -> str:
    """A repository in a comparable form: a URL normalised; a local repository
    by its first remote (sorted), so two clones of one repository are one
    source, else by its absolute path."""
    if is_remote(fetch_from) or fetch_from.startswith("oci://"):  # oci://: a Helm registry
        return normalise_repo_url(fetch_from)
    remotes = sorted(normalise_repo_url(url) for url in remote_urls(Path(fetch_from)))
    return remotes[0] if remotes else normalise_repo_url(fetch_from)


def checkout_for(app: AppSpec, *, cache_dir: Path | None = None) -> Checkout:
    """Open (fetch if needed) the source ``app`` renders from, at its revision
    (a chart from a Helm repository: its directory in the chart cache)."""
    if app.source.render.chart is not None:
        from gitwave.engine.render.charts import fetched_chart_checkout

        return fetched_chart_checkout(app.source.render.chart, where=app.where)
    return open_source(
        app.source.fetch_from, revision=app.source.fetch_revision, cache_dir=cache_dir
    )


def render_app(
    app: AppSpec,
    *,
    cache_dir: Path | None = None,
    read: ObjectReader | None = None,
    kube_version: Callable[[], str] | None = None,
) -> Rendered:
    """Render ``app`` from its resolved source; child Applications are left out.
    A Flux app's ``postBuild`` variables are substituted, those of its
    substituteFrom objects read through ``read`` (None: no target, so a
    required one is missing).

    Raises what ``open_source`` and ``render`` raise, and ValidationError for a
    substitution that fails (see ``render.postbuild``). A HelmRelease in the
    render becomes its chart's objects (``helmrelease``), rendered for the
    Kubernetes release ``kube_version()`` names (asked only then; None or "":
    the default release, ``kube_versions``).
    """
    if app.kind is AppKind.APPSET:  # a set holds apps, never objects of its own
        return Rendered(resources=(), revision="", path=app.source.path, tool=RenderTool.DIRECTORY)
    if app.inline:
        checkout = Checkout(root=Path(app.source.path), revision="", dirty=False, url="")
        rendered = Rendered(
            resources=app.inline, revision="", path=app.source.path, tool=RenderTool.DIRECTORY
        )
    else:
        checkout, rendered = _own_objects(app, cache_dir)
    if app.post_build is not None:
        from gitwave.engine.render.postbuild import apply_post_build, variables_for

        variables = variables_for(app.post_build, read)
        rendered = apply_post_build(rendered, app.post_build, variables, app.source.render)
    if has_helm_releases(rendered):
        # gitwave plays helm-controller: each HelmRelease becomes its chart's objects.
        from gitwave.engine.apps.helmrelease import expand_helm_releases

        rendered = expand_helm_releases(
            rendered,
            checkout=checkout,
            source=app.source,
            read=read,
            kube_version=kube_version() if kube_version is not None else "",
            known_sources=app.flux_sources,
        )
    return rendered


def _own_objects(app: AppSpec, cache_dir: Path | None) -> tuple[Checkout, Rendered]:
    checkout, rendered = _render_whole(app, cache_dir=cache_dir)
    # An Argo app's AppProjects are gitwave's to read (like its child Applications), not to
    # apply; its ApplicationSets are read as its children (or fail alone).
    argo = app.kind is AppKind.ARGO
    if app.flux_tree:
        own = tuple(r for r in rendered.resources if not is_flux_machinery(r))
        return checkout, (
            rendered if len(own) == len(rendered.resources) else replace(rendered, resources=own)
        )
    if not app.children and not argo:
        return checkout, rendered
    own = tuple(
        r
        for r in rendered.resources
        if not (app.children and _is_argo_app_resource(r))
        and not (argo and (is_app_project(r.manifest) or _is_app_set_resource(r)))
    )
    return checkout, (
        rendered if len(own) == len(rendered.resources) else replace(rendered, resources=own)
    )


def _render_whole(app: AppSpec, *, cache_dir: Path | None) -> tuple[Checkout, Rendered]:
    """The checkout of ``app``'s source and its render, child Applications included.

    Loading renders every Argo app this way to find its children, and
    ``render_app`` renders it again for the sync: both calls reach ``render``
    with the same checkout, path and options, so for a clean commit the second
    is a hit in render's cache. A work tree with uncommitted edits is rendered
    again on purpose: it may have changed in between (watch mode relies on that).
    """
    if app.source.render.chart is not None:  # Argo CD: a chart from a Helm repository
        checkout, rendered = render_chart(app.source.render, where=app.where)
    else:
        checkout = checkout_for(app, cache_dir=cache_dir)
        rendered = render(checkout, app.source.path, options=app.source.render)
    if app.source.render.more_sources:
        rendered = _with_more_sources(app, rendered, cache_dir)
    return checkout, rendered


def _with_more_sources(app: AppSpec, rendered: Rendered, cache_dir: Path | None) -> Rendered:
    """``rendered`` with the objects of the app's other rendering sources (Argo CD
    multi-source): an object two sources render is an error naming both."""
    resources = list(rendered.resources)
    seen = {r.key: r for r in resources}
    for more in app.source.render.more_sources:
        if more.options.chart is not None:
            _, extra = render_chart(more.options, where=app.where)
        else:
            checkout = open_source(
                more.fetch_from, revision=more.fetch_revision, cache_dir=cache_dir
            )
            extra = render(checkout, more.path, options=more.options)
        for resource in extra.resources:
            first = seen.get(resource.key)
            if first is not None:
                raise RenderError(
                    resource.source or SourceRef(extra.path),
                    f"{resource.key.display} is rendered by two sources of {app.where}: "
                    f"at {first.source} and at {resource.source}",
                )
            seen[resource.key] = resource
            resources.append(resource)
    return replace(rendered, resources=tuple(resources))


# --- loading ---------------------------------------------------------------


class _Loader:
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
        resource = _document_resource(doc, rel)
        if resource is not None:
            self._pool([resource])

    def _keep_beside(self, doc: Document, rel: str) -> None:
        """A Bucket or Secret of a top-level file, for an ArtifactGenerator."""
        resource = _document_resource(doc, rel)
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
                    found.extend(_render_whole(app, cache_dir=cache_dir)[1].resources)
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

    def _external_artifacts(
        self, generators: list[ArtifactGenerator], sources: list[FluxSource], holder: Holder
    ) -> list[FluxSource]:
        """The ExternalArtifacts the ArtifactGenerators build (engine/artifact_generator.py);
        a generator that fails is reported and its Kustomizations find no source."""
        if not generators:
            return []
        from gitwave.engine.apps.artifact_generator import external_artifacts

        return external_artifacts(
            generators,
            sources,
            holder.resolve,
            cache_dir=self.cache_dir,
            allowed=self.local_repos,
            fail=self._fail,
            find=self._find_source,
        )

    def top_level(self, holder: Holder, target: Path) -> list[AppSpec]:
        files = [target] if target.is_file() else top_level_files(target)
        checkout = holder.checkout
        argo: list[AppSpec] = []
        sets: list[AppSpec] = []
        flux_docs: list[tuple[Document, str]] = []
        sources: list[FluxSource] = []
        broken_sources: dict[str, GitwaveError] = {}
        generators: list[ArtifactGenerator] = []
        # The ``flux bootstrap`` layout: <target>/flux-system defines the root
        # Kustomization; the Kustomizations its render holds are its children.
        roots, in_tree = self._bootstrap(holder, target, sources)
        for file in files:
            rel = checkout.relpath(file)
            for doc in self._documents(file, rel):
                where = f"{rel}:{doc.line}"
                kind = app_kind(doc.value)
                try:
                    if is_app_set(doc.value):
                        sets.append(
                            self._set(
                                self.sets.load(
                                    doc.value, SourceRef(rel, doc.line), holder, doc.node
                                )
                            )
                        )
                    elif is_artifact_generator(doc.value):
                        from gitwave.engine.apps.artifact_generator import (
                            parse_artifact_generator,
                        )

                        generators.append(parse_artifact_generator(doc.value, where))
                    elif kind == "Application":
                        from gitwave.engine.apps.argo import parse_argo

                        argo.append(parse_argo(doc.value, SourceRef(rel, doc.line), holder.resolve))
                    elif kind == "AppProject":
                        self.projects.read(doc.value, SourceRef(rel, doc.line))
                    elif kind == "Kustomization":
                        flux_docs.append((doc, rel))
                    elif kind == "GitRepository":
                        self._pool_document(doc, rel)
                        from gitwave.engine.apps.flux import parse_git_repository

                        sources.append(parse_git_repository(doc.value, where, holder.resolve))
                    elif kind in _HELM_SOURCE_KINDS:
                        self._pool_document(doc, rel)
                    elif kind == "Bucket" or _is_secret(doc.value):
                        self._keep_beside(doc, rel)
                except GitwaveError as exc:
                    name = definition_name(doc.value, where)
                    if kind == "GitRepository":
                        broken_sources[name] = exc  # its Kustomizations fail with it
                    else:
                        self._fail(name, exc)
        flux: list[AppSpec] = list(roots)
        built = self._external_artifacts(generators, sources, holder)
        for artifact in built:
            key = (artifact.namespace or DEFAULT_NAMESPACE, artifact.name)
            self.built_artifacts.setdefault(key, (Path(artifact.url), artifact.where))
        sources += built
        broken_buckets: dict[str, GitwaveError] = {}
        if flux_docs:
            from gitwave.engine.apps.bucket import bucket_sources, bucket_store

            buckets, broken_buckets = bucket_sources(
                [doc.value for doc, _ in flux_docs], self._find_source, bucket_store(self.cache_dir)
            )
            sources += buckets
        for doc, rel in flux_docs:
            origin = SourceRef(rel, doc.line)
            name = definition_name(doc.value, str(origin))
            if name in in_tree:
                continue  # a child of the bootstrap root, read from its render
            ref_kind = source_ref_kind(doc.value)
            source_error = (broken_buckets if ref_kind == "Bucket" else broken_sources).get(
                source_ref_name(doc.value)
            )
            if source_error is not None:
                self._fail(
                    name,
                    ValidationError(
                        f"{origin} (Kustomization/{name})",
                        f"spec.sourceRef: its {ref_kind or 'GitRepository'} cannot be read: "
                        f"{source_error}",
                    ),
                )
                continue
            try:
                from gitwave.engine.apps.artifact_generator import artifact_store
                from gitwave.engine.apps.bucket import bucket_store
                from gitwave.engine.apps.flux import parse_flux

                app = self._namespaced(parse_flux(doc.value, origin, holder.resolve, sources))
                check_local_repo(
                    app.source.fetch_from,
                    allowed=(
                        *self.local_repos,
                        artifact_store(self.cache_dir),
                        bucket_store(self.cache_dir),
                    ),
                    subject=app.where,
                )
                flux.append(app)
            except GitwaveError as exc:
                self._fail(name, exc)
        if not argo and not flux and not sets:
            if self.broken or in_tree:
                return []  # every definition here is broken: no implicit app instead
            # Not rendered here: Applications below an implicit app are ordinary objects.
            # Its files define no app now, yet one may be a half-written definition:
            # the sets once defined here are not known to be gone (``Location``).
            self.location_known = not files
            return [self._namespaced(implicit_for(holder, target))]
        check_unique(argo + flux + [a for s in sets for a in s.walk()])
        flux = without_broken_dependencies(flux, self.broken)
        check_depends_on(flux)
        # Only Argo apps are rendered now, to find the Applications they hold (app of apps).
        apps = [self._discover(app, depth=0, chain=()) for app in argo] + flux
        apps += [self._discover_set(s, depth=0, chain=()) for s in sets]
        return order_apps(apps)

    def _namespaced(self, app: AppSpec) -> AppSpec:
        """``app`` with the default destination namespace when it names none: set
        before its first render, so that render and the sync's are one (cached)."""
        return with_default_namespace(app, self.default_namespace)

    def _nested_buckets(
        self, resources: Sequence[Resource], app: AppSpec
    ) -> tuple[list[FluxSource], dict[str, GitwaveError]]:
        """The Buckets the Kustomizations of a render (``resources``, ``app``'s)
        name, fetched, as sources: defined in that render (their Secrets too) or
        read before, as kustomize-controller finds them on the cluster; and the
        error of each that cannot be read, by name."""
        kustomizations = [
            r.manifest
            for r in resources
            if _is_flux_kustomization(r)
            and not _same_object(r, app)
            and source_ref_kind(r.manifest) == "Bucket"
        ]
        if not kustomizations:
            return [], {}
        from gitwave.engine.apps.bucket import bucket_sources, bucket_store

        here = {r.key: r for r in resources if _is_bucket(r) or _is_secret(r.manifest)}

        def find(key: ResourceKey) -> Resource | None:
            return here.get(key) or self._find_source(key)

        return bucket_sources(kustomizations, find, bucket_store(self.cache_dir))

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

    def _bootstrap(
        self, holder: Holder, target: Path, sources: list[FluxSource]
    ) -> tuple[list[AppSpec], set[str]]:
        """The root Kustomizations of a ``flux bootstrap`` layout (those defined in
        ``<target>/flux-system/``, with their children found by rendering them),
        and the names of every Kustomization in their trees. ``sources`` gets
        the GitRepositories defined there (``flux-system``: the repository the
        path lives in when its URL names it, see ``Holder.resolve``)."""
        directory = target / BOOTSTRAP_DIR if target.is_dir() else None
        if directory is None or not directory.is_dir():
            return [], set()
        from gitwave.engine.apps.flux import parse_flux, parse_git_repository

        checkout = holder.checkout
        kustomizations: list[tuple[Document, str]] = []
        for file in top_level_files(directory):
            rel = checkout.relpath(file)
            for doc in self._documents(file, rel):
                kind = app_kind(doc.value)
                where = f"{rel}:{doc.line}"
                if kind == "GitRepository":
                    self._pool_document(doc, rel)
                    try:
                        sources.append(parse_git_repository(doc.value, where, holder.resolve))
                    except GitwaveError as exc:
                        self._fail(definition_name(doc.value, where), exc)
                elif kind == "Kustomization":
                    kustomizations.append((doc, rel))
        roots: list[AppSpec] = []
        for doc, rel in kustomizations:
            origin = SourceRef(rel, doc.line)
            try:
                root = parse_flux(doc.value, origin, holder.resolve, sources)
                self._check_local(root)
            except GitwaveError as exc:
                self._fail(definition_name(doc.value, str(origin)), exc)
                continue
            roots.append(self._discover_flux(root, sources, depth=0, chain=()))
        return roots, self.flux_tree_names | {root.name for root in roots}

    def _discover_flux(
        self,
        app: AppSpec,
        sources: Sequence[FluxSource],
        *,
        depth: int,
        chain: tuple[AppSpec, ...],
    ) -> AppSpec:
        """``app`` with the Kustomizations its render holds as children (recursively),
        as kustomize-controller applies them; marked ``flux_tree``. A render that
        fails, or a child that cannot be read, makes ``app`` broken (nothing of
        it is pruned on a partial view)."""
        from gitwave.engine.apps.bucket import bucket_store
        from gitwave.engine.apps.flux import parse_flux, parse_git_repository

        app = self._namespaced(replace(app, flux_tree=True))
        if depth > MAX_APP_DEPTH or any(_identity(a) == _identity(app) for a in chain):
            loop = " -> ".join(a.where for a in (*chain, app))
            error = ValidationError(app.where, f"Kustomizations nest in a loop: {loop}")
            self._fail(app.name, error, app)
            return app
        try:
            checkout, rendered = _render_whole(app, cache_dir=self.cache_dir)
        except GitwaveError as exc:
            self._fail(app.name, exc, app)
            return app
        holder = Holder.for_source(checkout, app.source)
        self._pool(rendered.resources)
        found = list(sources)
        for resource in rendered.resources:
            if _is_flux_source(resource):
                origin = resource.source or SourceRef(rendered.path)
                try:
                    where = str(origin)
                    found.append(parse_git_repository(resource.manifest, where, holder.resolve))
                except GitwaveError as exc:
                    self._fail(app.name, exc, app)
                    return app
        buckets, broken_buckets = self._nested_buckets(rendered.resources, app)
        found += buckets
        children: list[AppSpec] = []
        for resource in rendered.resources:
            if not _is_flux_kustomization(resource) or _same_object(resource, app):
                continue
            origin = resource.source or SourceRef(rendered.path)
            self.flux_tree_names.add(resource.key.name)
            try:
                bucket_error = broken_buckets.get(source_ref_name(resource.manifest))
                if source_ref_kind(resource.manifest) == "Bucket" and bucket_error is not None:
                    raise ValidationError(
                        f"{origin} (Kustomization/{resource.key.name})",
                        f"spec.sourceRef: its Bucket cannot be read: {bucket_error}",
                    )
                child = parse_flux(resource.manifest, origin, holder.resolve, found)
                self._check_local(child, also=(bucket_store(self.cache_dir),))
            except GitwaveError as exc:
                # As for an app of apps: the parent is broken (its child list is
                # partial), the children that could be read stay in its tree.
                self._fail(app.name, exc, app)
                continue
            # Flux deletes a child Kustomization its parent no longer applies, and
            # garbage-collects the child's objects when the child prunes.
            children.append(replace(child, cascade=child.policy.prune))
        if not children:
            return app
        try:
            check_unique(children)
        except GitwaveError as exc:
            self._fail(app.name, exc, app)
            return app
        nested = [
            self._discover_flux(child, found, depth=depth + 1, chain=(*chain, app))
            for child in children
        ]
        nested.sort(key=lambda a: (a.wave, a.name))
        return replace(app, children=tuple(nested))

    def _discover(self, app: AppSpec, *, depth: int, chain: tuple[AppSpec, ...]) -> AppSpec:
        """``app`` with its child Applications (app of apps), found by rendering it.

        An app whose render fails, or a child Application that is malformed,
        makes ``app`` broken (its child list is partial); the children that
        could be read stay in its tree, each failing or loading alone.
        """
        app = self._namespaced(app)
        try:
            self._check_local(app)
        except GitwaveError as exc:
            self._fail(app.name, exc, app)
            return app
        identity = _identity(app)
        for i, ancestor in enumerate(chain):
            if _identity(ancestor) == identity:
                loop = " -> ".join(a.where for a in (*chain[i:], app))
                error = ValidationError(
                    app.where,
                    f"app of apps cycle: {loop}",
                    hint="an Application must not (indirectly) render itself",
                )
                self._fail(app.name, error, app)
                return app
        if depth > MAX_APP_DEPTH:
            error = ValidationError(
                app.where, f"app of apps nested deeper than {MAX_APP_DEPTH} levels"
            )
            self._fail(app.name, error, app)
            return app
        refusal = self.projects.refusal(app)
        if refusal is not None:  # its project is known already: not even rendered
            self._fail(app.name, refusal, app)
            return app
        try:
            checkout, rendered = _render_whole(app, cache_dir=self.cache_dir)
        except GitwaveError as exc:
            self._fail(app.name, exc, app)
            return app
        for resource in rendered.resources:
            if is_app_project(resource.manifest):
                self.projects.read(resource.manifest, resource.source or SourceRef(rendered.path))
        child_resources = [r for r in rendered.resources if _is_argo_app_resource(r)]
        set_resources = [r for r in rendered.resources if _is_app_set_resource(r)]
        if not child_resources and not set_resources:
            return app
        holder = Holder.for_source(checkout, app.source)
        children: list[AppSpec] = []
        sets: list[AppSpec] = []
        for resource in set_resources:
            origin = resource.source or SourceRef(rendered.path)
            try:
                sets.append(self._set(self.sets.load(resource.manifest, origin, holder)))
            except GitwaveError as exc:  # the set fails alone; its apps are unknown
                self._fail(definition_name(resource.manifest, str(origin)), exc)
        from gitwave.engine.apps.argo import parse_argo

        for resource in child_resources:
            try:
                children.append(
                    parse_argo(
                        resource.manifest,
                        resource.source or SourceRef(rendered.path),
                        holder.resolve,
                    )
                )
            except GitwaveError as exc:
                self._fail(app.name, exc, app)
        check_unique(children + [a for s in sets for a in s.walk()])
        found = [self._discover(child, depth=depth + 1, chain=(*chain, app)) for child in children]
        found += [self._discover_set(s, depth=depth + 1, chain=(*chain, app)) for s in sets]
        found.sort(key=lambda a: (a.wave, a.name))
        return replace(app, children=tuple(found))

    def _discover_set(self, app_set: AppSpec, *, depth: int, chain: tuple[AppSpec, ...]) -> AppSpec:
        """An ApplicationSet with each generated app discovered (it may be an app of apps)."""
        found = [
            self._discover(child, depth=depth + 1, chain=(*chain, app_set))
            for child in app_set.children
        ]
        return replace(app_set, children=tuple(found))


def _identity(app: AppSpec) -> tuple[str, str | None, str]:
    source = app.source
    place = source.fetch_from if is_remote(source.fetch_from) else str(Path(source.fetch_from))
    return (place, source.fetch_revision, source.path)


def _is_secret(value: object) -> bool:
    return (
        isinstance(value, dict)
        and value.get("apiVersion") == "v1"
        and value.get("kind") == "Secret"
    )


def _document_resource(doc: Document, rel: str) -> Resource | None:
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


_HELM_SOURCE_KINDS = ("HelmRepository", "OCIRepository", "HelmChart")
# Where ``flux bootstrap`` writes the root GitRepository and Kustomization of a cluster.
BOOTSTRAP_DIR = "flux-system"
# Flux's own installation (gotk-components.yaml) carries this label.
_FLUX_PART_OF = ("app.kubernetes.io/part-of", "flux")


def is_flux_machinery(resource: Resource) -> bool:
    """What a Kustomization of a ``flux bootstrap`` tree renders that gitwave
    does not apply: the Kustomizations, GitRepositories and Buckets (gitwave
    reads them as apps and sources) and Flux's own controllers and CRDs (left to Flux),
    all but their Namespace, which the objects of the tree may live in."""
    if _is_flux_kustomization(resource) or _is_flux_source(resource) or _is_bucket(resource):
        return True
    label, value = _FLUX_PART_OF
    if resource.labels.get(label) != value:
        return False
    return not (resource.key.group == "" and resource.key.kind == "Namespace")


def _is_flux_kustomization(resource: Resource) -> bool:
    return resource.key.group == FLUX_KUSTOMIZE_GROUP and resource.key.kind == "Kustomization"


def _is_flux_source(resource: Resource) -> bool:
    return resource.key.group == FLUX_SOURCE_GROUP and resource.key.kind == "GitRepository"


def _is_bucket(resource: Resource) -> bool:
    return resource.key.group == FLUX_SOURCE_GROUP and resource.key.kind == "Bucket"


def _same_object(resource: Resource, app: AppSpec) -> bool:
    """The Kustomization's own object in its render (the root applies itself)."""
    return resource.key.name == app.name and resource.key.namespace in (
        app.app_namespace,
        app.app_namespace or "default",
    )


def _is_argo_app_resource(resource: Resource) -> bool:
    return resource.key.group == ARGO_GROUP and resource.key.kind == "Application"


def _is_app_set_resource(resource: Resource) -> bool:
    return resource.key.group == ARGO_GROUP and resource.key.kind == "ApplicationSet"
