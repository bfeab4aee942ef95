"""The prune guard: a plan that would delete too much stops before anything runs.

A plan that prunes more than an app's prune limit (a share of its inventory,
25 % by default; ``gitwave.dev/prune-limit`` on the app, ``--prune-limit`` on
the command line) or that deletes any stateful object (a PVC, a StatefulSet, a
database instance, a bucket) is *guarded*: ``operations.sync`` refuses it
unless the request carries ``confirm_prune`` (``sync --confirm-prune``, the
TUI's typed confirmation). The loop never confirms on its own: it reports the
app OutOfSync with the reason and waits for a confirmed manual sync.

``blast_radius`` is pure: it reads the plan's prune tasks and the graph, and
adds the dependants a prune leaves broken (a Deployment that mounts a pruned
Secret), found by the same implied references the graph stage uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from gitwave.engine.app_pipeline import AppState
from gitwave.engine.apps.fields import ANNOTATION_PRUNE_LIMIT
from gitwave.engine.dag import Dag
from gitwave.engine.errors import SafetyError, ValidationError
from gitwave.engine.graph_edges import implied_edges, order_key
from gitwave.engine.graph_facts import node_facts
from gitwave.engine.graph_prune import live_edges
from gitwave.engine.model import Action, HookPhase, NodeFacts, Resource, ResourceKey, Task

__all__ = [
    "ANNOTATION_PRUNE_LIMIT",
    "DEFAULT_PRUNE_LIMIT",
    "MIN_GUARDED_PRUNES",
    "BlastRadius",
    "PruneGuardError",
    "blast_radius",
    "check",
    "is_stateful",
]

DEFAULT_PRUNE_LIMIT = 25.0
# The share check needs at least this many prunes: deleting one file from a
# small app (1 of 3 objects is 33 %) is an everyday change, not a mass deletion.
# A single stateful object still stops.
MIN_GUARDED_PRUNES = 2

# Kinds whose deletion loses data: by kind, whatever the group (the AWS
# providers' DBInstance, Crossplane's rds Instance, ACK's and Crossplane's Bucket).
_STATEFUL_KINDS = frozenset(
    {"PersistentVolumeClaim", "StatefulSet", "DBInstance", "DBCluster", "Bucket"}
)
# An object left in place and the pruned objects it uses.
Dependant = tuple[ResourceKey, tuple[ResourceKey, ...]]
_PLAIN = NodeFacts((HookPhase.SYNC,), 0, is_hook=False, delete_policies=frozenset())


def is_stateful(key: ResourceKey) -> bool:
    """Whether deleting ``key`` loses data (its kind holds state)."""
    if key.kind in _STATEFUL_KINDS:
        return True
    # An RDS ``Instance`` (rds.aws.upbound.io, rds.aws.crossplane.io), not every Instance.
    return key.kind == "Instance" and "rds" in key.group.split(".")


@dataclass(frozen=True, slots=True)
class BlastRadius:
    """What a plan's prune deletes and breaks, and whether the guard stops it.

    ``inventory`` is the number of the app's objects on the target (those to
    keep plus those to prune); ``broken`` maps each object left in place that
    uses a pruned one (directly or through others) to the pruned objects it uses."""

    app: str
    pruned: tuple[ResourceKey, ...]
    inventory: int
    limit: float
    stateful: tuple[ResourceKey, ...]
    broken: tuple[Dependant, ...]

    @property
    def percent(self) -> float:
        return 100.0 * len(self.pruned) / self.inventory if self.inventory else 0.0

    @property
    def over_limit(self) -> bool:
        return len(self.pruned) >= MIN_GUARDED_PRUNES and self.percent > self.limit

    @property
    def stops(self) -> bool:
        """Whether a sync needs ``--confirm-prune`` (or the TUI's typed confirmation)."""
        return self.over_limit or bool(self.stateful)

    @property
    def reason(self) -> str:
        """Why the guard stops the sync ("" when it does not)."""
        parts = []
        if self.over_limit:
            parts.append(
                f"prune of {len(self.pruned)} of {self.inventory} objects "
                f"({self.percent:.0f}%) exceeds the prune limit of {self.limit:g}%"
            )
        if self.stateful:
            parts.append("prune deletes stateful " + ", ".join(k.display for k in self.stateful))
        return "; ".join(parts)

    def lines(self) -> list[str]:
        """The blast radius as text lines: each pruned object, each broken dependant."""
        out = [
            f"blast radius: {len(self.pruned)} of {self.inventory} objects pruned "
            f"({self.percent:.0f}%, limit {self.limit:g}%)"
        ]
        for key in self.pruned:
            out.append(f"  - {key.display}" + (" (stateful)" if key in self.stateful else ""))
        for key, uses in self.broken:
            out.append(f"  ! {key.display} left broken: uses {', '.join(u.display for u in uses)}")
        if self.stops:
            out.append(f"guard: a sync stops here ({self.reason}); confirm with --confirm-prune")
        return out


class PruneGuardError(SafetyError):
    """A sync refused by the prune guard; nothing was applied or deleted."""

    def __init__(self, blast: BlastRadius) -> None:
        super().__init__(
            f"refusing to sync app {blast.app}: {blast.reason}; nothing applied or deleted",
            hint=f"review `gitwave plan --prune` for the blast radius, then sync with "
            f"--confirm-prune (or raise {ANNOTATION_PRUNE_LIMIT} / --prune-limit)",
        )
        self.blast = blast


def blast_radius(state: AppState, *, limit: float | None = None) -> BlastRadius:
    """The blast radius of ``state``'s plan. ``limit`` (a percentage) overrides
    the app's ``gitwave.dev/prune-limit``, which overrides 25 %."""
    plan = state.plan
    prunes = [t for t in plan.tasks() if t.action is Action.PRUNE]
    pruned = tuple(sorted((t.key for t in prunes), key=order_key))
    if limit is None:
        limit = state.app.prune_limit if state.app.prune_limit is not None else DEFAULT_PRUNE_LIMIT
    # One pass over the facts (10,000 objects in a big app), not a call per key.
    live, facts = state.live, state.graph.facts
    inventory = sum(
        1 for k in state.graph.resources if not facts[k].is_hook and live.get(k) is not None
    ) + len(pruned)
    broken: tuple[Dependant, ...] = ()
    if pruned:
        broken = _broken(state, prunes)
    return BlastRadius(
        app=plan.app,
        pruned=pruned,
        inventory=inventory,
        limit=limit,
        stateful=tuple(k for k in pruned if is_stateful(k)),
        broken=broken,
    )


def _broken(state: AppState, prunes: list[Task]) -> tuple[Dependant, ...]:
    """Desired objects that use a pruned one, through the implied references
    among desired and pruned objects together and the graph's own edges."""
    lives = [t.live for t in prunes if t.live is not None]
    pruned = {t.key for t in prunes}
    resources: dict[ResourceKey, Resource] = dict(state.graph.resources)
    for live in lives:
        api_version = str(live.manifest.get("apiVersion", ""))
        resources[live.key] = Resource(live.key, api_version, live.manifest)
    facts: dict[ResourceKey, NodeFacts] = {}
    for key, resource in resources.items():
        try:
            facts[key] = node_facts(resource) or _PLAIN
        except ValidationError:
            facts[key] = _PLAIN
    dag = Dag(
        resources,
        (
            *state.graph.dag.edges,
            *live_edges(lives),
            *((u, v) for u, v in implied_edges(resources, facts) if u != v),
        ),
    )
    found: dict[ResourceKey, set[ResourceKey]] = {}
    for key in pruned:
        for user in dag.descendants(key):
            if user not in pruned:
                found.setdefault(user, set()).add(key)
    return tuple(
        (user, tuple(sorted(uses, key=order_key)))
        for user, uses in sorted(found.items(), key=lambda item: order_key(item[0]))
    )


def check(state: AppState, *, limit: float | None = None, confirmed: bool = False) -> BlastRadius:
    """The blast radius of ``state``; PruneGuardError when it stops and ``confirmed`` is False."""
    blast = blast_radius(state, limit=limit)
    if blast.stops and not confirmed:
        raise PruneGuardError(blast)
    return blast
