"""Sync: carry out a Plan against the targets, wave by wave.

Each wave is applied in parallel (bounded), then waited on until the objects
the app's health rule waits for (``engine.health.policy``) are Healthy (or
Suspended) before the next wave starts. As in Argo CD, the last wave is
applied and its health reported, not waited for (PostSync hooks after it
make it wait); a Flux app waits as its Kustomization says (wait,
healthChecks). Hooks run in their
phase, honour their delete policies, and a failure runs the SyncFail hooks.
Results are values (a ChangeSet in a SyncResult) plus events; nothing is printed.
How one task is applied or pruned is ``engine.sync_apply``.
"""

from __future__ import annotations

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
    Action,
    ChangeAction,
    ChangeSet,
    ChangeSetEntry,
    Health,
    HealthCode,
    HookPhase,
    Plan,
    Resource,
    ResourceKey,
    Wave,
)

# tracked_resource lives beside the tracking id rules (planning uses it, not only syncs).
from gitwave.engine.ownership import tracked_resource
from gitwave.engine.router import ProviderRouter
from gitwave.engine.sync_apply import FORCE_OPTION, ensure_namespaces, safe_apply
from gitwave.engine.sync_hooks import finish_hooks
from gitwave.engine.sync_prune import is_prune_wave, run_prune_wave
from gitwave.engine.sync_run import SyncOptions, SyncRun, WaveFailed
from gitwave.engine.sync_waits import note_healths, wait_absent, wait_healthy

__all__ = ["FORCE_OPTION", "SyncOptions", "SyncPhase", "SyncResult", "execute", "tracked_resource"]

_DEFAULT_OPTIONS = SyncOptions()


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


def _run_wave(run: SyncRun, wave: Wave, pool: ThreadPoolExecutor, *, later_waves: bool) -> None:
    run.emit(EventKind.WAVE_STARTED, f"{len(wave.tasks)} objects", wave=wave.label)
    if is_prune_wave(wave):
        # In the reverse of the dependency graph, level by level (sync_prune).
        failed = run_prune_wave(run, wave, pool, lambda task: safe_apply(run, task)[2])
        if failed:
            raise WaveFailed(str(failed[0]))
        if not run.options.dry_run:
            run.emit(EventKind.WAVE_FINISHED, "pruned", wave=wave.label)
        return
    results = list(pool.map(lambda t: safe_apply(run, t), wave.tasks))
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
                ensure_namespaces(run)
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
