"""Plan stage: the graph, diffed against the live state, as waves of tasks.

``make_plan`` decides, object by object, what a sync will do (create, update,
nothing, run a hook, prune) and in which wave; ``engine/plan_report.py``
turns the result into lines of text and plain data.

Wave layout of a plan, in run order: the PreSync stages, the Sync stages with
the prune waves placed among them, the PostSync stages, and last the SyncFail
stages, which a sync runs only when an earlier wave failed.

Prune order follows Argo CD (``engine/plan_prune.py`` picks the objects and
their waves): the prune waves reuse the wave numbers the pruned objects carry,
in reverse (the object created in the highest wave is deleted in the lowest
prune wave), and each prune wave runs right after the apply stages of the wave
whose number it carries. Inside a prune wave, objects go in reverse
kind order (Deployments before their Namespace). With ``prune_last`` (or the
``PruneLast=true`` sync option on the live object) prunes run in one wave after
every other Sync wave.

Whose objects a plan may update or prune, and which of its own it keeps, is
``engine/ownership.py``: an object another app owns stops the plan.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from gitwave.engine.diff import SameValue, diff_manifest, removed_fields
from gitwave.engine.errors import ValidationError
from gitwave.engine.graph import ResourceGraph, order_key
from gitwave.engine.mask import is_secret_key, mask_like, mask_secret_manifest, mask_values
from gitwave.engine.model import (
    Action,
    ApplyMode,
    HookPhase,
    Live,
    Owner,
    Plan,
    Resource,
    ResourceKey,
    Task,
    Wave,
)
from gitwave.engine.ownership import (
    Claim,
    check_owners,
    claim_of,
    namesake_elsewhere,
    retrack_change,
)
from gitwave.engine.plan_gates import apply_modes, forced_modes, left_as_is
from gitwave.engine.plan_prune import check_safe_to_prune, prune_candidates, prune_waves

__all__ = ["PlanOptions", "make_plan"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanOptions:
    """How to plan one sync (Argo CD's sync options).

    ``ignore`` maps an object to the JSON pointers of fields whose drift is not
    reported (``diff.ignore_pointers`` builds it from ignoreDifferences rules).
    ``create_namespace`` means the sync creates any namespace the render needs,
    so a missing one is not an error. ``apply_out_of_sync_only`` leaves objects
    that are in sync out of the plan altogether (not applied, not waited on).
    ``same_values`` maps an object to its target's comparison of values the
    target normalises (``provider.ValueComparer``).
    ``adopt`` takes over objects another app owns instead of refusing them;
    ``prune_protected`` lets prune delete Namespaces, CRDs and PVCs (the
    ``PruneProtectedKinds=true`` sync option). ``source_label`` is the app's
    source as errors name it. ``removed_from`` names the app of apps a child
    app was removed from (the plan is of what the child left): its objects are
    pruned only with ``cascade`` (it carried Argo CD's resources-finalizer).
    ``in_sync`` names objects an earlier plan found in sync with exactly the
    same desired and live objects (``plan_memo``): they are not compared again.
    ``force`` (``sync --force``) replaces live gated objects (a HelmRelease's
    CRDs) whatever their ``install.crds``/``upgrade.crds`` policy.
    """

    prune: bool = False
    adopt: bool = False
    prune_protected: bool = False
    source_label: str = ""
    removed_from: str = ""
    cascade: bool = False
    prune_last: bool = False
    allow_empty: bool = False
    create_namespace: bool = False
    apply_out_of_sync_only: bool = False
    ignore: Mapping[ResourceKey, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    same_values: Mapping[ResourceKey, SameValue] = field(
        default_factory=lambda: MappingProxyType({})
    )
    in_sync: frozenset[ResourceKey] = frozenset()
    force: bool = False


def make_plan(
    *,
    app: str,
    revision: str,
    graph: ResourceGraph,
    live: Mapping[ResourceKey, Live | None],
    tracked: Sequence[Live],
    options: PlanOptions,
    namespaces_live: Collection[str] = (),
    source: str = "",
    scope: str = "",
) -> Plan:
    """What a sync of ``graph`` at ``revision`` would do.

    ``live`` holds what was observed of each desired object (None: known to be
    absent; a key missing from the mapping counts as absent). ``tracked`` holds
    the live objects labelled as ``app``'s, the prune candidates.
    ``namespaces_live`` names the namespaces that exist on the target.
    ``source`` is the digest of the app's source and ``scope`` where its name is
    unique, "" for the command line's apps (``Owner``).

    Raises ValidationError when a namespaced object's namespace neither exists
    nor is in the render; OwnershipError when an object the plan would touch
    belongs to another app (unless ``adopt``); SafetyError when prune is on and
    the view is partial, or the render is empty (unless ``allow_empty``).
    Nothing is planned then.
    """
    owner = Owner(app, source, scope)
    _check_namespaces(graph, live, options, namespaces_live)
    modes = (
        # The app's own live objects say whether a release was installed (another
        # app's release of the same name is not this one). Read only when there
        # are gated objects: most plans have none, and some have 10,000 objects.
        apply_modes(graph.resources.values(), _own(owner, (*live.values(), *tracked)))
        if any(r.install_gate is not None for r in graph.resources.values())
        else {}
    )
    if options.force and modes:
        modes = forced_modes(modes, live)
    # Objects this sync leaves as they are (a skipped CRD, an existing create-only
    # one) may belong to anyone: they are checked no more than hooks are.
    untouched = {
        key
        for key, mode in modes.items()
        if mode is ApplyMode.SKIP or (mode is ApplyMode.CREATE_ONLY and live.get(key) is not None)
    }
    # An object an earlier plan found in sync with exactly this live object and
    # this owner (both digests hold them) was ours then, and whose it is depends
    # on nothing else: its live object is not read again. Not with install
    # gates: an object a gate left alone was found "in sync" unchecked.
    vouched = options.in_sync if not modes else frozenset()
    adopted = check_owners(
        owner,
        desired={key: live.get(key) for key in graph.resources},
        tracked=tracked,
        hooks={key for key in graph.resources if graph.facts_of(key).is_hook} | untouched | vouched,
        adopt=options.adopt,
        source_label=options.source_label,
    )
    pruning = prune_candidates(owner, graph, tracked, options, adopted)
    prunable, warnings = pruning.prunable, pruning.warnings
    if options.prune:
        check_safe_to_prune(app, graph, live, tracked, prunable, options)

    warnings.extend(left_as_is(graph, live, modes, options.ignore))
    placed: _Placed = []
    last_step: dict[int, int] = {}
    for stage in (*graph.stages, *graph.fail_stages):
        tasks = tuple(
            task
            for key in stage.keys
            if (
                task := _apply_task(
                    key, graph, live.get(key), options, owner, modes.get(key, ApplyMode.APPLY)
                )
            )
            is not None
        )
        if stage.phase is HookPhase.SYNC:
            last_step[stage.wave] = max(last_step.get(stage.wave, -1), stage.step)
        if tasks:
            wave = Wave(stage.phase, stage.wave, tasks, step=stage.step)
            placed.append(((stage.phase.order, stage.wave, 0, stage.step), wave))
    for number, doomed in prune_waves(prunable, graph, options).items():
        tasks = tuple(Task(seen.key, Action.PRUNE, None, _shown(seen)) for seen in doomed)
        wave = Wave(HookPhase.SYNC, number, tasks, step=last_step.get(number, -1) + 1)
        placed.append(((HookPhase.SYNC.order, number, 1, 0), wave))
    placed = _namespaces_before_hooks(placed)
    placed.sort(key=lambda entry: entry[0])
    return Plan(
        app=app,
        revision=revision,
        waves=tuple(wave for _, wave in placed),
        warnings=tuple(warnings),
        source=source,
        scope=scope,
        unpruned=pruning.unpruned,
        kept=pruning.kept,
        adopted=adopted,
        left_alone=tuple(
            sorted((k for k, m in modes.items() if m is ApplyMode.SKIP), key=order_key)
        ),
    )


_Placed = list[tuple[tuple[int, int, int, int], Wave]]


def _own(owner: Owner, seen: Iterable[Live | None]) -> list[Live]:
    """The live objects whose tracking id names ``owner``'s app (a namesake in
    another scope aside)."""
    return [
        s
        for s in seen
        if s is not None
        and (found := Owner.of(s.annotations)) is not None
        and found.app == owner.app
        and not namesake_elsewhere(s, owner)
    ]


def _namespaces_before_hooks(placed: _Placed) -> _Placed:
    """Create the namespaces PreSync hooks run in before those hooks run.

    A Namespace from Git belongs to the Sync phase, so on a first sync a
    PreSync Job in it would fail with "namespace not found"; Argo CD users hit
    this and work around it with CreateNamespace. gitwave moves just the
    creation of those namespaces into a wave of their own ahead of PreSync.
    """
    hook_namespaces = {
        task.key.namespace
        for _, wave in placed
        if wave.phase is HookPhase.PRE_SYNC
        for task in wave.tasks
        if task.key.namespace
    }
    if not hook_namespaces:
        return placed

    def early(task: Task) -> bool:
        return (
            task.action is Action.CREATE
            and task.key.group == ""
            and task.key.kind == "Namespace"
            and task.key.name in hook_namespaces
        )

    moved: list[Task] = []
    kept: _Placed = []
    for position, wave in placed:
        if wave.phase is HookPhase.SYNC and any(early(t) for t in wave.tasks):
            moved.extend(t for t in wave.tasks if early(t))
            rest = tuple(t for t in wave.tasks if not early(t))
            if rest:
                kept.append((position, Wave(wave.phase, wave.number, rest, step=wave.step)))
        else:
            kept.append((position, wave))
    if not moved:
        return placed
    first = min((w.number for _, w in kept if w.phase is HookPhase.PRE_SYNC), default=0)
    prelude = Wave(HookPhase.PRE_SYNC, first - 1, tuple(moved))
    kept.append(((HookPhase.PRE_SYNC.order, first - 1, 0, 0), prelude))
    return kept


def _shown(live: Live | None, desired: Resource | None = None) -> Live | None:
    """The Live a plan carries: a Secret's values are masked, and so are the
    fields where ``desired`` holds what a Secret's value became (Flux postBuild)."""
    if live is None:
        return live
    if desired is not None and desired.masked_values:
        manifest = mask_like(live.manifest, desired.manifest, desired.masked_values)
        live = Live(live.key, manifest, live.resource_version, live.complete)
    if not is_secret_key(live.key):
        return live
    return Live(live.key, mask_secret_manifest(live.manifest), live.resource_version, live.complete)


def _apply_task(
    key: ResourceKey,
    graph: ResourceGraph,
    seen: Live | None,
    options: PlanOptions,
    owner: Owner,
    mode: ApplyMode = ApplyMode.APPLY,
) -> Task | None:
    resource = graph.resources[key]
    facts = graph.facts_of(key)
    masked = resource.masked_values
    if facts.is_hook:
        return Task(key, Action.HOOK, resource, _shown(seen, resource), facts=facts)
    if mode is ApplyMode.SKIP:
        return None  # never applied nor waited on; still desired, so never pruned
    if seen is None:
        return Task(key, Action.CREATE, resource, None, facts=facts)
    if mode is ApplyMode.CREATE_ONLY:
        return Task(key, Action.NONE, resource, _shown(seen, resource), facts=facts)
    if key in options.in_sync:
        if options.apply_out_of_sync_only:
            return None
        return Task(key, Action.NONE, resource, _shown(seen, resource), facts=facts)
    ignore = options.ignore.get(key, ())
    secret = resource.is_secret
    same = options.same_values.get(key)
    changes = diff_manifest(
        resource.manifest, seen.manifest, ignore=ignore, is_secret=secret, same=same
    ) + removed_fields(resource.manifest, seen.manifest, ignore=ignore, is_secret=secret)
    if claim_of(seen, owner) is not Claim.OURS:
        # Taken over (an older tracking id, none, or adopted): apply once to rewrite it.
        changes = (*changes, retrack_change(seen, owner))
    if masked:
        changes = tuple(mask_values(change, masked) for change in changes)
    if changes:
        return Task(key, Action.UPDATE, resource, _shown(seen, resource), changes, facts=facts)
    if options.apply_out_of_sync_only:
        return None
    return Task(key, Action.NONE, resource, _shown(seen, resource), facts=facts)


def _check_namespaces(
    graph: ResourceGraph,
    live: Mapping[ResourceKey, Live | None],
    options: PlanOptions,
    namespaces_live: Collection[str],
) -> None:
    if options.create_namespace:
        return
    known = set(namespaces_live)
    for key, seen in live.items():
        if seen is not None and key.group == "" and key.kind == "Namespace":
            known.add(key.name)
    for key in graph.resources:
        if key.group == "" and key.kind == "Namespace":
            known.add(key.name)
    missing = [key for key in graph.order if key.namespace and key.namespace not in known]
    if missing:
        first = missing[0]
        more = f" (and {len(missing) - 1} more objects)" if len(missing) > 1 else ""
        error = ValidationError(
            graph.resources[first].where,
            f"namespace {first.namespace!r} does not exist and is not in the render{more}",
            hint="add a Namespace manifest or set CreateNamespace=true",
        )
        error.cli_hint = "add a Namespace manifest or pass --create-namespace"
        raise error
