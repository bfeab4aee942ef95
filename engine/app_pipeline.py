"""One app through the pipeline, each stage once: render → compose → graph →
observe → plan, as one ``AppState`` value.

This is the I/O shell around the pure stages. ``plan_app`` renders the app and
hands the resources to ``plan_resources``, which composes them once, builds
the graph once, observes the live objects, binds the ``${…}`` references it
can and plans. Everything later in the operation (the sync, its late binder,
the health and status views) reads the stages' values from the ``AppState``
instead of computing them again. The operations layer (``engine.operations``)
is what callers use; this module is its engine room. The ``${…}`` references
are bound in ``app_references``, a big app's plan memo is ``app_memo``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, cast

from gitwave.compositions import Composed, compose, references
from gitwave.compositions.secret_ref import secret_key_of
from gitwave.engine import app_memo, plan_memo
from gitwave.engine.app_references import bind_known_references, referenced_secrets
from gitwave.engine.apps import AppSpec
from gitwave.engine.decryption_keys import render_for
from gitwave.engine.diff import SameValue
from gitwave.engine.errors import ValidationError
from gitwave.engine.graph import ResourceGraph
from gitwave.engine.graph_cache import keyed_graph
from gitwave.engine.ignore_annotation import with_annotation_pointers
from gitwave.engine.model import Action, Live, Manifest, Owner, Plan, Resource, ResourceKey, Task
from gitwave.engine.ownership import tracked_resource
from gitwave.engine.plan import PlanOptions, make_plan
from gitwave.engine.plan_memo import memo_entries, memo_store
from gitwave.engine.provider import DryRunPlanner, ValueComparer
from gitwave.engine.render import Rendered
from gitwave.engine.router import ProviderRouter, observe_all


@dataclass(frozen=True, slots=True)
class AppState:
    """Everything known about one app at one revision, before syncing: the
    value of each pipeline stage, computed once per operation.

    ``resources`` is the desired set as rendered (or as recorded in the
    history, for a rollback): what the history keeps for the next rollback.
    ``graph`` holds the composed resources with the references bound that
    could be bound against live objects. ``rendered`` is None for a rollback
    (nothing was rendered)."""

    app: AppSpec
    revision: str
    resources: tuple[Resource, ...]
    composed: Composed
    graph: ResourceGraph
    live: Mapping[ResourceKey, Live | None]
    plan: Plan
    rendered: Rendered | None = None
    # What the policy stage warned about or audited (engine.policy.Finding values).
    findings: tuple[Any, ...] = ()
    # Each desired object's digest (``plan_memo.desired_digest``; "" for none):
    # the plan memo's (apps big enough to keep one) and the pre-flight's (every app).
    digests: Mapping[ResourceKey, str] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )

    def with_plan(self, plan: Plan) -> AppState:
        """The same state with ``plan`` derived from its own (``plan_filters``)."""
        return dataclasses.replace(self, plan=plan)


def _namespaces_used(graph: ResourceGraph) -> set[str]:
    """Namespaces the desired objects use that are not desired themselves."""
    desired = {k.name for k in graph.resources if k.kind == "Namespace" and k.group == ""}
    return {k.namespace for k in graph.resources if k.namespace} - desired


def _live_namespaces(graph: ResourceGraph, targets: ProviderRouter) -> set[str]:
    """Namespaces the desired objects use that exist live but are not desired."""
    found = set()
    for namespace in sorted(_namespaces_used(graph)):
        key = ResourceKey("", "Namespace", "", namespace)
        if targets.for_kind("v1", "Namespace").observe(key) is not None:
            found.add(namespace)
    return found


@dataclass(frozen=True, slots=True)
class Desired:
    """What a render composes to, and the dependency graph of that: the pure
    part of the pipeline, with no target. One value per render: the reconcile
    loop keeps it for an app's commit and plans against it until the commit
    moves."""

    resources: tuple[Resource, ...]
    composed: Composed
    graph: ResourceGraph
    # The digest of the graph's input (``graph_cache``); "" when it has none.
    key: str = ""


def desired_of(resources: Sequence[Resource]) -> Desired:
    """Compose (XRs → managed resources) and build the dependency graph.
    Raises what ``compose`` and ``build_graph`` raise (bad composites, cycles)."""
    composed = compose(resources)
    # Kept across processes for big renders (``graph_cache``): the same input
    # gives the same graph, read back instead of built.
    graph, key = keyed_graph(composed.resources, extra_edges=composed.edges)
    return Desired(tuple(resources), composed, graph, key)


def plan_resources(
    app: AppSpec,
    resources: Sequence[Resource],
    *,
    revision: str,
    targets: ProviderRouter,
    prune: bool,
    parallelism: int = 8,
    keep: Collection[ResourceKey] = (),
    rendered: Rendered | None = None,
    desired: Desired | None = None,
    adopt: bool = False,
    owner: Owner | None = None,
    removed: bool = False,
    force: bool = False,
) -> AppState:
    """Compose, graph, observe and plan a set of desired resources for ``app``.

    ``keep`` names live objects that are never prune candidates although they
    are not in ``resources`` (the Secrets a rollback leaves as they are).
    ``desired`` is ``desired_of(resources)`` when the caller has it already.
    ``adopt`` takes over objects another app owns; ``owner`` is whose objects
    these are when not ``app.owner`` (a rollback: the owner the history recorded).
    ``removed``: ``app`` is a child gone from its app of apps (``resources`` is
    empty); its objects go with it only if it carried the resources-finalizer.
    ``force`` (``sync --force``) replaces live CRDs a HelmRelease's CRD policy
    leaves as they are (``PlanOptions.force``).

    Raises what ``compose``, ``build_graph`` and ``make_plan`` raise; the
    ValidationError for a namespace that exists nowhere is retriable (someone
    may create it)."""
    if desired is None:
        desired = desired_of(resources)
    composed, graph = desired.composed, desired.graph
    # Declared as the sync will apply them (tracking id included): a provider that
    # shows Git's side for what it cannot record (AWS observe-only) shows ours.
    who = app.owner if owner is None else owner
    targets.declare(tracked_resource(r, who) for r in targets.to_declare(graph.resources.values()))
    live = observe_all(graph.resources.values(), targets, parallelism=parallelism)
    graph = bind_known_references(graph, {**live, **referenced_secrets(graph, targets)})
    kept = frozenset(keep)
    tracked = [
        seen
        for seen in targets.list_tracked(app.name, exclude=graph.resources.keys())
        if seen.key not in kept
    ]
    options = PlanOptions(
        prune=prune,
        prune_last=app.policy.prune_last,
        allow_empty=app.policy.allow_empty,
        create_namespace=app.policy.create_namespace,
        ignore=with_annotation_pointers(
            app.ignore_pointers_for(graph.resources), graph.resources.values()
        ),
        apply_out_of_sync_only=app.policy.apply_out_of_sync_only,
        same_values=value_comparers(graph, targets),
        adopt=adopt,
        prune_protected=app.policy.prune_protected_kinds,
        source_label=app.source.identity if owner is None and not removed else "",
        removed_from=app.removed_from if removed else "",
        cascade=app.cascade,
        force=force,
    )
    owner = app.owner if owner is None else owner
    # A small app's comparison takes milliseconds, and a fleet of small apps
    # would write a memo file each: big apps only. Every app's digests are
    # taken though: the pre-flight keeps under them what passed its schema
    # check (``validate.preflight``), which for a small app costs more than
    # its whole plan (the schema library's import and a validator per kind).
    use_memo = len(graph.resources) >= plan_memo.MIN_OBJECTS
    digests = app_memo.desired_digests(desired, graph, options.ignore, owner)
    memo = memo_store()
    before = memo.load(memo_name(app)) if use_memo else {}
    known = plan_memo.in_sync(before, digests, live)
    memo.hits += len(known)
    options = dataclasses.replace(options, in_sync=known)
    namespaces_live = _live_namespaces(graph, targets)
    try:
        plan = make_plan(
            app=app.name,
            revision=revision,
            graph=graph,
            live=live,
            tracked=tracked,
            options=options,
            namespaces_live=namespaces_live,
            source=owner.source,
            scope=owner.scope,
        )
    except ValidationError as exc:
        if not app.policy.create_namespace and _namespaces_used(graph) - namespaces_live:
            # The input is fine; the target lacks a namespace that may appear
            # (created by hand or by another app), so a retry can succeed.
            exc.retriable = True
        raise
    if use_memo and not app_memo.memo_unchanged(plan, known, before):
        memo.save(memo_name(app), memo_entries(plan, digests, live), before=before)
    return AppState(
        app=app,
        revision=revision,
        resources=tuple(resources),
        composed=composed,
        graph=graph,
        live=live,
        plan=confirm_updates(plan, targets=targets),
        rendered=rendered,
        digests=MappingProxyType(digests),
    )


def memo_name(app: AppSpec) -> str:
    """The name ``app``'s plan memo files are kept under (``plan_memo``)."""
    return f"{app.source.identity}#{app.recorded_as}"


