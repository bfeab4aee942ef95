"""Applications: what to sync, from where, and how.

``load_apps(PATH)`` finds the apps a location defines:

- a directory whose top-level files (not sub-directories) hold Argo CD
  ``Application`` (argoproj.io/v1alpha1) or Flux ``Kustomization``
  (kustomize.toolkit.fluxcd.io/v1, with its ``GitRepository``) documents →
  those apps (other documents in those files, e.g. an AppProject, are ignored);
- a single file holding such documents → those apps;
- any other directory (or manifest file) → one implicit app named after it.

``render_app(app)`` renders an app wherever its source lives, so a caller never
deals with repository URLs: ``checkout, apps = load_apps(path)`` then
``render_app(app)`` for each.

repoURL resolution (Argo ``spec.source.repoURL``, Flux ``GitRepository.spec.url``)
----------------------------------------------------------------------------------
A URL resolves to **the checkout that holds the Application file** when it is

1. a relative path naming the repository root (``.`` or ``./``), or a
   ``file://`` URL of that form (``file://.``);
2. an absolute path or ``file:///abs/path`` URL of that repository's root; or
3. equal to one of that repository's remote URLs, compared after
   normalisation (scheme, user, ``.git`` suffix, trailing ``/`` and the
   ``git@host:org/repo`` form are ignored).

Then the revision decides what is rendered: ``HEAD`` (or none) and — when the
holder is your work tree — the name of the branch you have checked out render
your work tree as it is, uncommitted edits included (watch mode relies on
this); any other branch, tag or SHA is materialised from the same repository
into the cache, leaving your tree alone. Every other URL is fetched through
``open_source`` (a shallow clone into the cache). A relative path other than
``.`` is refused. App paths never leave their repository (``safe_join``).

App of apps: when an app's rendered path holds Application manifests, they
become that app's ``children`` (recursively, at most ``MAX_APP_DEPTH`` deep,
a cycle is an error naming the files), ordered by their sync wave, then name.
They are not resources of the parent: ``render_app`` leaves them out.
"""

from __future__ import annotations

import enum
import os
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn

import networkx as nx

from gitwave.engine.errors import PathEscapeError, SourceError, ValidationError
from gitwave.engine.model import (
    ANNOTATION_SYNC_WAVE,
    ANNOTATION_SYNC_WAVE_ARGO,
    Propagation,
    Resource,
    ResourceKey,
    SourceRef,
)
from gitwave.engine.render import HelmOptions, Rendered, RenderOptions, render
from gitwave.engine.render.sops import Decryption, DecryptionProvider
from gitwave.engine.source import (
    Checkout,
    current_branch,
    find_repo_root,
    is_remote,
    list_tags,
    normalise_repo_url,
    open_source,
    redact_url,
    remote_urls,
)
from gitwave.engine.yamlio import Document, dump, iter_documents

MAX_APP_DEPTH = 8
ARGO_GROUP = "argoproj.io"
FLUX_KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"
FLUX_SOURCE_GROUP = "source.toolkit.fluxcd.io"
DEFAULT_ARGO_SERVER = "https://kubernetes.default.svc"
# A cheap pre-filter before parsing: only files declaring an apiVersion of these
# groups can hold apps. (The bare group name is not enough: every object with an
# argocd.argoproj.io/sync-wave annotation mentions argoproj.io.)
_APP_MARKER = re.compile(
    r"""apiVersion["']?\s*:\s*["']?("""
    + "|".join(re.escape(g) for g in (ARGO_GROUP, FLUX_KUSTOMIZE_GROUP, FLUX_SOURCE_GROUP))
    + ")/"
)


class AppKind(enum.Enum):
    """Where an app's definition came from."""

    ARGO = "argo"
    FLUX = "flux"
    IMPLICIT = "implicit"

    @property
    def label(self) -> str:
        """The kind of object that defined the app, as a user wrote it."""
        return _KIND_LABEL[self]


_KIND_LABEL = {
    AppKind.ARGO: "Application",
    AppKind.FLUX: "Kustomization",
    AppKind.IMPLICIT: "directory",
}


@dataclass(frozen=True)
class RetrySpec:
    """Argo's ``syncPolicy.retry``: ``limit`` retries (< 0: unlimited) with exponential backoff."""

    limit: int
    duration_s: float = 5.0
    factor: float = 2.0
    max_duration_s: float = 180.0

    def allows(self, retries_done: int) -> bool:
        """True when another retry may follow ``retries_done`` retries."""
        return self.limit < 0 or retries_done < self.limit

    def delay_s(self, retries_done: int) -> float:
        """Seconds to wait before the next retry: duration * factor**n, capped at max duration."""
        return float(min(self.duration_s * self.factor**retries_done, self.max_duration_s))


@dataclass(frozen=True)
class IgnoreRule:
    """Argo's ``ignoreDifferences`` entry: JSON pointers to ignore on matching objects."""

    group: str
    kind: str
    name: str | None = None
    namespace: str | None = None
    json_pointers: tuple[str, ...] = ()

    def matches(self, key: ResourceKey) -> bool:
        """True when the rule applies to the object ``key`` (``*`` matches any group or kind)."""
        return (
            self.group in ("*", key.group)
            and self.kind in ("*", key.kind)
            and (self.name is None or self.name == key.name)
            and (self.namespace is None or self.namespace == key.namespace)
        )


