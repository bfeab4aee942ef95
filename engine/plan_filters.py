"""Narrowing a plan to what one operation asked for.

A plan is made once per app per operation and never edited; these pure
functions derive the plan an operation runs from it: one object only
(``only``), everything re-applied (``forced``), the hooks already done for this
revision left out (``without_done_hooks``), and the fields whose healing is
paused by a drift loop left alone (``without_paused_fields``). The operations
layer (``engine.operations``) is their one caller.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from gitwave.engine.errors import ValidationError
from gitwave.engine.fieldpath import without_paths
from gitwave.engine.model import Action, HookPhase, Plan, ResourceKey, Task, Wave

if TYPE_CHECKING:  # a sync's filters: planning (status, plan) loads neither
    from gitwave.engine.drift import DriftLoop


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """One object a selective sync names (``sync --resource``): Argo CD's
    ``GROUP:KIND:NAME`` (``:Service:web`` for the core group) or kubectl's
    ``KIND/NAME`` and ``KIND/NAMESPACE/NAME``. ``group`` None: any group;
    ``namespace`` None: any namespace. Kinds match case-insensitively."""

    kind: str
    name: str
    group: str | None = None
    namespace: str | None = None
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> ResourceRef:
        """Raises ValidationError for text of neither form."""
        if ":" in text:
            parts = text.split(":")
            if len(parts) == 3 and parts[1] and parts[2]:
                return cls(parts[1], parts[2], group=parts[0], text=text)
        else:
            parts = text.split("/")
            kind_part = parts[0]
            kind, _, group = kind_part.partition(".")
            if len(parts) == 2 and kind and parts[1]:
                return cls(kind, parts[1], group=group or None, text=text)
            if len(parts) == 3 and kind and parts[2]:
                return cls(kind, parts[2], group=group or None, namespace=parts[1], text=text)
        raise ValidationError(
            text,
            "not a resource: want KIND/NAME, KIND/NAMESPACE/NAME or GROUP:KIND:NAME",
            hint="e.g. --resource deployment/web or --resource apps:Deployment:web",
        )

    def matches(self, key: ResourceKey) -> bool:
        return (
            key.name == self.name
            and _kind_matches(self.kind, key.kind)
            and (self.group is None or self.group == key.group)
            and (self.namespace is None or self.namespace == key.namespace)
        )


def _kind_matches(asked: str, kind: str) -> bool:
    # deployment, deployments and Deployment name one kind, as kubectl reads them.
    asked, kind = asked.lower(), kind.lower()
    return asked in (kind, kind + "s", kind + "es")


def only_refs(plan: Plan, refs: Collection[ResourceRef]) -> Plan:
    """``plan`` cut down to the tasks ``refs`` name (hooks left out, as Argo CD's
    selective sync runs none); ValidationError naming a ref that matches nothing."""
    for ref in refs:
        if not any(ref.matches(task.key) for task in plan.tasks()):
            raise ValidationError(
                ref.text or ref.name,
                f"names no object in the plan of app {plan.app}",
                hint="only objects the app renders (or prunes) can be synced on their own",
            )
    return keep_tasks(
        plan,
        lambda wave, task: (
            task.action is not Action.HOOK and any(r.matches(task.key) for r in refs)
        ),
    )


def keep_tasks(plan: Plan, keep: Callable[[Wave, Task], bool]) -> Plan:
    """``plan`` with only the tasks ``keep`` accepts; waves left empty are dropped."""
    waves = []
    for wave in plan.waves:
        tasks = tuple(task for task in wave.tasks if keep(wave, task))
        if tasks:
            waves.append(replace(wave, tasks=tasks))
    return replace(plan, waves=tuple(waves))


def only(plan: Plan, key: ResourceKey) -> Plan:
    """``plan`` cut down to the task of ``key``; ValidationError when it has none."""
    for wave in plan.waves:
        for task in wave.tasks:
            if task.key == key:
                return replace(plan, waves=(replace(wave, tasks=(task,)),))
    raise ValidationError(
        key.display,
        f"is not in the plan of app {plan.app}",
        hint="only objects the app renders (or prunes) can be synced on their own",
    )


def forced(plan: Plan) -> Plan:
    """``plan`` with the objects already in sync applied as well."""

    def force(task: Task) -> Task:
        return replace(task, action=Action.UPDATE) if task.action is Action.NONE else task

    return replace(
        plan,
        waves=tuple(replace(w, tasks=tuple(force(t) for t in w.tasks)) for w in plan.waves),
    )


def without_done_hooks(plan: Plan, done: Collection[str]) -> tuple[Plan, tuple[str, ...]]:
    """``plan`` without the hooks recorded as succeeded (``done``, ids from
    ``hooks.hook_id``), and the ids left out. SyncFail hooks are never left
    out: they report a failure."""
    from gitwave.engine.hooks import hook_id  # a sync's: planning never loads the hooks

    skipped: list[str] = []

    def keep(wave: Wave, task: Task) -> bool:
        if task.action is not Action.HOOK or task.desired is None:
            return True
        if wave.phase is HookPhase.SYNC_FAIL:
            return True
        ident = hook_id(wave.phase, task.desired)
        if ident in done:
            skipped.append(ident)
            return False
        return True

    return keep_tasks(plan, keep), tuple(skipped)


def without_paused_fields(plan: Plan, loops: Iterable[DriftLoop]) -> Plan:
    """``plan`` without the changes to fields whose healing is paused (drift loops).

    Only the fought-over field is left alone, not its whole object: an update
    that changes other fields too applies the desired object without the
    paused ones. Server-side apply then leaves those to the manager that took
    them over (it owns them now), and the rest is healed. An update of paused
    fields alone is dropped, as is the creation of an object whose deletion
    is the fight (path "")."""
    paused: dict[ResourceKey, set[str]] = {}
    for loop in loops:
        paused.setdefault(loop.key, set()).add(loop.path)
    if not paused:
        return plan
    waves = []
    for wave in plan.waves:
        tasks = []
        for task in wave.tasks:
            paths = paused.get(task.key)
            if paths and task.action in (Action.UPDATE, Action.CREATE):
                kept = tuple(change for change in task.changes if change.path not in paths)
                if task.action is Action.CREATE or "" in paths or not kept:
                    continue
                if task.desired is not None:
                    manifest = without_paths(task.desired.manifest, paths)
                    task = replace(task, desired=replace(task.desired, manifest=manifest))
                task = replace(task, changes=kept)
            tasks.append(task)
        if tasks:
            waves.append(replace(wave, tasks=tuple(tasks)))
    return replace(plan, waves=tuple(waves))