def value_comparers(graph: ResourceGraph, targets: ProviderRouter) -> dict[ResourceKey, SameValue]:
    """Each desired object's target comparison, where its target offers one
    (values the target's API normalises are no drift)."""
    found: dict[ResourceKey, SameValue] = {}
    for key, resource in graph.resources.items():
        provider = targets.for_resource(resource)
        # A Protocol isinstance check is slow: the router answers it once per provider.
        if targets.offers(provider, ValueComparer):
            same = cast(ValueComparer, provider).value_comparer(resource)
            if same is not None:
                found[key] = same
    return found


def plan_app(
    app: AppSpec,
    *,
    targets: ProviderRouter,
    prune: bool,
    parallelism: int = 8,
    adopt: bool = False,
) -> AppState:
    """Render ``app`` and plan it. Raises GitwaveError on bad input."""
    rendered = render_for(app, targets)
    return plan_resources(
        app,
        rendered.resources,
        revision=rendered.revision,
        targets=targets,
        prune=prune,
        parallelism=parallelism,
        rendered=rendered,
        adopt=adopt,
    )


# Written by the server on every write: no evidence that an apply changes anything.
_VOLATILE_METADATA = frozenset({"resourceVersion", "managedFields", "generation"})


def _stable(manifest: Manifest) -> Manifest:
    meta = manifest.get("metadata") or {}
    return {
        **{k: v for k, v in manifest.items() if k not in ("metadata", "status")},
        "metadata": {k: v for k, v in meta.items() if k not in _VOLATILE_METADATA},
    }


