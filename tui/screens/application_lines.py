"""The two text lines above the Application screen's tree: the app's summary
(sync, health, revision, auto-sync, last sync) and its activity (an error, what
blocks a sync, what is running, or the view's hint)."""

from __future__ import annotations

from rich.text import Text

from gitwave.tui.controller import AppView
from gitwave.tui.screens.application_rows import object_count
from gitwave.tui.widgets.status import (
    Glyphs,
    age,
    auto_sync_cell,
    health_cell,
    result_cell,
    sync_cell,
)


def summary_text(view: AppView, g: Glyphs, *, now: float) -> Text:
    """Two lines, each cut at the edge: a long commit subject must not push
    the tree down a line."""
    s = view.summary
    first = Text()
    first.append_text(sync_cell(s.sync, g).rich())
    first.append("  ")
    first.append_text(health_cell(s.health, g).rich())
    if s.window:
        # Before the revision: a window holding syncs matters more than the subject.
        first.append(f"  {s.window}", style="red" if s.window_blocks else "green")
    first.append(f"  rev {s.revision.short}")
    if s.revision.subject:
        first.append(f" {s.revision.subject}", style="dim")
    second = Text("auto-sync ")
    second.append_text(auto_sync_cell(s.auto_sync, g).rich())
    second.append("  last sync ")
    if s.last is None:
        second.append("never", style="dim")
    else:
        second.append_text(result_cell(s.last.result, g).rich())
        when = age(now - s.last.finished)
        second.append(f" {when} ago (#{s.last.id})")
    second.append(f"  {object_count(s.resources)}")
    text = Text("\n", no_wrap=True, overflow="ellipsis").join([first, second])
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


def activity_text(
    view: AppView | None,
    g: Glyphs,
    *,
    busy: str | None,
    blocked: str,
    running_wave: str | None,
    mode: str,
    filter_text: str,
) -> Text:
    """The activity line: ``busy`` is what this TUI runs on the app, if anything."""
    if not busy and view is not None and view.summary.operation:
        busy = f"{view.summary.operation.lower()} by {view.summary.operation_by}"
    if view is not None and view.summary.error:
        return Text(f"{g.fail} {view.summary.error}", style="red")
    if blocked:
        text = Text(f"{g.suspended} Blocked: ", style="bold yellow")
        text.append(blocked)
        return text
    if busy:
        what = f"{g.running} {busy}"
        if running_wave:
            what += f": {running_wave}"
        return Text(what, style="bold")
    shown = "waves" if mode == "waves" else "live tree"
    hint = f"{shown} · w: switch view · enter: diff"
    if filter_text:
        hint += f" · filter: {filter_text}"
    return Text(hint, style="dim")
