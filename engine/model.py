"""Core values shared by every stage: keys, resources, live state, health, plans.

Everything here is a frozen value. Manifests are plain dicts for speed (10,000
objects are parsed, diffed and hashed per plan); no stage ever mutates a
manifest it was given — a stage that needs a changed copy makes one.

This is the vocabulary every stage, provider and front end shares (DESIGN.md
names it the home of the core types, and providers import it as public API):
import every core type from here. The types live in three modules by job —
keys, resources and owners in ``model_keys``, observed objects and health in
``model_live``, plans and what a sync did here — re-exported so no importer
needs to know which.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from gitwave.engine.model_keys import (
    ANNOTATION_COMPARE_OPTIONS_ARGO,
    ANNOTATION_DEPENDS_ON,
    ANNOTATION_HOOK_ARGO,
    ANNOTATION_HOOK_DELETE_POLICY_ARGO,
    ANNOTATION_SYNC_OPTIONS_ARGO,
    ANNOTATION_SYNC_WAVE,
    ANNOTATION_SYNC_WAVE_ARGO,
    ANNOTATION_TRACKING_ID,
    DEFAULT_HOOK_DELETE_POLICIES,
    LABEL_APP,
    SERVER_METADATA_FIELDS,
    ApplyMode,
    Dependency,
    DependencyReason,
    HookDeletePolicy,
    HookPhase,
    InstallGate,
    Manifest,
    NodeFacts,
    Owner,
    Resource,
    ResourceKey,
    SourceRef,
    tracking_id,
)
from gitwave.engine.model_live import (
    Health,
    HealthCode,
    Live,
)

__all__ = [
    "ANNOTATION_COMPARE_OPTIONS_ARGO",
    "ANNOTATION_DEPENDS_ON",
    "ANNOTATION_HOOK_ARGO",
    "ANNOTATION_HOOK_DELETE_POLICY_ARGO",
    "ANNOTATION_SYNC_OPTIONS_ARGO",
    "ANNOTATION_SYNC_WAVE",
    "ANNOTATION_SYNC_WAVE_ARGO",
    "ANNOTATION_TRACKING_ID",
    "DEFAULT_HOOK_DELETE_POLICIES",
    "LABEL_APP",
    "SERVER_METADATA_FIELDS",
    "Action",
    "ApplyMode",
    "ChangeAction",
    "ChangeSet",
    "ChangeSetEntry",
    "Dependency",
    "DependencyReason",
    "FieldChange",
    "FieldOp",
    "Health",
    "HealthCode",
    "HookDeletePolicy",
    "HookPhase",
    "InstallGate",
    "Kept",
    "Live",
    "Manifest",
    "NodeFacts",
    "Owner",
    "Plan",
    "Propagation",
    "Resource",
    "ResourceKey",
    "SourceRef",
    "SyncStatus",
    "Task",
    "Wave",
    "tracking_id",
]


class FieldOp(enum.Enum):
    ADD = "add"  # the desired state sets a field the live object lacks
    REPLACE = "replace"  # both have it, with different values
    REMOVE = "remove"  # Git no longer sets a field gitwave set before


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field that differs. ``path`` is dotted with list indices in brackets,
    e.g. ``spec.template.spec.containers[0].image``. Values of Secret data are
    already masked (``"***"``) when a FieldChange leaves the diff stage."""

    path: str
    op: FieldOp
    live: Any = None
    desired: Any = None


class Action(enum.Enum):
    """What a sync will do with one object."""

    CREATE = "create"
    UPDATE = "update"
    NONE = "none"  # in sync; observed for health only
    PRUNE = "prune"
    HOOK = "hook"  # a hook object: (re)created every sync

    @property
    def changes_target(self) -> bool:
        return self is not Action.NONE

    @property
    def symbol(self) -> str:
        return _ACTION_SYMBOL[self]


_ACTION_SYMBOL = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.NONE: " ",
    Action.PRUNE: "-",
    Action.HOOK: "*",
}


@dataclass(frozen=True, slots=True)
class Task:
    """One step of a plan. A task without ``desired`` is a prune.

    ``facts`` are the graph's facts about the desired object (None for a
    prune): the sync reads a hook's delete policies there."""

    key: ResourceKey
    action: Action
    desired: Resource | None = None
    live: Live | None = None
    changes: tuple[FieldChange, ...] = ()
    facts: NodeFacts | None = None