def confirm_updates(plan: Plan, *, targets: ProviderRouter) -> Plan:
    """Ask targets that can dry-run (DryRunPlanner: a server-side dry-run apply)
    whether each planned update would change the stored object; those that
    would not are in sync after all. Catches what a field comparison cannot: a
    field the API server prunes (unknown to a CRD's schema) or normalises."""
    waves = []
    changed = False
    for wave in plan.waves:
        tasks = []
        for task in wave.tasks:
            if (
                task.action is Action.UPDATE
                and task.desired is not None
                and task.live is not None
                and not task.desired.is_secret  # plans carry Secrets masked
                and not task.desired.masked_values  # and what Secret values became
                and not references(task.desired)
            ):
                provider = targets.for_resource(task.desired)
                if isinstance(provider, DryRunPlanner):
                    would = provider.dry_run_apply(tracked_resource(task.desired, plan.owner))
                    if _stable(would.manifest) == _stable(task.live.manifest):
                        task = Task(task.key, Action.NONE, task.desired, task.live)
                        changed = True
            tasks.append(task)
        waves.append(dataclasses.replace(wave, tasks=tuple(tasks)))
    return dataclasses.replace(plan, waves=tuple(waves)) if changed else plan


def composite_status(state: AppState, *, targets: ProviderRouter) -> Composed | None:
    """The app's composites with their status from the live objects: readiness
    of each composed resource and the connection details (values never shown).
    None when the app has no composites. Composes again, with what is live:
    a status is a different question from the plan's."""
    if not state.composed.composites:
        return None
    observed: dict[ResourceKey, Live | None] = dict(state.live)
    for resource in state.composed.resources:
        secret = secret_key_of(resource.manifest)
        if secret is not None and secret not in observed:
            observed[secret] = targets.for_kind("v1", "Secret").observe(secret)
    return compose(state.resources, observed=observed)