@dataclass(frozen=True)
class SyncPolicy:
    """How an app syncs (Argo ``syncPolicy``; Flux Kustomizations are always automated).

    ``sync_options`` keeps the options as written (recognised ones only), for
    options that need no field of their own (``ServerSideApply=true``).
    """

    automated: bool = False
    prune: bool = False
    self_heal: bool = False
    allow_empty: bool = False
    create_namespace: bool = False
    prune_last: bool = False
    prune_propagation: Propagation = Propagation.FOREGROUND
    apply_out_of_sync_only: bool = False
    retry: RetrySpec | None = None
    sync_options: tuple[str, ...] = ()


@dataclass(frozen=True)
class AppSource:
    """Where an app's manifests come from.

    ``repo_url``/``revision``/``path`` are as written (``revision`` "HEAD" by
    default; ``path`` normalised, repo-relative). ``fetch_from``/``fetch_revision``
    are what ``open_source`` is given after repoURL resolution: a local
    directory or a URL, and a revision (None: the work tree as it is, or the
    remote's HEAD).
    """

    repo_url: str
    revision: str
    path: str
    render: RenderOptions = field(default_factory=RenderOptions)
    fetch_from: str = ""
    fetch_revision: str | None = None

    @property
    def describe(self) -> str:
        """``repo path@revision`` for history rows and messages (no credentials)."""
        return f"{redact_url(self.repo_url)} {self.path}@{self.revision}"


@dataclass(frozen=True)
class AppSpec:
    """One app: its source, destination, policy and (for app of apps) its children."""

    name: str
    kind: AppKind
    source: AppSource
    destination_namespace: str = ""
    destination_server: str = ""
    policy: SyncPolicy = field(default_factory=SyncPolicy)
    ignore_differences: tuple[IgnoreRule, ...] = ()
    depends_on: tuple[str, ...] = ()
    health_checks: tuple[ResourceKey, ...] = ()
    timeout_s: float | None = None
    interval_s: float | None = None
    origin: SourceRef | None = None
    children: tuple[AppSpec, ...] = ()
    wave: int = 0

    @property
    def where(self) -> str:
        """``Application/name (file:line)`` — the subject of an error message."""
        label = f"{self.kind.label}/{self.name}"
        return f"{label} ({self.origin})" if self.origin else label

    def walk(self) -> Iterable[AppSpec]:
        """This app, then its descendants depth-first in order."""
        yield self
        for child in self.children:
            yield from child.walk()

    def ignore_pointers_for(
        self, keys: Iterable[ResourceKey]
    ) -> dict[ResourceKey, tuple[str, ...]]:
        """For each of ``keys`` that an ignoreDifferences rule matches, its JSON pointers
        (in rule order, without repeats) — the shape ``PlanOptions.ignore`` takes."""
        result: dict[ResourceKey, tuple[str, ...]] = {}
        for key in keys:
            pointers = [
                p
                for rule in self.ignore_differences
                if rule.matches(key)
                for p in rule.json_pointers
            ]
            if pointers:
                result[key] = tuple(dict.fromkeys(pointers))
        return result


# --- public entry points ------------------------------------------------------


def load_apps(
    location: str, *, revision: str | None = None, cache_dir: Path | None = None
) -> tuple[Checkout, list[AppSpec]]:
    """The apps ``location`` (a directory, a repository URL or one file) defines.

    Raises SourceError/PathEscapeError for an unreadable location,
    ValidationError for a malformed Application/Kustomization (naming
    file:line and the field) and RenderError when an app of apps cannot be
    rendered to find its children.
    """
    if is_remote(location):
        checkout = open_source(location, revision=revision, cache_dir=cache_dir)
        holder = _Holder.remote(checkout, location)
        target = checkout.root
    else:
        given = Path(location)
        if not given.exists():
            raise SourceError(f"{location}: no such file or directory", hint="check the path")
        directory = given.resolve() if given.is_dir() else given.resolve().parent
        top = find_repo_root(directory) or directory
        checkout = open_source(str(directory), revision=revision, cache_dir=cache_dir)
        holder = _Holder.local(checkout, top, revision)
        target = checkout.root / os.path.relpath(given.resolve(), top)
    loader = _Loader(cache_dir)
    apps = loader.top_level(holder, target)
    return checkout, apps


def checkout_for(app: AppSpec, *, cache_dir: Path | None = None) -> Checkout:
    """Open (fetch if needed) the source ``app`` renders from, at its revision."""
    return open_source(
        app.source.fetch_from, revision=app.source.fetch_revision, cache_dir=cache_dir
    )


def render_app(app: AppSpec, *, cache_dir: Path | None = None) -> Rendered:
    """Render ``app`` from its resolved source; child Applications are left out.

    Raises what ``open_source`` and ``render`` raise.
    """
    checkout = checkout_for(app, cache_dir=cache_dir)
    rendered = render(checkout, app.source.path, options=app.source.render)
    if not app.children:
        return rendered
    own = tuple(r for r in rendered.resources if not _is_argo_app_resource(r))
    return replace(rendered, resources=own)


def order_apps(apps: Sequence[AppSpec]) -> list[AppSpec]:
    """``apps`` ordered so every app follows the apps it depends on, then by wave and name.

    Raises ValidationError naming the apps on a dependsOn cycle.
    """
    by_name = {app.name: app for app in apps}
    remaining = {app.name: {d for d in app.depends_on if d in by_name} for app in apps}
    result: list[AppSpec] = []
    while remaining:
        ready = sorted(
            (by_name[n] for n, deps in remaining.items() if not deps),
            key=lambda a: (a.wave, a.name),
        )
        if not ready:
            cycle = " -> ".join(sorted(remaining))
            raise ValidationError("apps", f"dependsOn cycle among: {cycle}")
        first = ready[0]
        result.append(first)
        del remaining[first.name]
        for deps in remaining.values():
            deps.discard(first.name)
    return result


# --- where an app file lives, and how to reopen it ----------------------------


