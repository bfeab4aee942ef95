"""The vocabulary of desired objects: keys, where a document came from, hook
phases, the graph's facts about an object, resources and their owners.

Re-exported by ``engine.model`` (the core types' home, see its docstring):
import from there.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Manifest = dict[str, Any]

# Annotations and labels gitwave reads or writes.
ANNOTATION_SYNC_WAVE_ARGO = "argocd.argoproj.io/sync-wave"
ANNOTATION_SYNC_WAVE = "gitwave.dev/sync-wave"
ANNOTATION_HOOK_ARGO = "argocd.argoproj.io/hook"
ANNOTATION_HOOK_DELETE_POLICY_ARGO = "argocd.argoproj.io/hook-delete-policy"
ANNOTATION_SYNC_OPTIONS_ARGO = "argocd.argoproj.io/sync-options"
ANNOTATION_COMPARE_OPTIONS_ARGO = "argocd.argoproj.io/compare-options"
ANNOTATION_DEPENDS_ON = "gitwave.dev/depends-on"
ANNOTATION_TRACKING_ID = "gitwave.dev/tracking-id"
LABEL_APP = "gitwave.dev/app"

# Metadata an API server owns: a client's value is ignored or refused on apply
# (managedFields), or turns the apply into a compare-and-swap (resourceVersion).
SERVER_METADATA_FIELDS = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
)


def _group_of(api_version: str) -> str:
    """``apps/v1`` → ``apps``; ``v1`` → ``""`` (the core group)."""
    return api_version.rpartition("/")[0]


@dataclass(frozen=True, slots=True, order=True)
class ResourceKey:
    """The identity of a node in the graph: ``group/Kind/namespace/name``.

    ``namespace`` is ``""`` for cluster-scoped objects and ``group`` is ``""``
    for the core API group.
    """

    group: str
    kind: str
    namespace: str
    name: str
    # A plan of 10,000 objects hashes keys several hundred thousand times (graph,
    # memo, router): the hash is taken once. Not a compared or printed field.
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.group, self.kind, self.namespace, self.name)))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type[ResourceKey], tuple[str, str, str, str]]:
        # Rebuilt from its four strings: a pickled hash would be another
        # process's (str hashes are salted per process).
        return (ResourceKey, (self.group, self.kind, self.namespace, self.name))

    def __str__(self) -> str:
        return f"{self.group}/{self.kind}/{self.namespace}/{self.name}"

    @property
    def display(self) -> str:
        """``Kind/namespace/name`` (``Kind/name`` when cluster-scoped), as errors print it."""
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"

    @classmethod
    def parse(cls, text: str) -> ResourceKey:
        """Parse the canonical ``group/Kind/namespace/name`` string.

        Raises ValueError when the text does not have exactly four parts.
        """
        parts = text.split("/")
        if len(parts) != 4:
            raise ValueError(f"not a resource key (want group/Kind/namespace/name): {text!r}")
        return cls(*parts)

    @classmethod
    def of(cls, manifest: Mapping[str, Any], *, default_namespace: str = "") -> ResourceKey:
        """The key of a manifest. Raises KeyError/TypeError on a malformed one."""
        meta = manifest["metadata"]
        return cls(
            _group_of(str(manifest["apiVersion"])),
            str(manifest["kind"]),
            str(meta.get("namespace") or default_namespace),
            str(meta["name"]),
        )


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a document came from, for error messages: ``file:line``.

    ``file`` is relative to the repository root; ``line`` is 1-based (0 when
    unknown, e.g. for the output of ``helm template``).
    """

    file: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


class HookPhase(enum.Enum):
    """Argo CD resource hook phases, in the order a sync runs them."""

    PRE_SYNC = "PreSync"
    SYNC = "Sync"
    POST_SYNC = "PostSync"
    SYNC_FAIL = "SyncFail"
    SKIP = "Skip"

    @property
    def order(self) -> int:
        return _PHASE_ORDER[self]


_PHASE_ORDER = {
    HookPhase.PRE_SYNC: 0,
    HookPhase.SYNC: 1,
    HookPhase.POST_SYNC: 2,
    HookPhase.SYNC_FAIL: 3,
    HookPhase.SKIP: 4,
}


