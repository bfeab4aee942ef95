"""DiffView: desired vs live, field by field, for one object or a whole app.

It draws the plan's FieldChange values, which the diff stage has already
masked for Secrets; a Secret's values are masked again here all the same,
and a Secret about to be created shows its entry names, never its data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import yaml
from rich.text import Text
from textual.widgets import RichLog

from gitwave.engine.mask import is_secret_key, mask_change, shown_manifest
from gitwave.engine.model import Action, FieldOp, Task
from gitwave.tui.widgets.status import UNICODE, Glyphs, Tone, change_symbol

_HEADER_TONE = {
    Action.CREATE: Tone.GOOD,
    Action.UPDATE: Tone.WARN,
    Action.PRUNE: Tone.BAD,
    Action.HOOK: Tone.INFO,
    Action.NONE: Tone.DIM,
}

_WHAT = {
    Action.CREATE: "missing live; a sync creates it",
    Action.UPDATE: "differs from Git",
    Action.PRUNE: "not in Git; a sync with prune deletes it",
    Action.HOOK: "hook; created again on every sync",
    Action.NONE: "in sync",
}


def _value(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, str):
        plain = value and value.strip() == value and "\n" not in value
        return value if plain else json.dumps(value)
    return json.dumps(value, sort_keys=True, separators=(", ", ": "), default=str)


def _manifest_lines(task: Task) -> list[str]:
    """The object a create would make, as YAML without its status."""
    if task.desired is None:
        return []
    manifest = shown_manifest(task.desired)
    manifest.pop("status", None)
    text = yaml.dump(manifest, Dumper=yaml.CSafeDumper, sort_keys=False, default_flow_style=False)
    return text.rstrip("\n").splitlines()


def diff_lines(
    tasks: Sequence[Task],
    *,
    warnings: Sequence[str] = (),
    glyphs: Glyphs = UNICODE,
    whole_app: bool = True,
    limit: int = 3000,
) -> list[Text]:
    """The lines a DiffView shows for ``tasks``.

    A whole-app diff lists each object that changes with its changed fields
    (creates by name only) and counts the unchanged ones; a one-object diff
    also shows the full object a create would make. At most ``limit`` lines.
    """
    g = glyphs
    lines: list[Text] = []
    unchanged = 0
    left_out = 0
    for index, task in enumerate(tasks):
        if whole_app and task.action is Action.NONE:
            unchanged += 1
            continue
        symbol = {
            Action.CREATE: g.added,
            Action.UPDATE: g.changed,
            Action.PRUNE: g.removed,
            Action.HOOK: g.hook,
            Action.NONE: g.ok,
        }[task.action]
        header = Text(no_wrap=False)
        tone = _HEADER_TONE[task.action].rich_style
        header.append(f"{symbol} {task.key.display}", style=f"bold {tone}")
        header.append(f"  {_WHAT[task.action]}", style="dim")
        lines.append(header)
        for change in task.changes:
            safe = mask_change(change, is_secret=is_secret_key(task.key))
            mark = change_symbol(safe.op, g)
            line = Text("    ")
            line.append(f"{mark.text} {safe.path}: ", style=mark.tone.rich_style)
            if safe.op is FieldOp.ADD:
                line.append(_value(safe.desired), style=Tone.GOOD.rich_style)
            elif safe.op is FieldOp.REMOVE:
                line.append(_value(safe.live), style=Tone.BAD.rich_style)
                line.append("  (no longer in Git)", style="dim")
            else:
                line.append(_value(safe.live), style=Tone.BAD.rich_style)
                line.append(f" {g.arrow} ")
                line.append(_value(safe.desired), style=Tone.GOOD.rich_style)
            lines.append(line)
        if task.action is Action.CREATE and not whole_app:
            for text in _manifest_lines(task):
                lines.append(Text(f"    {g.added} {text}", style=Tone.GOOD.rich_style))
        if len(lines) >= limit:
            left_out = sum(1 for t in tasks[index + 1 :] if t.action is not Action.NONE)
            unchanged += sum(1 for t in tasks[index + 1 :] if t.action is Action.NONE)
            break
    if left_out:
        lines.append(Text(f"{g.ellipsis} {left_out} more objects differ: open one to see its diff"))
    if whole_app:
        if not lines:
            lines.append(Text(f"{g.ok} every object is in sync with Git", style="green"))
        if unchanged:
            lines.append(Text(f"{unchanged} objects unchanged", style="dim"))
    for warning in warnings:
        lines.append(Text(f"Warning: {warning}", style=Tone.WARN.rich_style))
    return lines


class DiffView(RichLog):
    """A scrollable diff; ``show`` replaces what it shows."""

    DEFAULT_CSS = """
    DiffView {
        height: 1fr;
        background: $surface;
        border: none;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(wrap=True, markup=False, highlight=False, auto_scroll=False, id=id)
        self.text_lines: list[str] = []

    def show(self, lines: Sequence[Text]) -> None:
        self.clear()
        self.text_lines = [line.plain for line in lines]
        for line in lines:
            self.write(line, expand=True)
        self.scroll_home(animate=False)
