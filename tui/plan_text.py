"""A plan's text for a terminal: the engine's plan lines, coloured by what they are.

Object lines take the colour of their action (create green, update yellow,
prune red, hook cyan, unchanged dim), wave titles and the summary are bold,
warnings yellow. Without colour it is exactly ``engine.plan_report.format_plan``.
"""

from __future__ import annotations

from gitwave.engine.model import Action, Plan
from gitwave.engine.plan_report import LineKind, PlanLine, plan_lines
from gitwave.tui.formatting import paint

__all__ = ["format_plan"]

_ACTION_COLOR = {
    Action.CREATE: "green",
    Action.UPDATE: "yellow",
    Action.PRUNE: "red",
    Action.HOOK: "cyan",
    Action.NONE: "dim",
}
_KIND_COLOR = {
    LineKind.WAVE: "bold",
    LineKind.WARNING: "yellow",
    LineKind.KEPT: "yellow",
    LineKind.SUMMARY: "bold",
}


def _colored(line: PlanLine) -> str:
    color = _ACTION_COLOR[line.action] if line.action is not None else _KIND_COLOR.get(line.kind)
    if color is None:
        return str(line)
    return line.indent + paint(line.text, color, enabled=True)


def format_plan(plan: Plan, *, color: bool = False, verbose: bool = False) -> str:
    """The plan as text like ``terraform plan``, in ANSI colours when ``color``.
    Secret values are masked (the engine's lines are)."""
    lines = plan_lines(plan, verbose=verbose)
    render = _colored if color else str
    return "\n".join(render(line) for line in lines) + "\n"