@dataclass(frozen=True)
class _Holder:
    """The repository holding an app file, and how ``open_source`` reopens it."""

    checkout: Checkout
    fetch_from: str
    fetch_revision: str | None
    same_repo_urls: frozenset[str]
    work_tree_branch: str | None

    @staticmethod
    def local(checkout: Checkout, top: Path, revision: str | None) -> _Holder:
        urls = {normalise_repo_url(u) for u in remote_urls(top)}
        urls.add(normalise_repo_url(str(top)))
        return _Holder(
            checkout=checkout,
            fetch_from=str(top),
            fetch_revision=(checkout.revision or revision) if revision is not None else None,
            same_repo_urls=frozenset(urls),
            work_tree_branch=current_branch(top) if revision is None else None,
        )

    @staticmethod
    def remote(checkout: Checkout, url: str) -> _Holder:
        return _Holder(
            checkout=checkout,
            fetch_from=url,
            fetch_revision=checkout.revision or None,
            same_repo_urls=frozenset({normalise_repo_url(url)}),
            work_tree_branch=None,
        )

    @staticmethod
    def for_source(checkout: Checkout, source: AppSource) -> _Holder:
        if is_remote(source.fetch_from):
            return _Holder.remote(checkout, source.fetch_from)
        top = Path(source.fetch_from)
        holder = _Holder.local(checkout, top, source.fetch_revision)
        return holder

    def resolve(
        self, repo_url: str, revision: str, where: str, field_name: str
    ) -> tuple[str, str | None]:
        """``(fetch_from, fetch_revision)`` for a repoURL written in a file of this holder."""
        url = repo_url.strip()
        if self._is_this_repo(url, where, field_name):
            if revision in ("", "HEAD"):
                return self.fetch_from, self.fetch_revision
            if self.fetch_revision is None and revision == self.work_tree_branch:
                return self.fetch_from, None
            return self.fetch_from, revision
        return url, None if revision in ("", "HEAD") else revision

    def _is_this_repo(self, url: str, where: str, field_name: str) -> bool:
        path = url.removeprefix("file://") if url.startswith("file://") else None
        if path is None and not is_remote(url):
            path = url
        if path is not None:
            if not path.startswith("/"):
                if posixpath.normpath(path or ".") != ".":
                    raise ValidationError(
                        where,
                        f"{field_name}: relative repoURL {url!r} must be '.' (this repository)",
                        hint="use '.' for this repository or a full URL for another one",
                    )
                return True
            return normalise_repo_url(path) in self.same_repo_urls
        return normalise_repo_url(url) in self.same_repo_urls


# --- loading ---------------------------------------------------------------


@dataclass(frozen=True)
class _FluxSource:
    namespace: str
    name: str
    url: str
    revision: str
    where: str


class _Loader:
    def __init__(self, cache_dir: Path | None) -> None:
        self.cache_dir = cache_dir

    def top_level(self, holder: _Holder, target: Path) -> list[AppSpec]:
        files = [target] if target.is_file() else _top_level_files(target)
        checkout = holder.checkout
        argo: list[AppSpec] = []
        flux_docs: list[tuple[Document, str]] = []
        sources: list[_FluxSource] = []
        for file in files:
            rel = checkout.relpath(file)
            text = file.read_text(encoding="utf-8")
            if not _APP_MARKER.search(text):
                continue
            for doc in iter_documents(text, file=rel):
                where = f"{rel}:{doc.line}"
                kind = _app_kind(doc.value)
                if kind == "Application":
                    argo.append(_parse_argo(doc.value, SourceRef(rel, doc.line), holder))
                elif kind == "Kustomization":
                    flux_docs.append((doc, rel))
                elif kind == "GitRepository":
                    sources.append(_parse_git_repository(doc.value, where, holder))
        flux = [
            _parse_flux(doc.value, SourceRef(rel, doc.line), holder, sources)
            for doc, rel in flux_docs
        ]
        if not argo and not flux:
            # Not rendered here: Applications below an implicit app are ordinary objects.
            return [_implicit_app(holder, target)]
        _check_unique(argo + flux)
        _check_depends_on(flux)
        # Only Argo apps are rendered now, to find the Applications they hold (app of apps).
        apps = [self._discover(app, depth=0, chain=()) for app in argo] + flux
        return order_apps(apps)

    def _discover(self, app: AppSpec, *, depth: int, chain: tuple[AppSpec, ...]) -> AppSpec:
        """``app`` with its child Applications (app of apps), found by rendering it."""
        identity = _identity(app)
        for i, ancestor in enumerate(chain):
            if _identity(ancestor) == identity:
                loop = " -> ".join(a.where for a in (*chain[i:], app))
                raise ValidationError(
                    app.where,
                    f"app of apps cycle: {loop}",
                    hint="an Application must not (indirectly) render itself",
                )
        if depth > MAX_APP_DEPTH:
            raise ValidationError(
                app.where, f"app of apps nested deeper than {MAX_APP_DEPTH} levels"
            )
        checkout = checkout_for(app, cache_dir=self.cache_dir)
        rendered = render(checkout, app.source.path, options=app.source.render)
        child_resources = [r for r in rendered.resources if _is_argo_app_resource(r)]
        if not child_resources:
            return app
        holder = _Holder.for_source(checkout, app.source)
        children = [
            _parse_argo(r.manifest, r.source or SourceRef(rendered.path), holder)
            for r in child_resources
        ]
        _check_unique(children)
        found = [self._discover(child, depth=depth + 1, chain=(*chain, app)) for child in children]
        found.sort(key=lambda a: (a.wave, a.name))
        return replace(app, children=tuple(found))


