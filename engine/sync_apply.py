"""Applying one task of a sync: create, update, prune or run a hook, with
ownership re-checked at the last moment; and the namespaces CreateNamespace=true
makes before the first wave. ``engine.sync`` runs these wave by wave."""

from __future__ import annotations

import dataclasses

from gitwave.engine.errors import GitwaveError
from gitwave.engine.events import EventKind
from gitwave.engine.model import (
    ANNOTATION_TRACKING_ID,
    Action,
    ChangeAction,
    ChangeSetEntry,
    HookDeletePolicy,
    Live,
    Propagation,
    Resource,
    ResourceKey,
    Task,
)
from gitwave.engine.ownership import is_prunable_by, tracked_resource
from gitwave.engine.provider import Provider
from gitwave.engine.sync_hooks import delete_policies, hook_instance
from gitwave.engine.sync_run import SyncRun
from gitwave.engine.sync_waits import await_deleted

# Argo CD's sync option that, with server-side apply, forces field conflicts.
FORCE_OPTION = "Force=true"


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


def safe_apply(run: SyncRun, task: Task) -> tuple[Task, Resource | None, GitwaveError | None]:
    try:
        done, resource = _apply_task(run, task)
        return done, resource, None
    except GitwaveError as exc:
        with run.lock:
            run.retry_after_s = max(run.retry_after_s, exc.retry_after_s)
        run.record(ChangeSetEntry(task.key, ChangeAction.FAILED, str(exc)))
        run.emit(EventKind.ERROR, str(exc), resource=task.key)
        return task, None, exc


def ensure_namespaces(run: SyncRun) -> None:
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
