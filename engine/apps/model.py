"""The values that describe an app: what to sync, from where, and how.

``AppSpec`` is what ``load_apps`` returns for each Argo CD Application, Flux
Kustomization or implicit (directory) app; ``AppSource`` says where its
manifests live, ``SyncPolicy`` how it syncs.
"""

from __future__ import annotations

import enum
import hashlib
import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from gitwave.engine.apps.projects import DEFAULT_PROJECT, AppProject
from gitwave.engine.diff import IgnoreDifference, ignore_pointers
from gitwave.engine.health.policy import HealthPolicy
from gitwave.engine.model import Owner, Propagation, Resource, ResourceKey, SourceRef
from gitwave.engine.render import RenderOptions
from gitwave.engine.source import normalise_repo_url, redact_url

if TYPE_CHECKING:
    # An annotation only: postBuild's substitution (and PyYAML, the renderers it
    # reads documents with) loads when a Flux app has one.
    from gitwave.engine.render.postbuild import PostBuild

MAX_APP_DEPTH = 8
ARGO_GROUP = "argoproj.io"
FLUX_KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"
FLUX_SOURCE_GROUP = "source.toolkit.fluxcd.io"
DEFAULT_ARGO_SERVER = "https://kubernetes.default.svc"
# Argo CD deletes an Application's objects with it only when it carries this finalizer.
RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"


class RepoResolver(Protocol):
    """Where a repoURL written in an app file is fetched from (see the package docstring).

    The parsers take this one-method seam so they need not know which
    repository holds the file; the loader passes its holder's ``resolve``.
    """

    def __call__(
        self, repo_url: str, revision: str, where: str, field_name: str
    ) -> tuple[str, str | None]:
        """``(fetch_from, fetch_revision)`` for ``open_source``; ValidationError naming
        ``where`` and ``field_name`` for a repoURL that cannot be used."""
        ...


class AppKind(enum.Enum):
    """Where an app's definition came from."""

    ARGO = "argo"
    FLUX = "flux"
    IMPLICIT = "implicit"
    # An Argo CD ApplicationSet: never rendered itself, its children are the apps it generates.
    APPSET = "appset"

    @property
    def label(self) -> str:
        """The kind of object that defined the app, as a user wrote it."""
        return _KIND_LABEL[self]


