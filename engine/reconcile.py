"""Reconcile one application: render → graph → observe → plan → sync → record.

This is the I/O shell around the pure stages; the CLI, the TUI and the
continuous loop all call it, so they show the same plans and results.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

import networkx as nx

from gitwave.compositions import Composed, PendingReference, compose, references, resolve
from gitwave.compositions.connection import secret_key_of
from gitwave.engine.apps import AppSpec, render_app
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.events import Event, EventKind, EventSink, discard
from gitwave.engine.graph import ResourceGraph, build_graph
from gitwave.engine.model import Action, Live, Manifest, Plan, Resource, ResourceKey, Task
from gitwave.engine.plan import PlanOptions, make_plan
from gitwave.engine.provider import DryRunPlanner
from gitwave.engine.render import Rendered
from gitwave.engine.store import ResourceOutcome, Store
from gitwave.engine.sync import (
    SyncOptions,
    SyncPhase,
    SyncResult,
    Targets,
    execute,
    observe_all,
    tracked_resource,
)


@dataclass(frozen=True, slots=True)
class AppState:
    """Everything known about one app at one revision, before syncing."""

    app: AppSpec
    rendered: Rendered
    graph: ResourceGraph
    live: dict[ResourceKey, Live | None]
    plan: Plan
    composed: Composed | None = None


@dataclass(frozen=True, slots=True)
class ReconcileOptions:
    prune: bool | None = None  # None: the app's syncPolicy decides
    dry_run: bool = False
    wave_timeout_s: float | None = None  # None: the app's timeout, else 300 s
    parallelism: int = 8
    retry: bool = True


def _namespaces_used(graph: ResourceGraph) -> set[str]:
    """Namespaces the desired objects use that are not desired themselves."""
    desired = {k.name for k in graph.resources if k.kind == "Namespace" and k.group == ""}
    return {k.namespace for k in graph.resources if k.namespace} - desired


def _live_namespaces(graph: ResourceGraph, targets: Targets) -> set[str]:
    """Namespaces the desired objects use that exist live but are not desired."""
    found = set()
    for namespace in sorted(_namespaces_used(graph)):
        key = ResourceKey("", "Namespace", "", namespace)
        if targets.for_kind("v1", "Namespace").observe(key) is not None:
            found.add(namespace)
    return found


_GRAPHS: dict[int, tuple[Sequence[Resource], Composed, ResourceGraph]] = {}
_GRAPHS_LOCK = threading.Lock()


def compose_and_graph(resources: Sequence[Resource]) -> tuple[Composed, ResourceGraph]:
    """Compose (XRs → managed resources) and build the graph, remembered for the
    same render: the render cache hands back the very same resources tuple for
    an unchanged commit, so a watch or run loop re-plans without redoing either."""
    with _GRAPHS_LOCK:
        hit = _GRAPHS.get(id(resources))
    if hit is not None and hit[0] is resources:
        return hit[1], hit[2]
    composed = compose(resources)
    graph = build_graph(composed.resources, extra_edges=composed.edges)
    if isinstance(resources, tuple):
        with _GRAPHS_LOCK:
            if len(_GRAPHS) >= 16:
                _GRAPHS.pop(next(iter(_GRAPHS)))
            _GRAPHS[id(resources)] = (resources, composed, graph)
    return composed, graph


def _lookup_in(
    live: Mapping[ResourceKey, Live | None],
) -> Callable[[ResourceKey], Manifest | None]:
    def lookup(key: ResourceKey) -> Manifest | None:
        seen = live.get(key)
        return seen.manifest if seen is not None else None

    return lookup


def _bind_known_references(
    graph: ResourceGraph, live: Mapping[ResourceKey, Live | None]
) -> ResourceGraph:
    """Resolve ``${id.status.field}`` references whose objects are live already,
    so the plan compares real values; the rest stay as written until sync."""
    bound: dict[ResourceKey, Resource] = {}
    for key, resource in graph.resources.items():
        if not references(resource):
            continue
        try:
            bound[key] = resolve(resource, lookup=_lookup_in(live))
        except PendingReference:
            continue
    if not bound:
        return graph
    return dataclasses.replace(graph, resources={**graph.resources, **bound})


def late_binder(graph: ResourceGraph, targets: Targets) -> Callable[[Resource], Resource]:
    """What the sync calls right before applying an object: evaluate its
    references against the objects as they are live now (applied, and healthy,
    in an earlier wave or step)."""

    def lookup(key: ResourceKey) -> Manifest | None:
        referenced = graph.resources.get(key)
        if referenced is None:
            return None
        seen = targets.for_resource(referenced).observe(key)
        return seen.manifest if seen is not None else None

    def bind(resource: Resource) -> Resource:
        return resolve(resource, lookup=lookup) if references(resource) else resource

    return bind


def plan_resources(
    app: AppSpec,
    resources: Sequence[Resource],
    *,
    revision: str,
    targets: Targets,
    prune: bool,
    parallelism: int = 8,
    keep: Collection[ResourceKey] = (),
) -> tuple[ResourceGraph, dict[ResourceKey, Live | None], Plan]:
    """Graph, observe and plan a set of desired resources for ``app``.

    ``keep`` names live objects that are never prune candidates although they
    are not in ``resources`` (the Secrets a rollback leaves as they are).

    Raises what ``build_graph`` and ``make_plan`` raise; the ValidationError
    for a namespace that exists nowhere is retriable (someone may create it).
    """
    _, graph = compose_and_graph(resources)
    targets.declare(graph.resources.values())
    live = observe_all(graph.resources.values(), targets, parallelism=parallelism)
    graph = _bind_known_references(graph, live)
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
        ignore=app.ignore_pointers_for(graph.resources),
        apply_out_of_sync_only=app.policy.apply_out_of_sync_only,
    )
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
        )
    except ValidationError as exc:
        if not app.policy.create_namespace and _namespaces_used(graph) - namespaces_live:
            # The input is fine; the target lacks a namespace that may appear
            # (created by hand or by another app), so a retry can succeed.
            exc.retriable = True
        raise
    return graph, live, confirm_updates(plan, targets=targets)


# Written by the server on every write: no evidence that an apply changes anything.
_VOLATILE_METADATA = frozenset({"resourceVersion", "managedFields", "generation"})


def _stable(manifest: Manifest) -> Manifest:
    meta = manifest.get("metadata") or {}
    return {
        **{k: v for k, v in manifest.items() if k not in ("metadata", "status")},
        "metadata": {k: v for k, v in meta.items() if k not in _VOLATILE_METADATA},
    }


def confirm_updates(plan: Plan, *, targets: Targets) -> Plan:
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
                and not references(task.desired)
            ):
                provider = targets.for_resource(task.desired)
                if isinstance(provider, DryRunPlanner):
                    would = provider.dry_run_apply(tracked_resource(task.desired, plan.app))
                    if _stable(would.manifest) == _stable(task.live.manifest):
                        task = Task(task.key, Action.NONE, task.desired, task.live)
                        changed = True
            tasks.append(task)
        waves.append(dataclasses.replace(wave, tasks=tuple(tasks)))
    return dataclasses.replace(plan, waves=tuple(waves)) if changed else plan


def prepare(app: AppSpec, *, targets: Targets, options: ReconcileOptions) -> AppState:
    """Render, graph, observe and plan one app. Raises GitwaveError on bad input."""
    rendered = render_app(app)
    prune = app.policy.prune if options.prune is None else options.prune
    graph, live, plan = plan_resources(
        app,
        rendered.resources,
        revision=rendered.revision,
        targets=targets,
        prune=prune,
        parallelism=options.parallelism,
    )
    composed, _ = compose_and_graph(rendered.resources)
    return AppState(
        app=app, rendered=rendered, graph=graph, live=live, plan=plan, composed=composed
    )


def composite_status(state: AppState, *, targets: Targets) -> Composed | None:
    """The app's composites with their status from the live objects: readiness
    of each composed resource and the connection details (values never shown).
    None when the app has no composites."""
    if state.composed is None or not state.composed.composites:
        return None
    observed: dict[ResourceKey, Live | None] = dict(state.live)
    for resource in state.composed.resources:
        secret = secret_key_of(resource.manifest)
        if secret is not None and secret not in observed:
            observed[secret] = targets.for_kind("v1", "Secret").observe(secret)
    return compose(state.rendered.resources, observed=observed)


def sync_options_for(
    app: AppSpec, options: ReconcileOptions, *, stop: threading.Event | None = None
) -> SyncOptions:
    """The executor's options for ``app``: its sync policy plus the command's."""
    timeout = options.wave_timeout_s or app.timeout_s or 300.0
    return SyncOptions(
        dry_run=options.dry_run,
        propagation=app.policy.prune_propagation,
        create_namespace=app.policy.create_namespace,
        wave_timeout_s=timeout,
        parallelism=options.parallelism,
        stop=stop,
    )


def run_plan(
    app: AppSpec,
    plan: Plan,
    resources: Sequence[Resource],
    *,
    targets: Targets,
    options: ReconcileOptions,
    sink: EventSink = discard,
    stop: threading.Event | None = None,
) -> SyncResult:
    """``execute`` a plan of ``app`` (rendered as ``resources``) with the app's
    options and its ``${…}`` references bound right before each apply.

    Every caller that runs a plan goes through here, so none forgets the binder."""
    _, graph = compose_and_graph(resources)
    return execute(
        plan,
        targets=targets,
        options=sync_options_for(app, options, stop=stop),
        sink=sink,
        bind=late_binder(graph, targets),
    )


def record(
    store: Store,
    result: SyncResult,
    *,
    resources: Sequence[Resource],
    source: str,
    prune: bool,
    rollback_of: int | None = None,
) -> int:
    """Write one finished sync into the history; returns its id."""
    return store.record_sync(
        app=result.app,
        revision=result.revision,
        source=source,
        started=result.started,
        finished=result.finished,
        result=result.phase.value,
        message=result.message,
        outcomes=[ResourceOutcome(e.key, e.action, e.message) for e in result.changeset.entries],
        manifests=resources,
        dry_run=result.dry_run,
        prune=prune,
        rollback_of=rollback_of,
    )


def _backoff(app: AppSpec, attempt: int) -> float:
    retry = app.policy.retry
    if retry is None:
        return 0.0
    # Jitter so many apps failing on one outage do not retry in lockstep.
    return retry.delay_s(attempt) * random.uniform(0.8, 1.0)


def _record_error(
    store: Store, app: AppSpec, error: GitwaveError, *, started: float, prune: bool
) -> int:
    """History entry of an attempt that failed before anything was applied."""
    return store.record_sync(
        app=app.name,
        revision="",
        source=app.source.describe,
        started=started,
        finished=time.time(),
        result=SyncPhase.ERROR.value,
        message=str(error),
        outcomes=[],
        manifests=[],
        prune=prune,
    )


def sync_app(
    app: AppSpec,
    *,
    targets: Targets,
    store: Store | None,
    options: ReconcileOptions = ReconcileOptions(),
    sink: EventSink = discard,
    on_plan: Callable[[AppState], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[AppState, SyncResult]:
    """Sync one app, retrying per its retry spec; records every attempt in ``store``.

    A failed sync, or an attempt that failed on a retriable error (a missing
    namespace, an unreachable target), is tried again after the spec's backoff
    while retries are left. Bad input (a render error, a cycle) raises
    GitwaveError at once, before anything is applied; so does a retriable
    error on the last attempt. A failed object does not raise: it is in the
    result. Dry runs are never retried."""
    retry = app.policy.retry if options.retry and not options.dry_run else None
    prune = app.policy.prune if options.prune is None else options.prune
    retries = 0
    while True:
        started = time.time()
        try:
            state = prepare(app, targets=targets, options=options)
        except GitwaveError as exc:
            if store is not None and not options.dry_run:
                _record_error(store, app, exc, started=started, prune=prune)
            if not exc.retriable or retry is None or not retry.allows(retries):
                raise
            revision, message = "", str(exc)
        else:
            if on_plan is not None:
                on_plan(state)
            result = run_plan(
                app,
                state.plan,
                state.rendered.resources,
                targets=targets,
                options=options,
                sink=sink,
            )
            if store is not None and not options.dry_run:
                record(
                    store,
                    result,
                    resources=state.rendered.resources,
                    source=app.source.describe,
                    prune=prune,
                )
            if result.ok or retry is None or not retry.allows(retries):
                return state, result
            revision, message = result.revision, result.message
        delay = _backoff(app, retries)
        retries += 1
        limit = "unlimited" if retry.limit < 0 else str(retry.limit)
        sink(
            Event(
                kind=EventKind.ERROR,
                app=app.name,
                revision=revision,
                message=f"sync failed, retry {retries}/{limit} in {delay:.1f}s: {message}",
            )
        )
        sleep(delay)


def rollback(
    app: AppSpec,
    sync_id: int,
    *,
    targets: Targets,
    store: Store,
    options: ReconcileOptions = ReconcileOptions(),
    sink: EventSink = discard,
) -> tuple[Plan, SyncResult]:
    """Re-apply the manifests recorded for history entry ``sync_id``.

    Needs no Git: the manifests come from the store. Secrets are not recorded,
    so they keep their live contents (they are left out of the plan)."""
    entry = store.get(sync_id)
    if entry.app != app.name:
        raise ValidationError(
            f"history entry {sync_id}",
            f"belongs to app {entry.app!r}, not {app.name!r}",
            hint=f"`gitwave history {app.name}` lists this app's entries",
        )
    recorded = store.manifests(sync_id)
    cleaned = [r for r in recorded if not r.is_secret]
    secrets = [r.key for r in recorded if r.is_secret]
    prune = bool(options.prune)
    _, _, plan = plan_resources(
        app,
        cleaned,
        revision=entry.revision,
        targets=targets,
        prune=prune,
        parallelism=options.parallelism,
        # Left out of the plan, they must not look like leftovers to prune.
        keep=secrets,
    )
    sink(
        Event(
            kind=EventKind.ROLLBACK,
            app=app.name,
            revision=entry.revision,
            message=f"rolling back to history entry {sync_id}",
        )
    )
    result = run_plan(app, plan, cleaned, targets=targets, options=options, sink=sink)
    if not options.dry_run:
        record(
            store,
            result,
            # The Secrets' stubs too, so a rollback to this entry keeps them as well.
            resources=recorded,
            source=f"rollback of #{sync_id}",
            prune=prune,
            rollback_of=sync_id,
        )
    return plan, result


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


def unsafe_to_continue(result: SyncResult) -> bool:
    """A dependency failed: its dependents are not synced (as Flux does)."""
    return result.phase is not SyncPhase.SUCCEEDED
