"""Sync: carry out a Plan against the targets, wave by wave.

Each wave is applied in parallel (bounded), then waited on until every object
in it is Healthy (or Suspended) before the next wave starts. Hooks run in their
phase, honour their delete policies, and a failure runs the SyncFail hooks.
Results are values (a ChangeSet in a SyncResult) plus events; nothing is printed.
"""

from __future__ import annotations

import copy
import enum
import secrets
import string
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import cast

from gitwave.engine.errors import GitwaveError, ProviderError
from gitwave.engine.events import Event, EventKind, EventSink, discard
from gitwave.engine.model import (
    ANNOTATION_TRACKING_ID,
    DEFAULT_HOOK_DELETE_POLICIES,
    LABEL_APP,
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
    tracking_id,
)
from gitwave.engine.provider import BulkReader, Declaring, Provider

ANNOTATION_HOOK_OF = "gitwave.dev/hook-of"
# 36**5 suffixes: a clash is rare, three in a row means something else is wrong.
_NAME_TRIES = 3


class Targets:
    """Routes each object to the provider that handles its apiVersion and kind."""

    def __init__(self, providers: Sequence[Provider]) -> None:
        if not providers:
            raise ValueError("at least one provider is needed")
        self.providers = tuple(providers)
        self._cache: dict[tuple[str, str], Provider] = {}
        self._lock = threading.Lock()

    def for_kind(self, api_version: str, kind: str) -> Provider:
        """The provider for that apiVersion and kind; ProviderError when none handles it."""
        cache_key = (api_version, kind)
        provider = self._cache.get(cache_key)
        if provider is not None:
            return provider
        for candidate in self.providers:
            if candidate.handles(api_version, kind):
                with self._lock:
                    self._cache[cache_key] = candidate
                return candidate
        names = ", ".join(p.name for p in self.providers)
        raise ProviderError(None, f"no target handles {kind} ({api_version}); targets: {names}")

    def for_resource(self, resource: Resource) -> Provider:
        return self.for_kind(resource.api_version, resource.kind)

    def for_live(self, live: Live) -> Provider:
        return self.for_kind(str(live.manifest.get("apiVersion", "")), live.key.kind)

    def list_tracked(self, app: str, *, exclude: Collection[ResourceKey] = ()) -> list[Live]:
        """Every object any target holds for ``app``, less the ``exclude`` keys
        (the desired ones, which are no prune candidates). Raises on a failed read."""
        found: dict[ResourceKey, Live] = {}
        for provider in self.providers:
            if isinstance(provider, BulkReader):
                keys = [k for k in provider.tracked_keys(app) if k not in exclude]
                observed = provider.observe_many(keys) if keys else {}
                found.update({k: live for k, live in observed.items() if live is not None})
                continue
            for live in provider.list_tracked(app):
                if live.key not in exclude:
                    found[live.key] = live
        return [found[k] for k in sorted(found)]

    def declare(self, resources: Iterable[Resource]) -> None:
        """Show each Declaring provider the desired objects it handles."""
        items = list(resources)
        for provider in self.providers:
            if isinstance(provider, Declaring):
                mine = [r for r in items if self.for_resource(r) is provider]
                if mine:
                    provider.declare(mine)

    @property
    def description(self) -> str:
        """The targets as a person reads them, e.g. ``sandbox, AWS: embedded emulator``."""
        return ", ".join(
            str(getattr(p, "description", "") or p.name)
            for p in self.providers
            if getattr(p, "in_use", True)
        )


def observe_all(
    resources: Iterable[Resource], targets: Targets, *, parallelism: int = 8
) -> dict[ResourceKey, Live | None]:
    """Observe every desired object in parallel. Raises on the first failed read."""
    items = list(resources)
    result: dict[ResourceKey, Live | None] = {}
    singles: list[Resource] = []
    bulk: dict[int, tuple[BulkReader, list[ResourceKey]]] = {}
    is_bulk: dict[int, bool] = {}  # a Protocol isinstance check is slow; once per provider
    for resource in items:
        provider = targets.for_resource(resource)
        bulk_reader = is_bulk.get(id(provider))
        if bulk_reader is None:
            bulk_reader = is_bulk[id(provider)] = isinstance(provider, BulkReader)
        if bulk_reader:
            bulk.setdefault(id(provider), (cast(BulkReader, provider), []))[1].append(resource.key)
        else:
            singles.append(resource)
    for reader, keys in bulk.values():
        result.update(reader.observe_many(keys))

    def one(resource: Resource) -> tuple[ResourceKey, Live | None]:
        return resource.key, targets.for_resource(resource).observe(resource.key)

    if len(singles) < 16:
        result.update(one(r) for r in singles)
    else:
        with ThreadPoolExecutor(max_workers=parallelism) as pool:
            result.update(pool.map(one, singles))
    return {r.key: result[r.key] for r in items}


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
class SyncOptions:
    dry_run: bool = False
    propagation: Propagation = Propagation.FOREGROUND
    create_namespace: bool = False
    wave_timeout_s: float = 300.0
    parallelism: int = 8
    # Polls start fast (the sandbox settles in ~1 s) and back off to this cap.
    max_poll_interval_s: float = 0.5
    # Set by a signal handler: the running wave finishes, no next wave starts,
    # and the result is Terminated (a safe point: nothing half-applied).
    stop: threading.Event | None = None


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

    @property
    def ok(self) -> bool:
        return self.phase.ok