def _identity(app: AppSpec) -> tuple[str, str | None, str]:
    source = app.source
    place = source.fetch_from if is_remote(source.fetch_from) else str(Path(source.fetch_from))
    return (place, source.fetch_revision, source.path)


def _top_level_files(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in (".yaml", ".yml")
    )


def _app_kind(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    api_version = str(value.get("apiVersion", ""))
    kind = value.get("kind")
    group = api_version.rpartition("/")[0]
    if group == ARGO_GROUP and kind == "Application":
        return "Application"
    if group == FLUX_KUSTOMIZE_GROUP and kind == "Kustomization":
        return "Kustomization"
    if group == FLUX_SOURCE_GROUP and kind == "GitRepository":
        return "GitRepository"
    return None


def _is_argo_app_resource(resource: Resource) -> bool:
    return resource.key.group == ARGO_GROUP and resource.key.kind == "Application"


def _implicit_app(holder: _Holder, target: Path) -> AppSpec:
    checkout = holder.checkout
    path = checkout.relpath(target)
    base = target.stem if target.is_file() else target.name
    if path == ".":
        # The checkout may be a cache directory named after a commit: name the app after
        # the repository instead.
        base = holder.fetch_from.rstrip("/").rpartition("/")[2].removesuffix(".git")
        if not is_remote(holder.fetch_from):
            base = Path(holder.fetch_from).name
    return AppSpec(
        name=dns_label(base),
        kind=AppKind.IMPLICIT,
        source=AppSource(
            repo_url=holder.fetch_from,
            revision=holder.fetch_revision or "HEAD",
            path=path,
            fetch_from=holder.fetch_from,
            fetch_revision=holder.fetch_revision,
        ),
        origin=SourceRef(path),
    )


def implicit_app(name: str, *, location: str = ".", path: str = ".") -> AppSpec:
    """An app with no definition file: ``path`` of the work tree at ``location``.

    For callers that know an app only by name (rollback from history) or want
    to render a directory without ``load_apps``.
    """
    return AppSpec(
        name=dns_label(name),
        kind=AppKind.IMPLICIT,
        source=AppSource(repo_url=location, revision="HEAD", path=path, fetch_from=location),
    )


def dns_label(text: str) -> str:
    """``text`` as a DNS label: lower case, ``[a-z0-9-]``, at most 63 characters."""
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:63].strip("-")
    return label or "app"


def _check_unique(apps: Sequence[AppSpec]) -> None:
    seen: dict[str, AppSpec] = {}
    for app in apps:
        first = seen.get(app.name)
        if first is not None:
            raise ValidationError(
                app.where,
                f"app name {app.name!r} is also used by {first.where}",
                hint="app names must be unique",
            )
        seen[app.name] = app


def _check_depends_on(apps: Sequence[AppSpec]) -> None:
    names = {app.name for app in apps}
    for app in apps:
        for dependency in app.depends_on:
            if dependency not in names:
                raise ValidationError(
                    app.where,
                    f"spec.dependsOn: no Kustomization named {dependency!r} is defined here",
                    hint="define it in the same directory, or remove the dependency",
                )
    order_apps(apps)


# --- Argo CD Application ------------------------------------------------------

_BOOL_OPTIONS = {
    "CreateNamespace",
    "PruneLast",
    "ApplyOutOfSyncOnly",
    "ServerSideApply",
    "Validate",
    "RespectIgnoreDifferences",
    "FailOnSharedResource",
    "SkipDryRunOnMissingResource",
    "Replace",
    "Prune",
}
_KNOWN_OPTIONS = (*sorted(_BOOL_OPTIONS), "PrunePropagationPolicy")


def _parse_argo(doc: Mapping[str, Any], origin: SourceRef, holder: _Holder) -> AppSpec:
    where = str(origin)
    reader = _Reader(where)
    meta = reader.mapping(doc, "metadata", required=True)
    name = reader.string(meta, "metadata.name", required=True)
    where = f"{origin} (Application/{name})"
    reader = _Reader(where)
    spec = reader.mapping(doc, "spec", required=True)
    if "sources" in spec and "source" not in spec:
        reader.fail("spec.sources (multiple sources) is not supported; use spec.source")
    source = reader.mapping(spec, "spec.source", required=True)
    for unsupported, why in (
        ("chart", "Helm repository charts are not supported; point spec.source.path at a chart"),
        ("plugin", "config management plugins are not supported"),
    ):
        if source.get(unsupported):
            reader.fail(f"spec.source.{unsupported}: {why}")
    repo_url = reader.string(source, "spec.source.repoURL", required=True)
    revision = reader.string(source, "spec.source.targetRevision") or "HEAD"
    path = _clean_path(
        reader.string(source, "spec.source.path", required=True), f"{where}: spec.source.path"
    )
    destination = reader.mapping(spec, "spec.destination")
    namespace = reader.string(destination, "spec.destination.namespace")
    server = reader.string(destination, "spec.destination.server")
    cluster_name = reader.string(destination, "spec.destination.name")
    if server and cluster_name:
        reader.fail("spec.destination: set either server or name, not both")
    options = RenderOptions(
        kustomize_images=_argo_images(reader, source),
        helm=_argo_helm(reader, source, name, namespace),
        directory_recurse=reader.boolean(
            reader.mapping(source, "spec.source.directory"), "spec.source.directory.recurse"
        ),
        directory_include=reader.string(
            reader.mapping(source, "spec.source.directory"), "spec.source.directory.include"
        ),
        directory_exclude=reader.string(
            reader.mapping(source, "spec.source.directory"), "spec.source.directory.exclude"
        ),
        default_namespace=namespace,
    )
    if reader.mapping(source, "spec.source.directory").get("jsonnet"):
        reader.fail("spec.source.directory.jsonnet is not supported")
    fetch_from, fetch_revision = holder.resolve(repo_url, revision, where, "spec.source.repoURL")
    return AppSpec(
        name=name,
        kind=AppKind.ARGO,
        source=AppSource(
            repo_url=repo_url,
            revision=revision,
            path=path,
            render=options,
            fetch_from=fetch_from,
            fetch_revision=fetch_revision,
        ),
        destination_namespace=namespace,
        destination_server=server or cluster_name or DEFAULT_ARGO_SERVER,
        policy=_argo_policy(reader, reader.mapping(spec, "spec.syncPolicy")),
        ignore_differences=_argo_ignores(reader, spec),
        origin=origin,
        wave=_wave(reader, meta),
    )


