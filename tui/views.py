"""The values the TUI shows: an app's row, its view, the nodes of its live tree.

The controller (``tui.controller``) makes them; screens only read them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from gitwave.engine.apps import AppSpec
from gitwave.engine.errors import GitwaveError
from gitwave.engine.model import Action, Health, HookPhase, Plan, ResourceKey, SyncStatus, Task
from gitwave.engine.operations import AppState
from gitwave.engine.store_records import SyncRecord
from gitwave.tui.formatting import revision_text


class AutoSync(enum.Enum):
    """The auto-sync state of an app: its policy, and a pause an operator set."""

    OFF = "off"
    ON = "on"
    PAUSED = "paused"
    PINNED = "pinned"  # a rollback holds it at a revision (gitwave unpin lifts it)

    @staticmethod
    def of(app: AppSpec, *, paused: bool, pinned: bool = False) -> AutoSync:
        if not app.policy.automated:
            return AutoSync.OFF
        if paused:
            return AutoSync.PAUSED
        return AutoSync.PINNED if pinned else AutoSync.ON


@dataclass(frozen=True, slots=True)
class Revision:
    """A commit as the app list shows it: the SHA and its subject line."""

    sha: str
    subject: str = ""

    @property
    def short(self) -> str:
        return revision_text(self.sha)


@dataclass(frozen=True, slots=True)
class ResourceNode:
    """One node of an app's live tree.

    ``action`` is what a sync would do with it; None for an object no plan
    holds (a ReplicaSet or Pod a desired Deployment owns). ``wave`` is the
    label of the plan wave it runs in ("" when not planned). ``health`` is
    None when nothing is live to judge (a hook not run yet). ``created`` gives
    the AGE column, as k9s's.
    """

    key: ResourceKey
    action: Action | None
    health: Health | None
    wave: str = ""
    phase: HookPhase | None = None
    wave_number: int = 0
    children: tuple[ResourceNode, ...] = ()
    created: str = ""  # the live object's creationTimestamp (RFC 3339; "" when none)
    # What the object is doing, for people (a Rollout's step and weight); "" for most.
    note: str = ""

    def walk(self) -> Iterable[ResourceNode]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True, slots=True)
class AppSummary:
    """One row of the Applications screen."""

    name: str
    sync: SyncStatus
    health: Health
    revision: Revision
    last: SyncRecord | None
    auto_sync: AutoSync
    resources: int = 0
    error: str = ""
    destination: str = ""  # cluster/namespace ("in-cluster": the current target)
    # What the project's sync windows say now ("" when none matches the app).
    window: str = ""
    window_blocks: bool = False
    # "Syncing" while a sync of the app runs, in this process or another
    # (the history's Running row, its lock held); "" otherwise.
    operation: str = ""
    operation_by: str = ""  # who runs it: ``pid 4242 (gitwave sync, started 13:45:01)``


@dataclass(frozen=True, slots=True)
class AppView:
    """Everything the Application, Diff and waves views show of one app.

    ``state`` is None when the app could not be planned; ``summary.error``
    says why.
    """

    spec: AppSpec
    summary: AppSummary
    state: AppState | None
    nodes: tuple[ResourceNode, ...] = ()
    observed_at: float = 0.0

    @property
    def plan(self) -> Plan | None:
        return self.state.plan if self.state is not None else None

    def task(self, key: ResourceKey) -> Task | None:
        """The plan task of ``key``, if the plan holds one."""
        if self.state is None:
            return None
        return next((t for t in self.state.plan.tasks() if t.key == key), None)

    def node(self, key: ResourceKey) -> ResourceNode | None:
        for root in self.nodes:
            for node in root.walk():
                if node.key == key:
                    return node
        return None

    def owner_of(self, key: ResourceKey) -> ResourceNode | None:
        """The planned node whose subtree holds ``key`` (an owned Pod's Deployment)."""
        for root in self.nodes:
            if any(node.key == key for node in root.walk()):
                return root
        return None


class PlanChangedError(GitwaveError):
    """The plan changed between the confirmation and the sync; nothing was applied."""

    def __init__(self, app: str, detail: str) -> None:
        super().__init__(
            f"app {app}: {detail}; nothing was applied",
            hint="review the new plan and confirm again",
        )