@dataclass(frozen=True, slots=True)
class Wave:
    """The tasks that run together: applied in parallel, then waited on until healthy."""

    phase: HookPhase
    number: int
    tasks: tuple[Task, ...]
    # One (phase, wave) splits into steps when objects of it depend on each
    # other (a ConfigMap and the Deployment of the same wave that mounts it): step n+1 starts
    # once step n is healthy. Waves without such dependencies have only step 0.
    step: int = 0

    @property
    def label(self) -> str:
        base = f"{self.phase.value} wave {self.number}"
        return f"{base} step {self.step}" if self.step else base


@dataclass(frozen=True, slots=True)
class Plan:
    """What a sync would do, wave by wave, at one source revision."""

    app: str
    revision: str
    waves: tuple[Wave, ...]
    warnings: tuple[str, ...] = ()
    # The digest of the app's source (Owner.source) and where its name is unique
    # (Owner.scope): with ``app``, whose objects these are.
    source: str = ""
    scope: str = ""
    # Objects gone from the source that a sync with prune would delete: the
    # app is OutOfSync while they are there (Argo CD's "requires pruning").
    unpruned: tuple[ResourceKey, ...] = ()
    # Objects gone from the source that no sync deletes, and why.
    kept: tuple[Kept, ...] = ()
    # Objects another owner applied that this plan takes over (``--adopt``):
    # the sync re-checks their tracking id is still the one planned.
    adopted: tuple[ResourceKey, ...] = ()
    # Desired objects no sync applies by policy (a HelmRelease's CRDs under
    # ``Skip``): absent, they are not Missing; present, they stay as they are.
    left_alone: tuple[ResourceKey, ...] = ()

    def tasks(self) -> Iterator[Task]:
        for wave in self.waves:
            yield from wave.tasks

    @property
    def owner(self) -> Owner:
        return Owner(self.app, self.source, self.scope)

    @property
    def has_changes(self) -> bool:
        """Whether a sync would change the target (hooks aside)."""
        return any(t.action.changes_target and t.action is not Action.HOOK for t in self.tasks())

    @property
    def out_of_sync(self) -> bool:
        """The target differs from the source: changes to make, or objects to prune."""
        return self.has_changes or bool(self.unpruned)

    def counts(self) -> dict[Action, int]:
        counts = dict.fromkeys(Action, 0)
        for task in self.tasks():
            counts[task.action] += 1
        return counts


class ChangeAction(enum.Enum):
    """What a sync did with one object (Flux's ChangeSet vocabulary)."""

    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    # Deleted from gitwave's inventory only: the object's own policy (Crossplane's
    # deletionPolicy: Orphan) keeps it on the target, so nothing waits for it to go.
    ORPHANED = "orphaned"
    SKIPPED = "skipped"
    FAILED = "failed"

    @property
    def is_failure(self) -> bool:
        return self is ChangeAction.FAILED


@dataclass(frozen=True, slots=True)
class ChangeSetEntry:
    key: ResourceKey
    action: ChangeAction
    message: str = ""
    changes: tuple[FieldChange, ...] = ()
    live: Live | None = None


@dataclass(frozen=True, slots=True)
class ChangeSet:
    entries: tuple[ChangeSetEntry, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> tuple[ChangeSetEntry, ...]:
        return tuple(e for e in self.entries if e.action.is_failure)

    def counts(self) -> dict[ChangeAction, int]:
        counts = dict.fromkeys(ChangeAction, 0)
        for entry in self.entries:
            counts[entry.action] += 1
        return counts


class Propagation(enum.Enum):
    """Kubernetes delete propagation (Argo CD's PrunePropagationPolicy)."""

    FOREGROUND = "foreground"
    BACKGROUND = "background"
    ORPHAN = "orphan"


@dataclass(frozen=True, slots=True)
class Kept:
    """A live object of an app that is gone from its source but that a sync
    does not prune, and why (``Prune=false``, a kind never pruned implicitly)."""

    key: ResourceKey
    reason: str


class SyncStatus(enum.Enum):
    """Whether the target matches Git (Argo CD's sync status of an app)."""

    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    UNKNOWN = "Unknown"  # the app could not be planned (a render error, an unreachable target)

    @staticmethod
    def of_plan(plan: Plan) -> SyncStatus:
        """Synced when ``plan`` changes nothing and leaves nothing to prune, else OutOfSync."""
        return SyncStatus.OUT_OF_SYNC if plan.out_of_sync else SyncStatus.SYNCED