def _argo_images(reader: _Reader, source: Mapping[str, Any]) -> tuple[str, ...]:
    kustomize = reader.mapping(source, "spec.source.kustomize")
    for unsupported in ("namePrefix", "nameSuffix", "namespace", "commonLabels", "patches"):
        if kustomize.get(unsupported):
            reader.fail(f"spec.source.kustomize.{unsupported} is not supported yet")
    return tuple(reader.strings(kustomize, "spec.source.kustomize.images"))


def _argo_helm(
    reader: _Reader, source: Mapping[str, Any], app_name: str, namespace: str
) -> HelmOptions | None:
    helm = reader.mapping(source, "spec.source.helm")
    if not helm:
        return HelmOptions(release_name=app_name, namespace=namespace)
    values = reader.string(helm, "spec.source.helm.values")
    values_object = reader.mapping(helm, "spec.source.helm.valuesObject")
    if values_object:
        values = dump(dict(values_object))  # valuesObject wins over values, as in Argo CD
    parameters: list[str] = []
    string_parameters: list[str] = []
    for i, parameter in enumerate(reader.mappings(helm, "spec.source.helm.parameters")):
        field_name = f"spec.source.helm.parameters[{i}]"
        pname = reader.string(parameter, f"{field_name}.name", required=True)
        value = parameter.get("value", "")
        if not isinstance(value, str | int | float | bool):
            reader.fail(f"{field_name}.value must be a string")
        text = str(value).lower() if isinstance(value, bool) else str(value)
        target = (
            string_parameters
            if reader.boolean(parameter, f"{field_name}.forceString")
            else parameters
        )
        target.append(f"{pname}={text}")
    return HelmOptions(
        release_name=reader.string(helm, "spec.source.helm.releaseName") or app_name,
        namespace=namespace,
        values_files=tuple(reader.strings(helm, "spec.source.helm.valueFiles")),
        values=values,
        parameters=tuple(parameters),
        string_parameters=tuple(string_parameters),
        skip_crds=reader.boolean(helm, "spec.source.helm.skipCrds"),
    )


def _argo_policy(reader: _Reader, policy: Mapping[str, Any]) -> SyncPolicy:
    automated_value = policy.get("automated")
    automated = reader.mapping(policy, "spec.syncPolicy.automated")
    enabled = "automated" in policy and (
        automated_value is None
        or automated.get("enabled") is None
        or reader.boolean(automated, "spec.syncPolicy.automated.enabled")
    )
    options = reader.strings(policy, "spec.syncPolicy.syncOptions")
    parsed: dict[str, str] = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or key not in _KNOWN_OPTIONS:
            reader.fail(
                f"spec.syncPolicy.syncOptions: unknown option {option!r} "
                f"(known: {', '.join(o + '=' for o in _KNOWN_OPTIONS)})"
            )
        if key in _BOOL_OPTIONS and value not in ("true", "false"):
            reader.fail(f"spec.syncPolicy.syncOptions: {key} must be true or false, not {value!r}")
        parsed[key] = value
    propagation = Propagation.FOREGROUND
    if "PrunePropagationPolicy" in parsed:
        try:
            propagation = Propagation(parsed["PrunePropagationPolicy"])
        except ValueError:
            reader.fail(
                "spec.syncPolicy.syncOptions: PrunePropagationPolicy must be foreground, "
                f"background or orphan, not {parsed['PrunePropagationPolicy']!r}"
            )
    return SyncPolicy(
        automated=enabled,
        prune=reader.boolean(automated, "spec.syncPolicy.automated.prune"),
        self_heal=reader.boolean(automated, "spec.syncPolicy.automated.selfHeal"),
        allow_empty=reader.boolean(automated, "spec.syncPolicy.automated.allowEmpty"),
        create_namespace=parsed.get("CreateNamespace") == "true",
        prune_last=parsed.get("PruneLast") == "true",
        prune_propagation=propagation,
        apply_out_of_sync_only=parsed.get("ApplyOutOfSyncOnly") == "true",
        retry=_argo_retry(reader, policy),
        sync_options=tuple(options),
    )


def _argo_retry(reader: _Reader, policy: Mapping[str, Any]) -> RetrySpec | None:
    if "retry" not in policy:
        return None
    retry = reader.mapping(policy, "spec.syncPolicy.retry")
    limit = retry.get("limit", 0)
    if not isinstance(limit, int) or isinstance(limit, bool):
        reader.fail("spec.syncPolicy.retry.limit must be an integer")
    backoff = reader.mapping(retry, "spec.syncPolicy.retry.backoff")
    factor = backoff.get("factor", 2)
    if not isinstance(factor, int | float) or isinstance(factor, bool) or factor < 1:
        reader.fail("spec.syncPolicy.retry.backoff.factor must be a number >= 1")
    return RetrySpec(
        limit=limit,
        duration_s=reader.duration(
            backoff, "spec.syncPolicy.retry.backoff.duration", "5s", argo=True
        ),
        factor=float(factor),
        max_duration_s=reader.duration(
            backoff, "spec.syncPolicy.retry.backoff.maxDuration", "3m", argo=True
        ),
    )