class HookDeletePolicy(enum.Enum):
    BEFORE_HOOK_CREATION = "BeforeHookCreation"
    HOOK_SUCCEEDED = "HookSucceeded"
    HOOK_FAILED = "HookFailed"


# Argo CD deletes a hook before it is created again unless told otherwise.
DEFAULT_HOOK_DELETE_POLICIES = frozenset({HookDeletePolicy.BEFORE_HOOK_CREATION})


@dataclass(frozen=True, slots=True)
class NodeFacts:
    """What the graph stage read from one desired object, once, for every later
    stage: where it runs (hook phases, sync wave), when a hook is deleted, its
    sync options, and what its pods use. Nothing after the graph stage reads
    these annotations again.

    ``phases`` holds several phases for a multi-phase hook, in run order, and
    ``(Sync,)`` for an ordinary object. ``delete_policies`` is empty for an
    ordinary object and ``DEFAULT_HOOK_DELETE_POLICIES`` for a hook naming
    none. ``sync_options`` are the ``argocd.argoproj.io/sync-options`` entries
    as written (``Prune=false``). ``references`` are the ConfigMaps, Secrets,
    PersistentVolumeClaims and ServiceAccounts a workload's pod spec uses, in
    its namespace, whether or not they are in the render, in (kind, name) order.
    """

    phases: tuple[HookPhase, ...]
    wave: int
    is_hook: bool
    delete_policies: frozenset[HookDeletePolicy]
    sync_options: frozenset[str] = frozenset()
    references: tuple[ResourceKey, ...] = ()

    @property
    def position(self) -> tuple[int, int]:
        """(phase order, wave) of the first run; dependencies may only point forward in it."""
        return (self.phases[0].order, self.wave)

    def label(self) -> str:
        """``PreSync wave -1``: where the object first runs, as messages print it."""
        return f"{self.phases[0].value} wave {self.wave}"


class DependencyReason(enum.Enum):
    """Why one object waits for another, when a stage before the graph found it
    (the graph stage reads annotations and pod specs itself)."""

    # An explicit dependency (a composition's ${…} reference, Flux dependsOn):
    # ``after`` waits for ``before``; pointing to a later phase or wave is an error.
    REFERENCE = "reference"
    # ``before`` writes the Secret ``after`` (a connection Secret, usually not in
    # the render): every workload whose pods use that Secret waits for ``before``,
    # and a cluster-scoped ``before`` waits for the Secret's Namespace. An edge of
    # these that would point to a later phase or wave is dropped.
    CONNECTION_SECRET = "connection secret"


@dataclass(frozen=True, slots=True)
class Dependency:
    """A dependency a stage declares for the graph stage (see DependencyReason)."""

    before: ResourceKey
    after: ResourceKey
    reason: DependencyReason = DependencyReason.REFERENCE


class ApplyMode(enum.Enum):
    """How a sync treats one desired object (Helm's CRD policies, as Flux's
    ``install.crds``/``upgrade.crds`` name them)."""

    APPLY = "CreateReplace"  # created or updated to match the source
    CREATE_ONLY = "Create"  # created when absent; an existing one is left as it is
    SKIP = "Skip"  # never applied; still desired, so it is never pruned

    @property
    def applies_updates(self) -> bool:
        return self is ApplyMode.APPLY


@dataclass(frozen=True, slots=True)
class InstallGate:
    """An object applied one way on a release's first install and another on
    its upgrades: the CRDs of a Flux HelmRelease. The release counts as
    installed when a live object of the app carries every label of
    ``labels`` (what helm-controller's post-renderer puts on each object of
    the release): the target, like Helm's release storage, says so, whatever
    state directory or process syncs it. ``subject`` names the policies in
    messages (``HelmRelease/apps/web``)."""

    labels: tuple[tuple[str, str], ...]
    on_install: ApplyMode
    on_upgrade: ApplyMode
    subject: str

    def installed_by(self, labels: Mapping[str, Any]) -> bool:
        """True when an object with ``labels`` belongs to the release."""
        return all(labels.get(name) == value for name, value in self.labels)