_KIND_LABEL = {
    AppKind.ARGO: "Application",
    AppKind.FLUX: "Kustomization",
    AppKind.IMPLICIT: "directory",
    AppKind.APPSET: "ApplicationSet",
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
    # PruneProtectedKinds=true: prune may delete Namespaces, CRDs and PVCs too.
    prune_protected_kinds: bool = False
    retry: RetrySpec | None = None
    sync_options: tuple[str, ...] = ()


@dataclass(frozen=True)
class AppSource:
    """Where an app's manifests come from.

    ``repo_url``/``revision``/``path`` are as written (``revision`` "HEAD" by
    default; ``path`` normalised, repo-relative). ``fetch_from``/``fetch_revision``
    are what ``open_source`` is given after repoURL resolution: a local
    directory or a URL, and a revision (None: the work tree as it is, or the
    remote's HEAD). ``repository`` is the repository in a comparable form
    (``github.com/org/repo``; a local one without remotes ``file:/abs/dir``),
    the part of the app's identity that says where it comes from; the loader
    sets it.
    """

    repo_url: str
    revision: str
    path: str
    render: RenderOptions = field(default_factory=RenderOptions)
    fetch_from: str = ""
    fetch_revision: str | None = None
    repository: str = ""

    @property
    def identity(self) -> str:
        """``repository path``: where the app comes from, whatever the revision."""
        repository = self.repository or normalise_repo_url(self.fetch_from or self.repo_url)
        return f"{redact_url(repository)} {self.path}"

    @property
    def digest(self) -> str:
        """A short digest of ``identity``: the source part of the app's tracking ids."""
        return hashlib.sha256(self.identity.encode()).hexdigest()[:12]

    @property
    def describe(self) -> str:
        """``repo path@revision`` for history rows and messages (no credentials)."""
        return f"{redact_url(self.repo_url)} {self.path}@{self.revision}"


@dataclass(frozen=True)
class KubeConfigRef:
    """Flux's ``spec.kubeConfig.secretRef``: the Secret (in the Kustomization's
    namespace) whose ``key`` (default ``value`` or ``value.yaml``) holds the
    kubeconfig of the cluster to apply to."""

    namespace: str
    name: str
    key: str = ""

    @property
    def display(self) -> str:
        return f"Secret/{self.namespace or 'default'}/{self.name}"


@dataclass(frozen=True)
class AppSpec:
    """One app: its source, destination, policy and (for app of apps) its children."""

    name: str
    kind: AppKind
    source: AppSource
    destination_namespace: str = ""
    # Argo's destination.server and destination.name, as written (at most one
    # set; both empty: the current target). Resolved by ``engine.fleet``.
    destination_server: str = ""
    destination_name: str = ""
    kube_config: KubeConfigRef | None = None
    policy: SyncPolicy = field(default_factory=SyncPolicy)
    ignore_differences: tuple[IgnoreDifference, ...] = ()
    depends_on: tuple[str, ...] = ()
    health_checks: tuple[ResourceKey, ...] = ()
    # Which health rule judges the app and what its syncs wait for (Flux: kstatus).
    health: HealthPolicy = field(default_factory=HealthPolicy)
    timeout_s: float | None = None
    interval_s: float | None = None
    origin: SourceRef | None = None
    children: tuple[AppSpec, ...] = ()
    wave: int = 0
    # App of apps: the owner (``name@source``) of the app whose render holds
    # this one, and whether this one carries Argo CD's resources-finalizer
    # (removing it from the parent then deletes its objects).
    parent: str = ""
    cascade: bool = False
    # A child app that its parent no longer holds (``removed_children``): it has
    # no render, only the objects it left; ``owner_source`` is its recorded source.
    removed_from: str = ""
    owner_source: str = ""
    # An app an ApplicationSet generated: where that set is defined, so its apps
    # can be found once the set itself is gone (``app_children``): ``file REPO
    # PATH`` for a set in a top-level file, ``app OWNER`` for one in an app of
    # apps' render. "" for every other app.
    set_scope: str = ""
    # An ApplicationSet: the directories its git generators read (absolute, in
    # the checkouts they opened); a change there may change its apps (watch mode).
    reads: tuple[str, ...] = ()
    # Argo CD: the AppProject named by ``spec.project`` and, once the loader found
    # it, its rules (None: nothing restricts the app, as for the implicit
    # ``default`` project, Flux and implicit apps). ``app_namespace`` is the
    # defining object's ``metadata.namespace`` as written.
    project: str = DEFAULT_PROJECT
    project_rules: AppProject | None = None
    app_namespace: str = ""
    # Flux: ``spec.serviceAccountName``, impersonated for the app's writes.
    service_account: str = ""
    # Repo-relative policy directories (the ``gitwave.dev/policy`` annotation).
    policy_dirs: tuple[str, ...] = ()
    # ``gitwave.dev/prune-limit``: the share of the inventory (a percentage) a
    # sync may prune without --confirm-prune; None: the default (engine.prune_guard).
    prune_limit: float | None = None
    # Flux: ``spec.postBuild`` (variable substitution after the build), None when absent.
    post_build: PostBuild | None = None
    # Flux, the ``flux bootstrap`` layout: this Kustomization's render was read for
    # the Kustomizations it applies (its ``children``); they, their GitRepositories
    # and Flux's own installation are gitwave's to read, not objects to apply.
    flux_tree: bool = False
    # ``metadata.labels`` of the Application or Kustomization, sorted: what
    # ``-l/--selector`` selects apps by (as ``argocd app list -l``).
    labels: tuple[tuple[str, str], ...] = ()
    # Flux: the source objects (HelmRepository, OCIRepository, HelmChart,
    # GitRepository) defined anywhere in what was loaded, for the HelmReleases
    # of this app's render to name (Flux looks them up cluster-wide). Not part
    # of the app's identity or equality.
    # A callable ``ResourceKey -> Resource | None`` (``helmrelease.SourceBook``).
    flux_sources: Callable[[ResourceKey], Resource | None] | None = field(
        default=None, compare=False, repr=False
    )
    # An app read from a cluster object, not from a repository (the controller's
    # HelmReleases): its render is these objects as they are, no checkout.
    inline: tuple[Resource, ...] = field(default=(), compare=False, repr=False)
    # What the state store (history rows, the operation lock) knows the app as
    # when its name alone is not unique: the controller reads apps from cluster
    # objects, where two namespaces, or an Application and a HelmRelease, may
    # each hold a ``web``. "": its name.
    store_name: str = ""

    @property
    def recorded_as(self) -> str:
        """The app's key in the state store: ``store_name``, else its name."""
        return self.store_name or self.name

    @property
    def label_map(self) -> dict[str, str]:
        """``labels`` as a mapping, for a label selector."""
        return dict(self.labels)

    @property
    def owner(self) -> Owner:
        """Who this app's objects belong to: its name and source (see ``Owner``).
        Two apps of one name from different repositories or paths are two owners;
        so are two controller apps of one name in two namespaces or of two kinds
        (the scope is ``store_name`` without the name: ``Application/team-a``)."""
        scope = self.store_name.rpartition("/")[0] if self.store_name else ""
        return Owner(self.name, self.owner_source or self.source.digest, scope)

    @property
    def where(self) -> str:
        """``Application/name (file:line)`` — the subject of an error message."""
        label = f"{self.kind.label}/{self.name}"
        return f"{label} ({self.origin})" if self.origin else label

    @property
    def impersonate(self) -> str:
        """The user a Flux app's writes impersonate (``system:serviceaccount:NS:NAME``,
        the ServiceAccount in the Kustomization's namespace, as kustomize-controller
        looks it up), or "" for none."""
        if not self.service_account:
            return ""
        return f"system:serviceaccount:{self.app_namespace or 'default'}:{self.service_account}"

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
        return ignore_pointers(self.ignore_differences, keys)


def file_set_scope(repository: str, path: str) -> str:
    """The ``set_scope`` of the apps of a set defined in a top-level file:
    the repository (``AppSource.repository``) and the file's repo-relative path."""
    return f"file\t{repository}\t{path}"


def app_set_scope(owner: str) -> str:
    """The ``set_scope`` of the apps of a set an app of apps (``name@source``) renders."""
    return f"app\t{owner}"


@dataclass(frozen=True)
class Location:
    """Where a command read its app definitions: a directory (or one file) of a
    repository. The ApplicationSets of its top-level files are its own: a set
    whose file is gone from here was removed (``covers``)."""

    repository: str
    path: str  # repo-relative, POSIX ("." for the root)
    is_file: bool = False
    # What ``open_source`` is given to read it again (see ``AppSource``).
    fetch_from: str = ""
    fetch_revision: str | None = None

    @property
    def source(self) -> AppSource:
        """The location as an app's source: where an app with nothing of its own
        to render (one whose ApplicationSet is gone) reads its revision."""
        return AppSource(
            repo_url=self.fetch_from,
            revision=self.fetch_revision or "HEAD",
            path=self.path,
            fetch_from=self.fetch_from,
            fetch_revision=self.fetch_revision,
            repository=self.repository,
        )

    def covers(self, set_scope: str) -> bool:
        """True when ``set_scope`` names a top-level file of this location."""
        kind, _, rest = set_scope.partition("\t")
        repository, _, path = rest.partition("\t")
        if kind != "file" or repository != self.repository:
            return False
        if self.is_file:
            return path == self.path
        return posixpath.dirname(path) == ("" if self.path == "." else self.path)

    def set_file(self, set_scope: str) -> str:
        """The repo-relative file of a ``file`` scope ("" for another kind)."""
        kind, _, rest = set_scope.partition("\t")
        return rest.partition("\t")[2] if kind == "file" else ""


def dns_label(text: str) -> str:
    """``text`` as a DNS label: lower case, ``[a-z0-9-]``, at most 63 characters."""
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:63].strip("-")
    return label or "app"