def _argo_ignores(reader: _Reader, spec: Mapping[str, Any]) -> tuple[IgnoreRule, ...]:
    rules: list[IgnoreRule] = []
    for i, entry in enumerate(reader.mappings(spec, "spec.ignoreDifferences")):
        field_name = f"spec.ignoreDifferences[{i}]"
        for unsupported in ("jqPathExpressions", "managedFieldsManagers"):
            if entry.get(unsupported):
                reader.fail(f"{field_name}.{unsupported} is not supported; use jsonPointers")
        pointers = reader.strings(entry, f"{field_name}.jsonPointers")
        for pointer in pointers:
            if not pointer.startswith("/"):
                reader.fail(f"{field_name}.jsonPointers: {pointer!r} must start with '/'")
        rules.append(
            IgnoreRule(
                group=reader.string(entry, f"{field_name}.group"),
                kind=reader.string(entry, f"{field_name}.kind", required=True),
                name=reader.string(entry, f"{field_name}.name") or None,
                namespace=reader.string(entry, f"{field_name}.namespace") or None,
                json_pointers=tuple(pointers),
            )
        )
    return tuple(rules)


def _wave(reader: _Reader, meta: Mapping[str, Any]) -> int:
    annotations = reader.mapping(meta, "metadata.annotations")
    for key in (ANNOTATION_SYNC_WAVE, ANNOTATION_SYNC_WAVE_ARGO):
        if key in annotations:
            value = annotations[key]
            try:
                return int(str(value).strip())
            except ValueError:
                reader.fail(f"metadata.annotations[{key}]: {value!r} is not an integer")
    return 0


# --- Flux ------------------------------------------------------------------


def _parse_git_repository(doc: Mapping[str, Any], where: str, holder: _Holder) -> _FluxSource:
    reader = _Reader(where)
    meta = reader.mapping(doc, "metadata", required=True)
    name = reader.string(meta, "metadata.name", required=True)
    reader = _Reader(f"{where} (GitRepository/{name})")
    spec = reader.mapping(doc, "spec", required=True)
    url = reader.string(spec, "spec.url", required=True)
    reader.duration(spec, "spec.interval", None)
    ref = reader.mapping(spec, "spec.ref")
    revision = "HEAD"
    # Flux's precedence: commit, name, semver, tag, branch.
    for key in ("commit", "name", "semver", "tag", "branch"):
        value = reader.string(ref, f"spec.ref.{key}")
        if value:
            revision = _resolve_semver(value, url, holder, reader) if key == "semver" else value
            break
    return _FluxSource(
        namespace=reader.string(meta, "metadata.namespace"),
        name=name,
        url=url,
        revision=revision,
        where=reader.where,
    )


def _parse_flux(
    doc: Mapping[str, Any], origin: SourceRef, holder: _Holder, sources: Sequence[_FluxSource]
) -> AppSpec:
    reader = _Reader(str(origin))
    meta = reader.mapping(doc, "metadata", required=True)
    name = reader.string(meta, "metadata.name", required=True)
    own_namespace = reader.string(meta, "metadata.namespace")
    where = f"{origin} (Kustomization/{name})"
    reader = _Reader(where)
    spec = reader.mapping(doc, "spec", required=True)
    source_ref = reader.mapping(spec, "spec.sourceRef", required=True)
    ref_kind = reader.string(source_ref, "spec.sourceRef.kind", required=True)
    if ref_kind != "GitRepository":
        reader.fail(f"spec.sourceRef.kind: {ref_kind!r} is not supported (only GitRepository)")
    ref_name = reader.string(source_ref, "spec.sourceRef.name", required=True)
    ref_namespace = reader.string(source_ref, "spec.sourceRef.namespace") or own_namespace
    source = _find_source(sources, ref_name, ref_namespace)
    if source is None:
        reader.fail(f"spec.sourceRef: GitRepository {ref_name!r} is not defined in this directory")
    if "prune" not in spec:
        reader.fail("spec.prune is required")
    interval = reader.duration(spec, "spec.interval", None)
    if interval is None:
        reader.fail("spec.interval is required")
    timeout = reader.duration(spec, "spec.timeout", None)
    path = _clean_path(reader.string(spec, "spec.path") or ".", f"{where}: spec.path")
    target_namespace = reader.string(spec, "spec.targetNamespace")
    fetch_from, fetch_revision = holder.resolve(
        source.url, source.revision, source.where, "spec.url"
    )
    health_checks = []
    for i, check in enumerate(reader.mappings(spec, "spec.healthChecks")):
        field_name = f"spec.healthChecks[{i}]"
        api_version = reader.string(check, f"{field_name}.apiVersion", required=True)
        health_checks.append(
            ResourceKey(
                api_version.rpartition("/")[0],
                reader.string(check, f"{field_name}.kind", required=True),
                reader.string(check, f"{field_name}.namespace"),
                reader.string(check, f"{field_name}.name", required=True),
            )
        )
    depends_on = [
        reader.string(dep, f"spec.dependsOn[{i}].name", required=True)
        for i, dep in enumerate(reader.mappings(spec, "spec.dependsOn"))
    ]
    return AppSpec(
        name=name,
        kind=AppKind.FLUX,
        source=AppSource(
            repo_url=source.url,
            revision=source.revision,
            path=path,
            render=RenderOptions(
                kustomize_images=_flux_images(reader, spec),
                target_namespace=target_namespace,
                decryption=_flux_decryption(reader, spec),
            ),
            fetch_from=fetch_from,
            fetch_revision=fetch_revision,
        ),
        destination_namespace=target_namespace,
        policy=SyncPolicy(
            automated=not reader.boolean(spec, "spec.suspend"),
            prune=reader.boolean(spec, "spec.prune"),
            self_heal=True,  # Flux re-applies on every interval, correcting drift
        ),
        depends_on=tuple(depends_on),
        health_checks=tuple(health_checks),
        timeout_s=timeout if timeout is not None else interval,
        interval_s=interval,
        origin=origin,
        wave=_wave(reader, meta),
    )


