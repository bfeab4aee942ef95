"""The Diff screen: desired vs live, field by field, for one object or the whole app."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from gitwave.engine.errors import GitwaveError
from gitwave.engine.model import ResourceKey
from gitwave.tui.controller import AppView
from gitwave.tui.screens.base import GitwaveScreen
from gitwave.tui.screens.messages import SyncRequested
from gitwave.tui.widgets.diff_view import DiffView, diff_lines
from gitwave.tui.widgets.title_bar import TitleBar


def view_diff(view: AppView, key: ResourceKey | None, screen: DiffScreen) -> list[Text]:
    g = screen.gw.glyphs
    plan = view.plan
    if plan is None:
        return [Text(f"{g.fail} {view.summary.error}", style="red")]
    if key is None:
        return diff_lines(list(plan.tasks()), warnings=plan.warnings, glyphs=g)
    task = view.task(key)
    if task is not None:
        return diff_lines([task], glyphs=g, whole_app=False)
    owner = view.owner_of(key)
    if owner is not None:
        return [
            Text(f"{key.display} is not in Git: {owner.key.display} owns it."),
            Text("Its changes follow its owner's; open the owner to see what differs.", "dim"),
        ]
    return [Text(f"{key.display} is no longer part of app {view.summary.name}.")]


class DiffScreen(GitwaveScreen):
    """Field-level diff. ``key`` None: every object of the app that differs."""

    BINDINGS = [
        Binding("escape", "back", "back"),
        Binding("r", "refresh", "refresh"),
        Binding("S", "sync", "sync"),
        Binding("j,down", "scroll_down", "down", show=False),
        Binding("k,up", "scroll_up", "up", show=False),
    ]

    def __init__(self, app_name: str, key: ResourceKey | None, view: AppView | None) -> None:
        super().__init__(name=f"diff:{app_name}")
        self.app_name = app_name
        self.key = key
        self.view = view
        self.loads = 0

    def compose(self) -> ComposeResult:
        gw = self.gw
        what = self.key.display if self.key is not None else "whole app"
        right = gw.controller.target_name + (" [read-only]" if gw.read_only else "")
        yield TitleBar(("gitwave", self.app_name, f"diff {what}"), right)
        yield Static(id="legend")
        yield DiffView(id="diff")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        g = self.gw.glyphs
        legend = Text("live ")
        legend.append(g.arrow)
        legend.append(" desired   ")
        legend.append(f"{g.added} added", style="green")
        legend.append("  ")
        legend.append(f"{g.changed} changed", style="yellow")
        legend.append("  ")
        legend.append(f"{g.removed} removed", style="red")
        self.query_one("#legend", Static).update(legend)
        self.query_one("#diff", DiffView).focus()
        self.gw.changed_signal.subscribe(self, self._app_changed)
        if self.view is not None:
            self._show(self.view)
        else:
            self.query_one("#diff", DiffView).write(f"{g.ellipsis} planning")
            self.load()

    @work(thread=True, exclusive=True, group="diff")
    def load(self) -> None:
        try:
            view = self.gw.controller.view(self.app_name)
        except GitwaveError as exc:
            self.app.call_from_thread(self.engine_failed, exc)
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show, view)

    def _app_changed(self, name: str) -> None:
        # A sync started from here (S) ended: show what differs now, not what
        # differed before it.
        if name == self.app_name and name not in self.gw.busy:
            self.load()

    def _show(self, view: AppView) -> None:
        self.view = view
        self.loads += 1
        self.query_one("#diff", DiffView).show(view_diff(view, self.key, self))

    @property
    def text(self) -> str:
        """The diff as plain text (what the screen shows, without colour)."""
        return "\n".join(self.query_one("#diff", DiffView).text_lines)

    def action_refresh(self) -> None:
        self.load()

    def action_back(self) -> None:
        self.dismiss()

    def action_sync(self) -> None:
        self.post_message(SyncRequested(self.app_name, self.key))

    def action_scroll_down(self) -> None:
        self.query_one("#diff", DiffView).scroll_down(animate=False)

    def action_scroll_up(self) -> None:
        self.query_one("#diff", DiffView).scroll_up(animate=False)
