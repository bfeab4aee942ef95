"""Sync: carry out a Plan against the targets, wave by wave.

Each wave is applied in parallel (bounded), then waited on until the objects
the app's health rule waits for (``engine.health.policy``) are Healthy (or
Suspended) before the next wave starts. As in Argo CD, the last wave is
applied and its health reported, not waited for (PostSync hooks after it
make it wait); a Flux app waits as its Kustomization says (wait,
healthChecks). Hooks run in their
phase, honour their delete policies, and a failure runs the SyncFail hooks.
Results are values (a ChangeSet in a SyncResult) plus events; nothing is printed.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from gitwave.engine.errors import GitwaveError
from gitwave.engine.events import EventKind, EventSink, discard
from gitwave.engine.graph import ResourceGraph
from gitwave.engine.interrupts import check as check_interrupt
from gitwave.engine.model import (
    ANNOTATION_TRACKING_ID,
    Action,
    ChangeAction,
    ChangeSet,
    ChangeSetEntry,
    Health,
    HealthCode,
    HookDeletePolicy,
    HookPhase,
    Live,
    Plan,
    Propagation,
    Resource,
    ResourceKey,
    Task,
    Wave,
)

# tracked_resource lives beside the tracking id rules (planning uses it, not only syncs).
from gitwave.engine.ownership import is_prunable_by, tracked_resource
from gitwave.engine.provider import Provider
from gitwave.engine.router import ProviderRouter
from gitwave.engine.sync_hooks import delete_policies, finish_hooks, hook_instance
from gitwave.engine.sync_prune import is_prune_wave, run_prune_wave
from gitwave.engine.sync_run import SyncOptions, SyncRun, WaveFailed
from gitwave.engine.sync_waits import await_deleted, note_healths, wait_absent, wait_healthy

__all__ = ["FORCE_OPTION", "SyncOptions", "SyncPhase", "SyncResult", "execute", "tracked_resource"]

_DEFAULT_OPTIONS = SyncOptions()
# Argo CD's sync option that, with server-side apply, forces field conflicts.
FORCE_OPTION = "Force=true"


class SyncPhase(enum.Enum):
    """How a sync ended (Argo CD's operation phases)."""

    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ERROR = "Error"
    TERMINATED = "Terminated"

    @property
    def ok(self) -> bool:
        return self is SyncPhase.SUCCEEDED


@dataclass(frozen=True, slots=True)
class SyncResult:
    app: str
    revision: str
    phase: SyncPhase
    message: str
    changeset: ChangeSet
    health: Health
    started: float
    finished: float
    dry_run: bool = False
    hooks_run: tuple[ResourceKey, ...] = ()
    # The longest delay a target asked for while this sync failed (HTTP 429
    # Retry-After): a retry waits at least this long.
    retry_after_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.phase.ok


def _still_prunable(run: SyncRun, task: Task, current: Live) -> bool:
    """Ownership re-checked at the last moment: the object is still this app's
    (exact tracking id), or it was adopted and its tracking id is the one planned."""
    plan = run.plan
    if not is_prunable_by(current, plan.owner, adopted=plan.adopted):
        return False
    if task.key in plan.adopted and task.live is not None:
        planned = task.live.annotations.get(ANNOTATION_TRACKING_ID)
        return current.annotations.get(ANNOTATION_TRACKING_ID) == planned
    return True


def _apply_task(run: SyncRun, task: Task) -> tuple[Task, Resource | None]:
    """Apply or prune one task. Returns the task and the resource actually
    created (hooks get a concrete name), or None for prunes."""
    provider: Provider
    if task.action is Action.PRUNE:
        assert task.live is not None
        provider = run.targets.for_live(task.live)
        # Re-check ownership at the last moment: only our exact tracking id is pruned.
        current = provider.observe(task.key)
        if current is None:
            run.record(ChangeSetEntry(task.key, ChangeAction.UNCHANGED, "already absent"))
            return task, None
        if not _still_prunable(run, task, current):
            run.record(
                ChangeSetEntry(task.key, ChangeAction.SKIPPED, "not owned by this app; left alone")
            )
            return task, None
        if run.options.dry_run:
            run.record(ChangeSetEntry(task.key, ChangeAction.DELETED, "dry run"))
            return task, None
        entry = provider.delete(task.key, propagation=run.options.propagation)
        run.record(entry)
        run.emit(EventKind.RESOURCE_PRUNED, entry.action.value, resource=task.key)
        return task, None

    assert task.desired is not None
    provider = run.targets.for_resource(task.desired)
    if task.action is Action.HOOK:
        hook = hook_instance(
            task.desired, run.plan.app, taken=lambda key: provider.observe(key) is not None
        )
        if run.options.dry_run:
            run.record(ChangeSetEntry(hook.key, ChangeAction.SKIPPED, "hook (dry run)"))
            return task, None
        if (
            HookDeletePolicy.BEFORE_HOOK_CREATION in delete_policies(task)
            and provider.observe(hook.key) is not None
        ):
            provider.delete(hook.key, propagation=Propagation.FOREGROUND)
            # A real API server deletes in the background: applying before the old
            # object is gone would patch it instead of creating a new one.
            await_deleted(run, provider, hook.key)
        run.emit(EventKind.HOOK_STARTED, "created", resource=hook.key)
        entry = provider.apply(hook)
        run.record(entry)
        with run.lock:
            run.hooks_run.append(hook.key)
        return task, hook

    resource = tracked_resource(run.bind(task.desired), run.plan.owner)
    if run.options.force_conflicts or FORCE_OPTION in (
        task.facts.sync_options if task.facts is not None else ()
    ):
        resource = dataclasses.replace(resource, force_conflicts=True)
    if task.action is Action.NONE:
        run.record(ChangeSetEntry(task.key, ChangeAction.UNCHANGED, live=task.live))
        return task, resource
    if run.options.dry_run and task.key.namespace in run.namespaces_created:
        # The target cannot dry-run into a namespace that does not exist yet
        # (kubectl apply --dry-run=server fails the same way); report the
        # creation this sync would do instead of a false failure.
        entry = ChangeSetEntry(
            task.key, ChangeAction.CREATED, "dry run; its namespace is created by this sync"
        )
        run.record(entry)
        return task, resource
    entry = provider.apply(resource, dry_run=run.options.dry_run)
    if task.changes and not entry.changes:
        entry = ChangeSetEntry(entry.key, entry.action, entry.message, task.changes, entry.live)
    run.record(entry)
    run.emit(EventKind.RESOURCE_APPLIED, entry.action.value, resource=task.key)
    return task, resource


def _safe_apply(run: SyncRun, task: Task) -> tuple[Task, Resource | None, GitwaveError | None]:
    try:
        done, resource = _apply_task(run, task)
        return done, resource, None
    except GitwaveError as exc:
        with run.lock:
            run.retry_after_s = max(run.retry_after_s, exc.retry_after_s)
        run.record(ChangeSetEntry(task.key, ChangeAction.FAILED, str(exc)))
        run.emit(EventKind.ERROR, str(exc), resource=task.key)
        return task, None, exc


def _ensure_namespaces(run: SyncRun) -> None:
    """CreateNamespace=true: create missing namespaces the plan's objects live in."""
    desired_namespaces = {
        t.key.name for t in run.plan.tasks() if t.key.kind == "Namespace" and t.key.group == ""
    }
    needed = sorted(
        {
            t.key.namespace
            for t in run.plan.tasks()
            if t.desired is not None
            and t.key.namespace
            and t.key.namespace not in desired_namespaces
        }
    )
    for namespace in needed:
        key = ResourceKey("", "Namespace", "", namespace)
        ns = Resource(
            key, "v1", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        )
        provider = run.targets.for_resource(ns)
        if provider.observe(key) is None:
            if run.options.dry_run:
                run.record(ChangeSetEntry(key, ChangeAction.CREATED, "CreateNamespace (dry run)"))
                # What goes into it cannot be dry-run against the target either.
                run.namespaces_created |= {namespace}
            else:
                entry = provider.apply(ns)
                run.record(entry)
                run.emit(EventKind.RESOURCE_APPLIED, entry.action.value, resource=key)


def _run_wave(run: SyncRun, wave: Wave, pool: ThreadPoolExecutor, *, later_waves: bool) -> None:
    run.emit(EventKind.WAVE_STARTED, f"{len(wave.tasks)} objects", wave=wave.label)
    if is_prune_wave(wave):
        # In the reverse of the dependency graph, level by level (sync_prune).
        failed = run_prune_wave(run, wave, pool, lambda task: _safe_apply(run, task)[2])
        if failed:
            raise WaveFailed(str(failed[0]))
        if not run.options.dry_run:
            run.emit(EventKind.WAVE_FINISHED, "pruned", wave=wave.label)
        return
    results = list(pool.map(lambda t: _safe_apply(run, t), wave.tasks))
    errors = [(task, err) for task, _, err in results if err is not None]
    hooks = [(task, res) for task, res, _ in results if task.action is Action.HOOK and res]
    if errors:
        # Hooks this wave did create still get their HookFailed policy.
        finish_hooks(run, hooks, succeeded=False)
        raise WaveFailed(str(errors[0][1]))
    if run.options.dry_run:
        return
    applied = {res.key: res for task, res, _ in results if res is not None}
    hook_keys = {res.key for _, res in hooks}
    policy = run.options.health
    waited = {
        key: res
        for key, res in applied.items()
        if policy.waits_in_wave(key, is_hook=key in hook_keys, later_waves=later_waves)
    }
    try:
        wait_healthy(run, wave.label, waited, hooks=hook_keys)
        # What no later wave waits for is reported as it is (Argo CD: the
        # operation succeeds, the app's health says Progressing).
        note_healths(run, wave.label, {k: r for k, r in applied.items() if k not in waited})
    except WaveFailed as stop:
        if stop.key is not None:
            run.mark_failed(stop.key, str(stop))
        finish_hooks(run, hooks, succeeded=False)
        raise
    finish_hooks(run, hooks, succeeded=True)
    with run.lock:
        deleted = {e.key for e in run.entries if e.action is ChangeAction.DELETED}
    # Only what was really deleted: an object left alone (not ours) stays.
    pruned = [
        (t.key, t.live)
        for t in wave.tasks
        if t.action is Action.PRUNE and t.live and t.key in deleted
    ]
    try:
        wait_absent(run, pruned)
    except WaveFailed as stop:
        if stop.key is not None:
            run.mark_failed(stop.key, str(stop))
        raise
    run.emit(EventKind.WAVE_FINISHED, "healthy", wave=wave.label)


def _wait_health_checks(run: SyncRun) -> None:
    """Flux's ``healthChecks``: once every wave is applied, wait for the objects
    named there (in this app or not) until the app's timeout."""
    refs = run.options.health.final_checks
    if not refs:
        return
    wanted = {
        ref.key: Resource(
            ref.key,
            ref.api_version,
            {
                "apiVersion": ref.api_version,
                "kind": ref.key.kind,
                "metadata": {"name": ref.key.name, "namespace": ref.key.namespace},
            },
        )
        for ref in refs
    }
    try:
        wait_healthy(run, "healthChecks", wanted)
    except WaveFailed as stop:
        if stop.key is not None and any(e.key == stop.key for e in run.entries):
            run.mark_failed(stop.key, str(stop))
        raise


def execute(
    plan: Plan,
    *,
    targets: ProviderRouter,
    options: SyncOptions = _DEFAULT_OPTIONS,
    sink: EventSink = discard,
    clock: Callable[[], float] = time.time,
    bind: Callable[[Resource], Resource] | None = None,
    graph: ResourceGraph | None = None,
) -> SyncResult:
    """Carry out ``plan``: every wave applied then awaited, in order.

    ``bind`` finishes an object right before it is applied (the reconcile
    shell passes one that evaluates ``${id.status.field}`` references against
    the objects applied in earlier waves). ``graph``, the app's, lets a wait
    name the chain of objects that holds it (``engine.why``).

    Never raises for a failed object: the failure is in the result (phase
    Failed, the entry marked failed, SyncFail hooks run)."""
    started = clock()
    run = SyncRun(plan=plan, targets=targets, options=options, sink=sink, graph=graph)
    if bind is not None:
        run.bind = bind
    cluster = targets.cluster
    started_message = f"to cluster {cluster.name} ({cluster.server})" if cluster else ""
    if options.dry_run:
        started_message = f"dry run {started_message}".strip()
    run.emit(EventKind.SYNC_STARTED, started_message)
    phase = SyncPhase.SUCCEEDED
    message = "successfully synced" + (" (dry run)" if options.dry_run else "")
    main_waves = [w for w in plan.waves if w.phase is not HookPhase.SYNC_FAIL]
    fail_waves = [w for w in plan.waves if w.phase is HookPhase.SYNC_FAIL]
    with ThreadPoolExecutor(max_workers=max(1, options.parallelism)) as pool:
        try:
            if options.create_namespace:
                _ensure_namespaces(run)
            for index, wave in enumerate(main_waves):
                if options.stop is not None and options.stop.is_set():
                    phase = SyncPhase.TERMINATED
                    left = len(main_waves) - index
                    message = f"stopped before {wave.label}: {left} wave(s) not run"
                    break
                check_interrupt()  # Ctrl-C on a worker: between waves is a safe point
                later = any(not is_prune_wave(w) for w in main_waves[index + 1 :])
                _run_wave(run, wave, pool, later_waves=later)
            if phase is SyncPhase.SUCCEEDED and not options.dry_run:
                _wait_health_checks(run)
        except KeyboardInterrupt as stop:
            # Ctrl-C at a safe point: what was applied so far travels with the
            # exception, so the history row (Interrupted) and the CLI can say it.
            stop.partial = _result(  # type: ignore[attr-defined]
                run, SyncPhase.TERMINATED, "interrupted (Ctrl-C)", started=started, finished=clock()
            )
            raise
        except (WaveFailed, GitwaveError) as exc:
            phase = SyncPhase.FAILED
            message = str(exc)
            run.emit(EventKind.ERROR, message)
            for wave in fail_waves:
                try:
                    _run_wave(run, wave, pool, later_waves=True)
                except (WaveFailed, GitwaveError) as fail_exc:
                    message += f"; SyncFail hook failed: {fail_exc}"
    result = _result(run, phase, message, started=started, finished=clock())
    run.emit(EventKind.SYNC_FINISHED, f"{phase.value}: {message}")
    return result


def _result(
    run: SyncRun, phase: SyncPhase, message: str, *, started: float, finished: float
) -> SyncResult:
    plan = run.plan
    # Entries in plan order (hooks with generated names after), so output reads like the plan.
    position = {task.key: i for i, task in enumerate(plan.tasks())}
    with run.lock:
        entries = sorted(run.entries, key=lambda e: position.get(e.key, len(position)))
    return SyncResult(
        app=plan.app,
        revision=plan.revision,
        phase=phase,
        message=message,
        changeset=ChangeSet(tuple(entries)),
        health=_health(run, entries),
        started=started,
        finished=finished,
        dry_run=run.options.dry_run,
        hooks_run=tuple(run.hooks_run),
        retry_after_s=run.retry_after_s if phase is SyncPhase.FAILED else 0.0,
    )


def _health(run: SyncRun, entries: list[ChangeSetEntry]) -> Health:
    """The health a sync reports: the worst of what it saw settle, and Missing
    for every object it was to create and never did (a failed or stopped
    sync is never Healthy for what it left out)."""
    seen = list(run.healths.values())
    done = {e.key for e in entries if e.action is not ChangeAction.FAILED}
    missing = [
        t.key
        for t in run.plan.tasks()
        if t.action is Action.CREATE and t.key not in done and t.key not in run.healths
    ]
    if missing and not run.options.dry_run:
        seen.append(Health(HealthCode.MISSING, f"{len(missing)} object(s) never created"))
    return Health.worst(seen)