def _find_source(sources: Sequence[_FluxSource], name: str, namespace: str) -> _FluxSource | None:
    named = [s for s in sources if s.name == name]
    for source in named:
        if source.namespace == namespace:
            return source
    return named[0] if len(named) == 1 else None


def _flux_decryption(reader: _Reader, spec: Mapping[str, Any]) -> Decryption | None:
    """Flux's ``spec.decryption``; the key Secret it names is recorded, not read (engine/sops)."""
    if spec.get("decryption") is None:
        return None
    decryption = reader.mapping(spec, "spec.decryption")
    provider = DecryptionProvider.parse(
        reader.string(decryption, "spec.decryption.provider", required=True),
        where=reader.where,
        field_name="spec.decryption.provider",
    )
    secret_ref = reader.mapping(decryption, "spec.decryption.secretRef")
    return Decryption(
        provider=provider,
        secret_ref=reader.string(secret_ref, "spec.decryption.secretRef.name"),
    )


def _flux_images(reader: _Reader, spec: Mapping[str, Any]) -> tuple[str, ...]:
    images: list[str] = []
    for i, image in enumerate(reader.mappings(spec, "spec.images")):
        field_name = f"spec.images[{i}]"
        old = reader.string(image, f"{field_name}.name", required=True)
        new = reader.string(image, f"{field_name}.newName")
        tag = reader.string(image, f"{field_name}.newTag")
        digest = reader.string(image, f"{field_name}.digest")
        text = f"{old}={new}" if new else old
        if tag:
            text += f":{tag}"
        if digest:
            text += f"@{digest}"
        images.append(text)
    return tuple(images)


# --- semver (Flux GitRepository spec.ref.semver) ------------------------------

_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$")
_CONSTRAINT = re.compile(r"^(>=|<=|!=|=|>|<|~|\^)?\s*v?([0-9x*X]+(?:\.[0-9x*X]+){0,2})$")

Version = tuple[int, int, int]


def _resolve_semver(constraint: str, url: str, holder: _Holder, reader: _Reader) -> str:
    fetch_from, _ = holder.resolve(url, "HEAD", reader.where, "spec.url")
    tags = list_tags(fetch_from)
    try:
        best = pick_semver(constraint, tags)
    except ValueError as err:
        reader.fail(f"spec.ref.semver: {err}")
    if best is None:
        reader.fail(
            f"spec.ref.semver: no tag matches {constraint!r} (tags: {', '.join(tags) or 'none'})"
        )
    return best


def pick_semver(constraint: str, tags: Iterable[str]) -> str | None:
    """The tag with the highest version satisfying ``constraint`` (Masterminds syntax subset).

    Supports ``||`` alternatives of comma/space separated comparisons
    (``>=1.2 <2``), ``~1.2``, ``^1.2``, x-ranges (``1.2.x``, ``*``) and hyphen
    ranges (``1.0 - 2.0``). Pre-release tags are never picked. Raises
    ValueError for a malformed constraint.
    """
    alternatives = [_parse_alternative(part) for part in constraint.split("||")]
    best: tuple[Version, str] | None = None
    for tag in tags:
        match = _VERSION.match(tag)
        if match is None:
            continue
        version = (int(match[1]), int(match[2] or 0), int(match[3] or 0))
        if any(all(check(version) for check in alt) for alt in alternatives) and (
            best is None or version > best[0]
        ):
            best = (version, tag)
    return best[1] if best else None


def _parse_alternative(text: str) -> list[Any]:
    text = re.sub(r"(\S+)\s+-\s+(\S+)", r">=\1 <=\2", text.strip())
    terms = [t for t in re.split(r"[,\s]+", re.sub(r"(>=|<=|!=|=|>|<|~|\^)\s+", r"\1", text)) if t]
    if not terms:
        raise ValueError("empty constraint")
    checks = []
    for term in terms:
        match = _CONSTRAINT.match(term)
        if match is None:
            raise ValueError(f"cannot read constraint {term!r}")
        checks.append(_check(match[1] or "=", match[2]))
    return checks


def _check(op: str, text: str) -> Any:
    parts = text.split(".")
    wild = next((i for i, p in enumerate(parts) if p in ("x", "X", "*")), len(parts))
    numbers = [int(p) for p in parts[:wild]]
    given = len(numbers)
    padded = [*numbers, 0, 0, 0]
    low: Version = (padded[0], padded[1], padded[2])

    def bump(index: int) -> Version:
        values = [*low]
        values[index] += 1
        for i in range(index + 1, 3):
            values[i] = 0
        return (values[0], values[1], values[2])

    if given == 0:
        return lambda v: op not in ("<", "!=")
    high = bump(given - 1) if given < 3 else None  # the first version past an x-range
    if op == "=":
        return (lambda v: low <= v < high) if high else (lambda v: v == low)
    if op == "!=":
        return (lambda v: not low <= v < high) if high else (lambda v: v != low)
    if op == ">":
        return (lambda v: v >= high) if high else (lambda v: v > low)
    if op == ">=":
        return lambda v: v >= low
    if op == "<":
        return lambda v: v < low
    if op == "<=":
        return (lambda v: v < high) if high else (lambda v: v <= low)
    if op == "~":
        upper = bump(1) if given >= 2 else bump(0)
        return lambda v: low <= v < upper
    # "^": compatible with the left-most non-zero part
    index = next((i for i, n in enumerate(numbers) if n != 0), given - 1)
    upper = bump(min(index, 2))
    return lambda v: low <= v < upper


