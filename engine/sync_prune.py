"""A prune wave in a sync: deletion in the reverse of the dependency graph.

The objects of a prune wave are cut into levels (``graph_prune``): each level
is deleted in parallel, then waited on until gone, before the next starts, so
an object goes only once everything that uses it is gone. When a user of an
object was not deleted (the delete failed, was refused, or the user was
orphaned and stays on the target), the object is kept and its entry says why;
an orphaned object is not waited for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from gitwave.engine.errors import GitwaveError
from gitwave.engine.events import EventKind
from gitwave.engine.graph_prune import Edge, deletion_levels, live_edges, users_of
from gitwave.engine.model import Action, ChangeAction, ChangeSetEntry, Live, ResourceKey, Task, Wave
from gitwave.engine.orphan import orphan_reason
from gitwave.engine.provider import DependencyReader
from gitwave.engine.sync_run import SyncRun, WaveFailed
from gitwave.engine.sync_waits import wait_absent

__all__ = ["is_prune_wave", "prune_edges", "run_prune_wave"]

# Deletes one task, recording its entry; returns the error it met, if any.
DeleteOne = Callable[[Task], GitwaveError | None]


def is_prune_wave(wave: Wave) -> bool:
    """True when every task of ``wave`` is a prune (the plan keeps prunes in waves
    of their own)."""
    return bool(wave.tasks) and all(t.action is Action.PRUNE for t in wave.tasks)


def prune_edges(run: SyncRun, lives: Sequence[Live]) -> list[Edge]:
    """The dependencies among ``lives``: what their manifests state, and what
    each one's target reads from its own fields."""
    edges = live_edges(lives)
    readers: dict[int, DependencyReader | None] = {}  # a Protocol check is slow; once each
    for live in lives:
        provider = run.targets.for_live(live)
        if id(provider) not in readers:
            readers[id(provider)] = provider if isinstance(provider, DependencyReader) else None
        reader = readers[id(provider)]
        if reader is not None:
            edges.extend((used, live.key) for used in reader.uses(live, lives))
    return list(dict.fromkeys(edges))


def _outcome(run: SyncRun, key: ResourceKey) -> ChangeSetEntry | None:
    with run.lock:
        return next((e for e in reversed(run.entries) if e.key == key), None)


def _why_kept(entry: ChangeSetEntry | None) -> str | None:
    """Why a user that was asked to go is still there (None: it is gone, or going)."""
    if entry is None:
        return "was not deleted"
    match entry.action:
        case ChangeAction.FAILED:
            return f"could not be deleted ({entry.message})" if entry.message else "failed"
        case ChangeAction.SKIPPED:
            return f"was left alone ({entry.message})" if entry.message else "was left alone"
        case ChangeAction.ORPHANED:
            return "was orphaned: it stays on the target"
        case _:
            return None


def run_prune_wave(
    run: SyncRun, wave: Wave, pool: ThreadPoolExecutor, delete: DeleteOne
) -> list[GitwaveError]:
    """Delete the objects of ``wave`` level by level (see the module docstring).
    Returns the errors of failed deletes; raises WaveFailed when a deleted
    object is not gone within the wave timeout (what it kept is recorded)."""
    tasks = {task.key: task for task in wave.tasks}
    lives = [task.live for task in wave.tasks if task.live is not None]
    edges = prune_edges(run, lives)
    users = users_of(edges)
    levels = deletion_levels(list(tasks), edges)
    kept: dict[ResourceKey, str] = {}
    errors: list[GitwaveError] = []
    for index, level in enumerate(levels):
        todo: list[Task] = []
        for key in level:
            blocker = _blocking_user(tasks[key], users.get(key, ()), kept)
            if blocker is None:
                todo.append(tasks[key])
                continue
            why = f"kept: {blocker.display}, which uses it, {kept[blocker]}"
            run.record(ChangeSetEntry(key, ChangeAction.SKIPPED, why, live=tasks[key].live))
            run.emit(EventKind.WAITING, why, resource=key, wave=wave.label)
            kept[key] = "was kept"
        if index and todo:
            run.emit(
                EventKind.WAITING,
                f"deleting {', '.join(t.key.display for t in todo)} now that what uses "
                "them is gone",
                wave=wave.label,
            )
        errors.extend(error for error in pool.map(delete, todo) if error is not None)
        deleted: list[tuple[ResourceKey, Live]] = []
        for task in todo:
            entry = _outcome(run, task.key)
            reason = _why_kept(entry)
            if reason is not None:
                kept[task.key] = reason
            elif entry is not None and entry.action is ChangeAction.DELETED and task.live:
                deleted.append((task.key, task.live))
        if run.options.dry_run:
            continue
        try:
            wait_absent(run, deleted)
        except WaveFailed as stop:
            if stop.key is not None:
                run.mark_failed(stop.key, str(stop))
            _keep_rest(run, levels[index + 1 :], tasks, f"kept: {stop}")
            raise
    return errors


def _blocking_user(
    task: Task, users: Sequence[ResourceKey], kept: dict[ResourceKey, str]
) -> ResourceKey | None:
    """The first user of ``task``'s object that is still there, when deleting
    the object would hurt it. An object orphaned itself harms no user."""
    if task.live is not None and orphan_reason(task.live.manifest) is not None:
        return None
    return next((user for user in users if user in kept), None)


def _keep_rest(
    run: SyncRun,
    levels: Sequence[Sequence[ResourceKey]],
    tasks: dict[ResourceKey, Task],
    why: str,
) -> None:
    for level in levels:
        for key in level:
            run.record(ChangeSetEntry(key, ChangeAction.SKIPPED, why, live=tasks[key].live))