class _Stop(Exception):
    """A wave failed; carries the reason (and the object that blocked it, if
    one did) to the sync loop."""

    def __init__(self, message: str, *, key: ResourceKey | None = None) -> None:
        super().__init__(message)
        self.key = key


@dataclass
class _Run:
    """Mutable state of one running sync (private to execute())."""

    plan: Plan
    targets: Targets
    options: SyncOptions
    sink: EventSink
    entries: list[ChangeSetEntry] = field(default_factory=list)
    healths: dict[ResourceKey, Health] = field(default_factory=dict)
    hooks_run: list[ResourceKey] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    namespaces_created: frozenset[str] = frozenset()
    bind: Callable[[Resource], Resource] = lambda resource: resource

    def __post_init__(self) -> None:
        self.namespaces_created = _namespaces_created(self.plan)

    def emit(
        self,
        kind: EventKind,
        message: str = "",
        *,
        resource: ResourceKey | None = None,
        wave: str = "",
    ) -> None:
        self.sink(
            Event(
                kind=kind,
                app=self.plan.app,
                revision=self.plan.revision,
                message=message,
                resource=resource,
                wave=wave,
            )
        )

    def record(self, entry: ChangeSetEntry) -> None:
        with self.lock:
            self.entries.append(entry)

    def mark_failed(self, key: ResourceKey, message: str) -> None:
        """Turn ``key``'s entry into a failure: it was applied, but it blocked
        the sync (Degraded, or not healthy in time). Keeps its diff and live."""
        with self.lock:
            for i, entry in enumerate(self.entries):
                if entry.key == key:
                    self.entries[i] = ChangeSetEntry(
                        key, ChangeAction.FAILED, message, entry.changes, entry.live
                    )
                    return
            self.entries.append(ChangeSetEntry(key, ChangeAction.FAILED, message))


def tracked_resource(resource: Resource, app: str) -> Resource:
    """A copy of ``resource`` carrying the app's label and exact tracking id."""
    manifest = copy.deepcopy(resource.manifest)
    meta = manifest.setdefault("metadata", {})
    meta.setdefault("labels", {})[LABEL_APP] = app
    meta.setdefault("annotations", {})[ANNOTATION_TRACKING_ID] = tracking_id(app, resource.key)
    return Resource(resource.key, resource.api_version, manifest, resource.source)


def _hook_instance(
    resource: Resource, app: str, *, taken: Callable[[ResourceKey], bool] = lambda key: False
) -> Resource:
    """A hook ready to create: a concrete name for generateName, marked as ours
    but without the app label, so hooks are never pruned as leftovers.

    ``taken`` tells whether a name is in use; a generated name never is, so a
    hook of one sync never overwrites the hook a previous sync left behind."""
    manifest = copy.deepcopy(resource.manifest)
    meta = manifest.setdefault("metadata", {})
    key = resource.key
    if not meta.get("name") and meta.get("generateName"):
        alphabet = string.ascii_lowercase + string.digits
        for _ in range(_NAME_TRIES):
            suffix = "".join(secrets.choice(alphabet) for _ in range(5))
            key = ResourceKey(key.group, key.kind, key.namespace, f"{meta['generateName']}{suffix}")
            if not taken(key):
                break
        else:
            raise ProviderError(
                resource.key, f"no free name for generateName {meta['generateName']!r}"
            )
        meta["name"] = key.name
    meta.setdefault("annotations", {})[ANNOTATION_HOOK_OF] = app
    return Resource(key, resource.api_version, manifest, resource.source)