# --- field reading with errors that name file:line and field -------------------

_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str, *, bare_seconds: bool = False) -> float:
    """Seconds in a Go duration (``1m30s``, ``10m``, ``1.5h``, ``300ms``).

    With ``bare_seconds`` a plain number counts as seconds (Argo's backoff
    durations). Raises ValueError for anything else.
    """
    value = text.strip()
    if bare_seconds and re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    if value == "0":
        return 0.0
    pos = 0
    total = 0.0
    for match in _GO_DURATION.finditer(value):
        if match.start() != pos:
            break
        total += float(match[1]) * _UNIT_S[match[2]]
        pos = match.end()
    if pos != len(value) or not value:
        raise ValueError(f"{text!r} is not a duration (like 30s, 5m, 1h30m)")
    return total


class _Reader:
    """Typed field access on parsed YAML; every failure is a ValidationError naming the field."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, detail: str) -> NoReturn:
        raise ValidationError(self.where, detail)

    def _get(self, parent: Mapping[str, Any], dotted: str) -> Any:
        return parent.get(dotted.rpartition(".")[2].split("[")[0])

    def mapping(
        self, parent: Mapping[str, Any], dotted: str, *, required: bool = False
    ) -> Mapping[str, Any]:
        value = self._get(parent, dotted)
        if value is None:
            if required:
                self.fail(f"{dotted} is required")
            return {}
        if not isinstance(value, dict):
            self.fail(f"{dotted} must be a mapping, not {_type_name(value)}")
        result: Mapping[str, Any] = value
        return result

    def mappings(self, parent: Mapping[str, Any], dotted: str) -> list[Mapping[str, Any]]:
        value = self._get(parent, dotted)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.fail(f"{dotted} must be a list of mappings")
        return list(value)

    def string(self, parent: Mapping[str, Any], dotted: str, *, required: bool = False) -> str:
        value = self._get(parent, dotted)
        if value is None or value == "":
            if required:
                self.fail(f"{dotted} is required")
            return ""
        if not isinstance(value, str):
            self.fail(f"{dotted} must be a string, not {_type_name(value)} (quote it)")
        return str(value)

    def strings(self, parent: Mapping[str, Any], dotted: str) -> list[str]:
        value = self._get(parent, dotted)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(f"{dotted} must be a list of strings")
        return list(value)

    def boolean(self, parent: Mapping[str, Any], dotted: str) -> bool:
        value = self._get(parent, dotted)
        if value is None:
            return False
        if not isinstance(value, bool):
            self.fail(f"{dotted} must be true or false, not {value!r}")
        return bool(value)

    def duration(
        self, parent: Mapping[str, Any], dotted: str, default: str | None, *, argo: bool = False
    ) -> Any:
        value = self._get(parent, dotted)
        if value is None:
            return None if default is None else parse_duration(default)
        if argo and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, str):
            self.fail(f"{dotted} must be a duration like 30s or 5m, not {value!r}")
        try:
            return parse_duration(value, bare_seconds=argo)
        except ValueError as err:
            self.fail(f"{dotted}: {err}")


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _clean_path(path: str, subject: str) -> str:
    """A repo-relative path in normal form; PathEscapeError for absolute or ``..`` paths.

    ``subject`` names the file, line and field in the error.
    """
    text = path.strip() or "."
    if text.startswith("/"):
        raise PathEscapeError(f"{subject} {path!r}", reason="absolute paths are not allowed")
    normal = posixpath.normpath(text)
    if normal == ".." or normal.startswith("../"):
        raise PathEscapeError(f"{subject} {path!r}", reason="'..' leads outside the repository")
    return normal


def flatten_apps(apps: Iterable[AppSpec]) -> list[AppSpec]:
    """Every app to sync, parents before their children (app of apps, by the
    children's sync wave) and Flux ``dependsOn`` before dependents.

    Raises ValidationError for a dependsOn naming an unknown app and CycleError-
    like ValidationError for a dependsOn loop."""
    flat: list[AppSpec] = []

    def walk(app: AppSpec) -> None:
        flat.append(app)
        for child in sorted(app.children, key=lambda c: (c.wave, c.name)):
            walk(child)

    for app in apps:
        walk(app)
    by_name = {a.name: a for a in flat}
    dag: nx.DiGraph = nx.DiGraph()
    for index, app in enumerate(flat):
        dag.add_node(app.name, index=index)
        for dep in app.depends_on:
            if dep not in by_name:
                raise ValidationError(
                    f"app {app.name}" + (f" ({app.origin})" if app.origin else ""),
                    f"dependsOn names unknown app {dep!r}",
                    hint="known apps: " + ", ".join(sorted(by_name)),
                )
            dag.add_edge(dep, app.name)
    try:
        order = list(nx.lexicographical_topological_sort(dag, key=lambda n: dag.nodes[n]["index"]))
    except nx.NetworkXUnfeasible as exc:
        cycle = " -> ".join(u for u, _ in nx.find_cycle(dag))
        raise ValidationError("apps", f"dependsOn cycle: {cycle}") from exc
    return [by_name[name] for name in order]