@dataclass(frozen=True, slots=True)
class Resource:
    """A desired object: read-only, with where it came from. What its
    annotations mean for a sync (hook phases, wave, …) the graph stage reads
    once into :class:`NodeFacts`."""

    key: ResourceKey
    api_version: str
    # Not in repr: a logged or printed object must never show a Secret's values.
    manifest: Manifest = field(repr=False)
    source: SourceRef | None = None
    # Server-side apply takes over fields another applier owns (Argo CD's
    # ServerSideApply=true + Force=true); set by the sync, never from Git alone.
    force_conflicts: bool = False
    # Text a Secret's value became in this object (Flux postBuild substituteFrom
    # a Secret): shown as ``***`` in every diff, history row and event.
    masked_values: tuple[str, ...] = field(default=(), repr=False)
    # Set by the render for a chart's CRDs under a HelmRelease: how the plan
    # applies it depends on whether the release was installed (None: applied).
    install_gate: InstallGate | None = None

    @property
    def kind(self) -> str:
        return self.key.kind

    @property
    def metadata(self) -> Mapping[str, Any]:
        meta = self.manifest.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def annotations(self) -> Mapping[str, str]:
        ann = self.metadata.get("annotations")
        return ann if isinstance(ann, dict) else {}

    @property
    def labels(self) -> Mapping[str, str]:
        labels = self.metadata.get("labels")
        return labels if isinstance(labels, dict) else {}

    @property
    def where(self) -> str:
        """``Kind/ns/name (file:line)`` — the subject of an error message."""
        return f"{self.key.display} ({self.source})" if self.source else self.key.display

    @property
    def is_secret(self) -> bool:
        return self.key.group == "" and self.key.kind == "Secret"


@dataclass(frozen=True, slots=True)
class Owner:
    """Who applies an object: an app's name and a digest of its source
    (repository and path), so two apps that share a name (two directories
    called ``prod``) are two owners. ``source`` is "" for an owner read from a
    tracking id that an older gitwave wrote (name only).

    ``scope`` is where the app's name is unique when it is not unique alone:
    the controller's apps are cluster objects, named once per kind and
    namespace (``Application/team-a``), so an Application ``web`` in team-a and
    one in team-b, same repository and path, are two owners (Argo CD's apps in
    any namespace track ``<namespace>_<name>``; Flux labels the Kustomization's
    name and namespace). "" for the command line's apps, whose names are
    unique, and for tracking ids written before scopes were recorded.

    Its tracking id (the ``gitwave.dev/tracking-id`` annotation) is Argo CD's
    annotation tracking id with the source after the name, and the scope before
    it: ``prod@1a2b3c4d5e6f:apps/Deployment:shop/api``,
    ``Application/team-a/web@1a2b3c4d5e6f:apps/Deployment:shop/api``.
    """

    app: str
    source: str = ""
    scope: str = ""

    @property
    def who(self) -> str:
        """The app as its tracking id names it: ``[scope/]name[@source]``, also
        how history rows and child-app records name it (``parse`` reads it)."""
        name = f"{self.scope}/{self.app}" if self.scope else self.app
        return f"{name}@{self.source}" if self.source else name

    def tracking_id(self, key: ResourceKey) -> str:
        """The annotation value that marks ``key`` as applied by this owner."""
        return f"{self.who}:{key.group}/{key.kind}:{key.namespace}/{key.name}"

    @staticmethod
    def parse(who: str) -> Owner:
        """The owner ``who`` (``Owner.who``) names. App names are RFC 1123 names,
        so neither ``/`` nor ``@`` is part of one."""
        name, _, source = who.partition("@")
        scope, _, app = name.rpartition("/")
        return Owner(app, source, scope)

    @staticmethod
    def of(annotations: Mapping[str, Any]) -> Owner | None:
        """The owner a tracking id names; None when there is none (or it is no string)."""
        value = annotations.get(ANNOTATION_TRACKING_ID)
        if not isinstance(value, str):
            return None
        found = Owner.parse(value.partition(":")[0])
        return found if found.app else None

    def __str__(self) -> str:
        name = f"{self.scope}/{self.app}" if self.scope else self.app
        if not self.source:
            return f"app {name} (no source recorded)"
        return f"app {name} (source {self.source})"


def tracking_id(app: str, key: ResourceKey, source: str = "") -> str:
    """The annotation value that marks an object as applied by ``app`` from
    ``source`` (see :class:`Owner`).

    Only objects whose annotation equals this exactly are ever pruned, so an
    object copied from another app (annotation and all) is left alone.
    """
    return Owner(app, source).tracking_id(key)
