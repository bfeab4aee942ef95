"""An app's live tree: app → composite → composed resources, each object → what
it owns (Deployment → ReplicaSet → Pod), built from the operation's AppState.

A composite (XR, claim, kro instance) is composed away, so it is no task of the
plan; it gets a node of its own whose health carries its Crossplane conditions
(``Synced True, Ready False (Creating: Unready resources: db)``).

Owned objects are listed only through a target that can list objects
(``ObjectLister``, which the sandbox is); elsewhere the tree shows the desired
objects as observed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from gitwave.compositions.model import ANNOTATION_COMPOSITE, CompositeNode
from gitwave.engine.app_pipeline import composite_status
from gitwave.engine.errors import ProviderError
from gitwave.engine.model import Action, Health, Live, Plan, ResourceKey, Task, Wave
from gitwave.engine.operations import AppState
from gitwave.engine.provider import ObjectLister
from gitwave.engine.rollouts import is_rollout, rollout_note
from gitwave.engine.router import ProviderRouter
from gitwave.tui.natural import shown_order
from gitwave.tui.views import ResourceNode

# The kinds controllers create for the objects an app applies (a Deployment's
# ReplicaSets and their Pods, a CronJob's Jobs, a StatefulSet's revisions, a
# Service's endpoint slices): what the live tree shows under them.
OWNED_KINDS = (
    ("apps/v1", "ReplicaSet"),
    ("v1", "Pod"),
    ("batch/v1", "Job"),
    ("apps/v1", "ControllerRevision"),
    ("discovery.k8s.io/v1", "EndpointSlice"),
)


def _wave_of(plan: Plan) -> dict[ResourceKey, Wave]:
    return {task.key: wave for wave in plan.waves for task in wave.tasks}


def _uid(live: Live | None) -> str:
    if live is None:
        return ""
    meta = live.manifest.get("metadata") or {}
    return str(meta.get("uid") or "")


def _created(live: Live | None) -> str:
    if live is None:
        return ""
    meta = live.manifest.get("metadata") or {}
    return str(meta.get("creationTimestamp") or "")


def _owner_uid(live: Live) -> str:
    """The uid of the object's controlling owner (else its first owner); "" when none."""
    meta = live.manifest.get("metadata") or {}
    refs = [r for r in meta.get("ownerReferences") or [] if isinstance(r, dict) and r.get("uid")]
    for ref in refs:
        if ref.get("controller"):
            return str(ref["uid"])
    return str(refs[0]["uid"]) if refs else ""


def owned_objects(state: AppState, targets: ProviderRouter) -> dict[str, list[Live]]:
    """Owner uid → the live objects of an OWNED_KINDS kind it owns.

    Only those kinds are listed: reading every object of the app's
    namespaces again would decode the whole app a second time (a third of
    a 10,000-object app's refresh went there)."""
    owned: dict[str, list[Live]] = {}
    for api_version, kind in OWNED_KINDS:
        try:
            lister = targets.for_kind(api_version, kind)
        except ProviderError:
            continue  # no target serves the kind: nothing of it to show
        if not isinstance(lister, ObjectLister):
            continue  # observe only (see the module docstring)
        for live in lister.list(kind=kind):
            owner = _owner_uid(live)
            if owner:
                owned.setdefault(owner, []).append(live)
    return owned


def live_tree(
    state: AppState, healths: Mapping[ResourceKey, Health], targets: ProviderRouter
) -> tuple[ResourceNode, ...]:
    """app → composite → composed resources; each object → what it owns; each
    level in the order shown (``natural.shown_order``), sorted here, in the
    worker, so that opening a big app does not sort it."""
    return shown_order(_live_tree(state, healths, targets))


def _live_tree(
    state: AppState, healths: Mapping[ResourceKey, Health], targets: ProviderRouter
) -> tuple[ResourceNode, ...]:
    plan = state.plan
    waves = _wave_of(plan)
    owned = owned_objects(state, targets)
    seen: set[str] = set()

    def owned_nodes(live: Live | None) -> tuple[ResourceNode, ...]:
        uid = _uid(live)
        if not uid or uid in seen:  # a uid loop (a damaged target) stops here
            return ()
        seen.add(uid)
        children = sorted(owned.get(uid, ()), key=lambda c: c.key)
        return tuple(
            ResourceNode(
                key=child.key,
                action=None,
                health=targets.for_live(child).health(child),
                children=owned_nodes(child),
                created=_created(child),
            )
            for child in children
        )

    def planned(task: Task) -> ResourceNode:
        wave = waves[task.key]
        live = state.live.get(task.key) if task.action is not Action.PRUNE else task.live
        return ResourceNode(
            key=task.key,
            action=task.action,
            health=healths.get(task.key),
            wave=wave.label,
            phase=wave.phase,
            wave_number=wave.number,
            children=owned_nodes(live),
            created=_created(live),
            note=rollout_note(live) if live is not None and is_rollout(task.key) else "",
        )

    tasks = list(plan.tasks())
    # A composite that is itself an object of the plan holds the objects that
    # name it in gitwave.dev/composite.
    by_display = {t.key.display: t.key for t in tasks}
    composite_of: dict[ResourceKey, ResourceKey] = {}
    for task in tasks:
        if task.desired is None:
            continue
        holder = by_display.get(task.desired.annotations.get(ANNOTATION_COMPOSITE, ""))
        if holder is not None and holder != task.key:
            composite_of[task.key] = holder
    planned_nodes = {t.key: planned(t) for t in tasks}
    held: dict[ResourceKey, list[ResourceNode]] = {}
    for key, holder in composite_of.items():
        held.setdefault(holder, []).append(planned_nodes[key])

    def with_held(key: ResourceKey, trail: frozenset[ResourceKey]) -> ResourceNode:
        node = planned_nodes[key]
        parts = held.get(key)
        if not parts or key in trail:
            return node
        inner = tuple(with_held(p.key, trail | {key}) for p in parts)
        return replace(node, children=inner + node.children)

    tasks = [t for t in tasks if t.key not in composite_of]
    nodes = {t.key: with_held(t.key, frozenset()) for t in tasks}
    composed = composite_status(state, targets=targets) if state.composed.composites else None
    if composed is None:
        return tuple(nodes[t.key] for t in tasks)
    unsynced = frozenset(t.key for t in tasks if t.action in (Action.CREATE, Action.UPDATE))

    def composite_node(node: CompositeNode, trail: frozenset[ResourceKey]) -> ResourceNode:
        children = []
        for key in node.composed:
            inner = composed.composite(key)
            if inner is not None and key not in trail:
                children.append(composite_node(inner, trail | {key}))
            elif key in nodes:
                children.append(nodes[key])
        return ResourceNode(
            key=node.key, action=None, health=node.health(unsynced), children=tuple(children)
        )

    def top(key: ResourceKey) -> CompositeNode | None:
        owner, seen = composed.owner_of(key), {key}
        while owner is not None and owner.key not in seen:
            seen.add(owner.key)
            parent = composed.owner_of(owner.key)
            if parent is None:
                return owner
            owner = parent
        return owner

    # Each composite stands where its first composed resource would, with its
    # composed resources (and nested composites) under it, as `crossplane beta trace`.
    roots: list[ResourceNode] = []
    placed: set[ResourceKey] = set()
    for task in tasks:
        owner = top(task.key)
        if owner is None:
            roots.append(nodes[task.key])
        elif owner.key not in placed:
            placed.add(owner.key)
            roots.append(composite_node(owner, frozenset({owner.key})))
    return tuple(roots)
