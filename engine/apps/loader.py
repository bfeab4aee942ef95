"""Finding apps: ``load_apps`` and ``render_app`` (see the package docstring for the rules).

The holder (``holder.py``) is the repository an app file lives in; it decides
what a repoURL written there resolves to. App of apps: an Argo app is rendered
to find the Applications it holds, and that render is the one ``render_app``
reuses (the render cache, keyed by commit and path, serves the second call).
Each step records its failure on the app it concerns (``BrokenApp``) rather
than stopping the walk.

Split by job: the state of one load (``load_state.py``), the ``flux bootstrap``
walk (``flux_tree.py``), app of apps (``app_of_apps.py``), rendering a loaded
app (``app_render.py``) and what a document or object is (``resource_kinds.py``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from gitwave.engine.apps.app_of_apps import AppOfAppsLoader
from gitwave.engine.apps.app_render import checkout_for, render_app
from gitwave.engine.apps.broken import (
    AppSet,
    definition_name,
    source_ref_kind,
    source_ref_name,
    without_broken_dependencies,
)
from gitwave.engine.apps.doc_kinds import (
    is_app_set,
    is_artifact_generator,
)
from gitwave.engine.apps.files import app_kind, top_level_files
from gitwave.engine.apps.flux_tree import FluxTreeLoader
from gitwave.engine.apps.holder import Holder, identity_of
from gitwave.engine.apps.implicit import implicit_for
from gitwave.engine.apps.model import (
    AppKind,
    AppSpec,
    Location,
    app_set_scope,
    file_set_scope,
)
from gitwave.engine.apps.namespaces import DEFAULT_NAMESPACE
from gitwave.engine.apps.order import check_depends_on, check_unique, order_apps
from gitwave.engine.apps.resource_kinds import (
    HELM_SOURCE_KINDS,
    is_secret_document,
)
from gitwave.engine.clusters import ClusterSource
from gitwave.engine.errors import GitwaveError, SourceError, ValidationError
from gitwave.engine.model import SourceRef
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
    from gitwave.engine.apps.artifact_generator import ArtifactGenerator
    from gitwave.engine.apps.flux import FluxSource
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
        # Opened by its top (the same checkout as from any directory in it): the
        # key apps' renders open it by, so within ``source.opened_once`` Git is
        # asked once for both.
        checkout = open_source(str(top), revision=revision, cache_dir=cache_dir)
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
    # The holder read its repository's remotes already (one `git remote` per command).
    identities: dict[str, str] = {holder.fetch_from: holder.identity}
    broken = tuple(
        replace(b, spec=_identified(b.spec, "", identities)) if b.spec is not None else b
        for b in loader.broken
    )
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
    children = tuple(_identified(c, owner.who, known, scope) for c in app.children)
    return replace(identified, children=children)


def repository_identity(fetch_from: str) -> str:
    """A repository in a comparable form: a URL normalised; a local repository
    by its first remote (sorted), so two clones of one repository are one
    source, else by its absolute path."""
    if is_remote(fetch_from) or fetch_from.startswith("oci://"):  # oci://: a Helm registry
        return normalise_repo_url(fetch_from)
    return identity_of(fetch_from, remote_urls(Path(fetch_from)))


# --- loading ---------------------------------------------------------------


class _Loader(FluxTreeLoader, AppOfAppsLoader):
    """One load: the apps found and, beside them, the ones that failed alone."""

    def _external_artifacts(
        self, generators: list[ArtifactGenerator], sources: list[FluxSource], holder: Holder
    ) -> list[FluxSource]:
        """The ExternalArtifacts the ArtifactGenerators build (engine/artifact_generator.py);
        a generator that fails is reported and its Kustomizations find no source."""
        if not generators:
            return []
        from gitwave.engine.apps.artifact_build import external_artifacts

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
                    elif kind in HELM_SOURCE_KINDS:
                        self._pool_document(doc, rel)
                    elif kind == "Bucket" or is_secret_document(doc.value):
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
                from gitwave.engine.apps.artifact_build import artifact_store
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


__all__ = [
    "checkout_for",
    "load_app_set",
    "load_apps",
    "render_app",
    "repository_identity",
]
