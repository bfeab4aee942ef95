"""A plan as values to show: lines of text with a role each, and plain data.

``plan_lines`` lays a Plan out like ``terraform plan``: a title per wave, one
line per object that changes (every object with ``verbose``), the changed
fields of an update indented below it, the warnings and a summary. Each line
says what it is (``LineKind``) and, for an object, its action, so a
presenter can colour it; ``format_plan`` joins them into plain text.
``plan_to_dict`` is the plan as data for ``-o json|yaml``. Nothing here
prints or colours; Secret values are masked in every form.
"""

from __future__ import annotations

import datetime
import enum
import json
from dataclasses import dataclass
from typing import Any

from gitwave.engine.mask import is_secret_key, mask_change
from gitwave.engine.model import Action, FieldChange, HookPhase, Plan, Task, Wave
from gitwave.engine.orphan import orphan_reason

__all__ = ["LineKind", "PlanLine", "format_plan", "plan_lines", "plan_to_dict"]

_SHORT_VALUE = 80


class LineKind(enum.Enum):
    """What one line of a plan's text is."""

    WAVE = "wave"  # a wave's title
    TASK = "task"  # one object, with its action
    CHANGE = "change"  # one changed field of the object above
    WARNING = "warning"
    KEPT = "kept"  # an object gone from the source that no sync deletes, and why
    BLANK = "blank"
    SUMMARY = "summary"  # the counts, always last


@dataclass(frozen=True, slots=True)
class PlanLine:
    """One line of a plan's text: ``indent`` + ``text``. ``action`` is set on
    a TASK line (a presenter colours ``text`` by it, not the indent)."""

    kind: LineKind
    text: str
    indent: str = ""
    action: Action | None = None

    def __str__(self) -> str:
        return self.indent + self.text


def _summary(plan: Plan) -> str:
    counts = plan.counts()
    hooks = counts[Action.HOOK]
    return (
        f"Plan: {counts[Action.CREATE]} to create, {counts[Action.UPDATE]} to update, "
        f"{counts[Action.PRUNE]} to prune, {hooks} hook{'' if hooks == 1 else 's'}, "
        f"{counts[Action.NONE]} unchanged"
        # Argo CD's "requires pruning": gone from Git, still live, kept by this plan.
        + (f", {len(plan.unpruned)} requires pruning." if plan.unpruned else ".")
    )


def _wave_title(wave: Wave) -> str:
    title = wave.label
    if wave.tasks and all(t.action is Action.PRUNE for t in wave.tasks):
        title += " (prune)"
    return title


def _safe_change(task: Task, change: FieldChange) -> FieldChange:
    # diff_manifest masks already; a plan built elsewhere must not leak either.
    return mask_change(change, is_secret=is_secret_key(task.key))


def _show(value: Any, *, verbose: bool) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, str):
        text = (
            value if value and value.strip() == value and "\n" not in value else json.dumps(value)
        )
    else:
        text = json.dumps(_jsonable(value), sort_keys=True, separators=(", ", ": "))
    if not verbose and len(text) > _SHORT_VALUE:
        text = text[: _SHORT_VALUE - 1] + "…"
    return text


def _orphan(task: Task) -> str | None:
    """Why pruning ``task``'s object leaves what it manages in place, if it does."""
    if task.action is not Action.PRUNE or task.live is None:
        return None
    return orphan_reason(task.live.manifest)


def _task_text(task: Task, phase: HookPhase) -> str:
    name = task.key.display
    match task.action:
        case Action.CREATE:
            return f"{name} (create)"
        case Action.PRUNE:
            orphan = _orphan(task)
            return f"{name} (prune: orphaned, {orphan})" if orphan else f"{name} (prune)"
        case Action.HOOK:
            return f"{name} ({phase.value} hook)"
        case Action.NONE:
            return f"{name} (unchanged)"
        case _:
            return name


def plan_lines(plan: Plan, *, verbose: bool = False) -> tuple[PlanLine, ...]:
    """The plan's text, line by line (see the module docstring). ``verbose``
    also lists unchanged objects and keeps long values whole."""
    lines: list[PlanLine] = []
    for wave in plan.waves:
        shown = [t for t in wave.tasks if verbose or t.action is not Action.NONE]
        if not shown:
            continue
        lines.append(PlanLine(LineKind.WAVE, f"{_wave_title(wave)}:"))
        for task in shown:
            text = f"{task.action.symbol} {_task_text(task, wave.phase)}"
            lines.append(PlanLine(LineKind.TASK, text, indent="  ", action=task.action))
            for change in task.changes:
                safe = _safe_change(task, change)
                text = (
                    f"{safe.path}: {_show(safe.live, verbose=verbose)} -> "
                    f"{_show(safe.desired, verbose=verbose)}"
                )
                lines.append(PlanLine(LineKind.CHANGE, text, indent="      "))
    if plan.warnings or plan.kept:
        if lines:
            lines.append(PlanLine(LineKind.BLANK, ""))
        lines.extend(PlanLine(LineKind.WARNING, f"Warning: {w}") for w in plan.warnings)
        lines.extend(
            PlanLine(LineKind.KEPT, f"kept: {k.key.display} ({k.reason})") for k in plan.kept
        )
    if lines:
        lines.append(PlanLine(LineKind.BLANK, ""))
    lines.append(PlanLine(LineKind.SUMMARY, _summary(plan)))
    return tuple(lines)


def format_plan(plan: Plan, *, verbose: bool = False) -> str:
    """The plan as plain text, one line per :func:`plan_lines` entry, ending in
    a newline. Secret values are masked."""
    return "\n".join(str(line) for line in plan_lines(plan, verbose=verbose)) + "\n"


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The plan as plain data for ``-o json|yaml``: waves, tasks with their field
    changes, warnings and counts. No manifests; Secret values masked."""
    counts = plan.counts()
    return {
        "app": plan.app,
        "revision": plan.revision,
        "waves": [
            {
                "phase": wave.phase.value,
                "wave": wave.number,
                "step": wave.step,
                "label": _wave_title(wave),
                "tasks": [
                    {
                        "key": str(task.key),
                        "group": task.key.group,
                        "kind": task.key.kind,
                        "namespace": task.key.namespace,
                        "name": task.key.name,
                        "action": task.action.value,
                        **({"orphan": orphan} if (orphan := _orphan(task)) else {}),
                        "changes": [
                            {
                                "path": safe.path,
                                "op": safe.op.value,
                                "live": _jsonable(safe.live),
                                "desired": _jsonable(safe.desired),
                            }
                            for safe in (_safe_change(task, c) for c in task.changes)
                        ],
                    }
                    for task in wave.tasks
                ],
            }
            for wave in plan.waves
        ],
        "warnings": list(plan.warnings),
        "kept": [{"key": str(k.key), "reason": k.reason} for k in plan.kept],
        "requiresPruning": [str(key) for key in plan.unpruned],
        "summary": {
            "create": counts[Action.CREATE],
            "update": counts[Action.UPDATE],
            "prune": counts[Action.PRUNE],
            "hook": counts[Action.HOOK],
            "unchanged": counts[Action.NONE],
        },
    }


def _jsonable(value: Any) -> Any:
    """``value`` with what JSON cannot hold (YAML dates, tuples) made plain."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