def _delete_policies(task: Task) -> frozenset[HookDeletePolicy]:
    """When the hook of ``task`` is deleted, as the graph stage read it; Argo CD's
    default for a task that carries no graph facts (one not made by make_plan)."""
    return task.facts.delete_policies if task.facts is not None else DEFAULT_HOOK_DELETE_POLICIES


def _apply_task(run: _Run, task: Task) -> tuple[Task, Resource | None]:
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
        if current.annotations.get(ANNOTATION_TRACKING_ID) != tracking_id(run.plan.app, task.key):
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
        hook = _hook_instance(
            task.desired, run.plan.app, taken=lambda key: provider.observe(key) is not None
        )
        if run.options.dry_run:
            run.record(ChangeSetEntry(hook.key, ChangeAction.SKIPPED, "hook (dry run)"))
            return task, None
        if (
            HookDeletePolicy.BEFORE_HOOK_CREATION in _delete_policies(task)
            and provider.observe(hook.key) is not None
        ):
            provider.delete(hook.key, propagation=Propagation.FOREGROUND)
            # A real API server deletes in the background: applying before the old
            # object is gone would patch it instead of creating a new one.
            _await_deleted(run, provider, hook.key)
        run.emit(EventKind.HOOK_STARTED, "created", resource=hook.key)
        entry = provider.apply(hook)
        run.record(entry)
        with run.lock:
            run.hooks_run.append(hook.key)
        return task, hook

    resource = tracked_resource(run.bind(task.desired), run.plan.app)
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


def _namespaces_created(plan: Plan) -> frozenset[str]:
    return frozenset(
        t.key.name
        for t in plan.tasks()
        if t.action is Action.CREATE and t.key.kind == "Namespace" and t.key.group == ""
    )


def _safe_apply(run: _Run, task: Task) -> tuple[Task, Resource | None, GitwaveError | None]:
    try:
        done, resource = _apply_task(run, task)
        return done, resource, None
    except GitwaveError as exc:
        run.record(ChangeSetEntry(task.key, ChangeAction.FAILED, str(exc)))
        run.emit(EventKind.ERROR, str(exc), resource=task.key)
        return task, None, exc


def _wait_healthy(run: _Run, wave: Wave, applied: Mapping[ResourceKey, Resource]) -> None:
    """Block until every applied object of the wave is settled; raise _Stop on
    Degraded or on the wave timeout, naming the blocking resource."""
    deadline = time.monotonic() + run.options.wave_timeout_s
    pending = dict(applied)
    interval = 0.02
    last_blocker = ""
    while pending:
        # One bulk read a round where the target offers it: a wave of thousands
        # of objects is polled several times.
        observed = observe_all(pending.values(), run.targets, parallelism=run.options.parallelism)
        for key, resource in list(pending.items()):
            provider = run.targets.for_resource(resource)
            live = observed[key]
            health = (
                Health(HealthCode.MISSING, "not found") if live is None else provider.health(live)
            )
            previous = run.healths.get(key)
            if previous != health:
                run.healths[key] = health
                run.emit(EventKind.HEALTH_CHANGED, str(health), resource=key, wave=wave.label)
            if health.code.is_settled:
                del pending[key]
            elif health.code is HealthCode.DEGRADED:
                raise _Stop(f"{key.display} is Degraded: {health.message}", key=key)
        if not pending:
            break
        blocker_key = min(pending)
        blocker = f"waiting for {blocker_key.display}: {run.healths[blocker_key]}"
        if blocker != last_blocker:
            run.emit(EventKind.WAITING, blocker, resource=blocker_key, wave=wave.label)
            last_blocker = blocker
        if time.monotonic() >= deadline:
            raise _Stop(
                f"{wave.label} timed out after {run.options.wave_timeout_s:g}s {blocker}",
                key=blocker_key,
            )
        time.sleep(interval)
        interval = min(interval * 2, run.options.max_poll_interval_s)


def _await_deleted(run: _Run, provider: Provider, key: ResourceKey) -> None:
    """Block until ``key`` is gone; ProviderError after the wave timeout."""
    deadline = time.monotonic() + run.options.wave_timeout_s
    interval = 0.02
    while provider.observe(key) is not None:
        if time.monotonic() >= deadline:
            raise ProviderError(
                key, f"still present {run.options.wave_timeout_s:g}s after it was deleted"
            )
        time.sleep(interval)
        interval = min(interval * 2, run.options.max_poll_interval_s)


def _wait_absent(run: _Run, keys: Sequence[tuple[ResourceKey, Live]]) -> None:
    deadline = time.monotonic() + run.options.wave_timeout_s
    pending = list(keys)
    interval = 0.02
    while pending:
        pending = [(k, live) for k, live in pending if run.targets.for_live(live).observe(k)]
        if not pending:
            return
        if time.monotonic() >= deadline:
            raise _Stop(f"timed out waiting for {pending[0][0].display} to be deleted")
        time.sleep(interval)
        interval = min(interval * 2, run.options.max_poll_interval_s)


def _finish_hooks(run: _Run, hooks: Sequence[tuple[Task, Resource]], *, succeeded: bool) -> None:
    for task, hook in hooks:
        policies = _delete_policies(task)
        provider = run.targets.for_resource(hook)
        run.emit(EventKind.HOOK_FINISHED, "succeeded" if succeeded else "failed", resource=hook.key)
        if (succeeded and HookDeletePolicy.HOOK_SUCCEEDED in policies) or (
            not succeeded and HookDeletePolicy.HOOK_FAILED in policies
        ):
            provider.delete(hook.key, propagation=Propagation.FOREGROUND)


def _ensure_namespaces(run: _Run) -> None:
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


def _run_wave(run: _Run, wave: Wave, pool: ThreadPoolExecutor) -> None:
    run.emit(EventKind.WAVE_STARTED, f"{len(wave.tasks)} objects", wave=wave.label)
    results = list(pool.map(lambda t: _safe_apply(run, t), wave.tasks))
    errors = [(task, err) for task, _, err in results if err is not None]
    hooks = [(task, res) for task, res, _ in results if task.action is Action.HOOK and res]
    if errors:
        # Hooks this wave did create still get their HookFailed policy.
        _finish_hooks(run, hooks, succeeded=False)
        raise _Stop(str(errors[0][1]))
    if run.options.dry_run:
        return
    applied = {res.key: res for task, res, _ in results if res is not None}
    try:
        _wait_healthy(run, wave, applied)
    except _Stop as stop:
        if stop.key is not None:
            run.mark_failed(stop.key, str(stop))
        _finish_hooks(run, hooks, succeeded=False)
        raise
    _finish_hooks(run, hooks, succeeded=True)
    with run.lock:
        deleted = {e.key for e in run.entries if e.action is ChangeAction.DELETED}
    # Only what was really deleted: an object left alone (not ours) stays.
    pruned = [
        (t.key, t.live)
        for t in wave.tasks
        if t.action is Action.PRUNE and t.live and t.key in deleted
    ]
    _wait_absent(run, pruned)
    run.emit(EventKind.WAVE_FINISHED, "healthy", wave=wave.label)


def execute(
    plan: Plan,
    *,
    targets: Targets,
    options: SyncOptions = SyncOptions(),
    sink: EventSink = discard,
    clock: Callable[[], float] = time.time,
    bind: Callable[[Resource], Resource] | None = None,
) -> SyncResult:
    """Carry out ``plan``: every wave applied then awaited, in order.

    ``bind`` finishes an object right before it is applied (the reconcile
    shell passes one that evaluates ``${id.status.field}`` references against
    the objects applied in earlier waves).

    Never raises for a failed object: the failure is in the result (phase
    Failed, the entry marked failed, SyncFail hooks run)."""
    started = clock()
    run = _Run(plan=plan, targets=targets, options=options, sink=sink)
    if bind is not None:
        run.bind = bind
    run.emit(EventKind.SYNC_STARTED, "dry run" if options.dry_run else "")
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
                _run_wave(run, wave, pool)
        except (_Stop, GitwaveError) as exc:
            phase = SyncPhase.FAILED
            message = str(exc)
            run.emit(EventKind.ERROR, message)
            for wave in fail_waves:
                try:
                    _run_wave(run, wave, pool)
                except (_Stop, GitwaveError) as fail_exc:
                    message += f"; SyncFail hook failed: {fail_exc}"
    # Entries in plan order (hooks with generated names after), so output reads like the plan.
    position = {task.key: i for i, task in enumerate(plan.tasks())}
    settled = list(run.healths.values())
    health = Health.worst(settled)
    result = SyncResult(
        app=plan.app,
        revision=plan.revision,
        phase=phase,
        message=message,
        changeset=ChangeSet(
            tuple(sorted(run.entries, key=lambda e: position.get(e.key, len(position))))
        ),
        health=health,
        started=started,
        finished=clock(),
        dry_run=options.dry_run,
        hooks_run=tuple(run.hooks_run),
    )
    run.emit(EventKind.SYNC_FINISHED, f"{phase.value}: {message}")
    return result
