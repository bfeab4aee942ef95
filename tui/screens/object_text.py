"""The k9s views of one object on the Application screen: ``y`` its live YAML,
``d`` a ``kubectl describe``-like page, ``l`` a Pod's log. Each is a page of
text read from the target in a worker (``tui.object_views``), with ``/`` to
keep the lines that match and ``r`` to read again."""

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
from gitwave.tui.object_views import (
    LogsUnavailableError,
    describe_text,
    yaml_text,
)
from gitwave.tui.screens.base import FILTER_BINDING, GitwaveScreen, filter_input
from gitwave.tui.widgets.diff_view import DiffView
from gitwave.tui.widgets.status import action_cell
from gitwave.tui.widgets.title_bar import TitleBar

__all__ = ["DescribeScreen", "LogsScreen", "ObjectTextScreen", "PageView", "YamlScreen"]


class PageView(DiffView):
    """The page: lines are not wrapped (a YAML line or a table row stays one
    line, as in k9s and ``less -S``); left and right scroll sideways."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.wrap = False


class ObjectTextScreen(GitwaveScreen):
    """A page of text about one object; subclasses say what and how to read it."""

    BINDINGS = [
        Binding("escape", "back", "back"),
        Binding("r", "refresh", "refresh"),
        FILTER_BINDING,
        Binding("j,down", "scroll_down", "down", show=False),
        Binding("k,up", "scroll_up", "up", show=False),
        Binding("g,home", "top", "top", show=False),
        Binding("G,end", "bottom", "bottom", show=False),
        Binding("left", "scroll_left", "left", show=False),
        Binding("right", "scroll_right", "right", show=False),
    ]

    what = "text"

    def __init__(self, app_name: str, key: ResourceKey, view: AppView | None) -> None:
        super().__init__(name=f"{self.what}:{app_name}")
        self.app_name = app_name
        self.key = key
        self.view = view
        self.loads = 0
        self.lines: list[str] = []
        self.status = ""

    def compose(self) -> ComposeResult:
        gw = self.gw
        right = gw.controller.target_name + (" [read-only]" if gw.read_only else "")
        yield TitleBar(("gitwave", self.app_name, f"{self.what} {self.key.display}"), right)
        yield Static(id="legend")
        yield PageView(id="page")
        yield filter_input(f"filter {self.what} lines")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#legend", Static).update(f"{self.gw.glyphs.ellipsis} reading")
        self.query_one("#page", DiffView).focus()
        self.load()

    def read(self) -> tuple[str, str]:
        """(status line, page text), read from the target; runs in a worker."""
        raise NotImplementedError

    @work(thread=True, exclusive=True, group="object-page")
    def load(self) -> None:
        try:
            status, text = self.read()
        except LogsUnavailableError as exc:
            status, text = str(exc), str(exc) + "\n"
        except GitwaveError as exc:
            status = f"{self.gw.glyphs.fail} {exc}"
            text = str(exc) + (f"\nhint: {exc.hint}" if exc.hint else "") + "\n"
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show, status, text)

    def _show(self, status: str, text: str) -> None:
        self.status = status
        self.lines = text.rstrip("\n").split("\n")
        self.loads += 1
        self._draw()

    def _draw(self) -> None:
        needle = self.filter_text.lower()
        shown = [line for line in self.lines if needle in line.lower()] if needle else self.lines
        status = self.status + (f" · filter: {self.filter_text}" if needle else "")
        self.query_one("#legend", Static).update(Text(status, no_wrap=True, overflow="ellipsis"))
        self.query_one("#page", DiffView).show([Text(line) for line in shown])

    @property
    def text(self) -> str:
        """The page as plain text (what the screen shows)."""
        return "\n".join(self.query_one("#page", DiffView).text_lines)

    def filter_changed(self) -> None:
        self._draw()

    def filter_home(self) -> DiffView:
        return self.query_one("#page", DiffView)

    def action_refresh(self) -> None:
        self.load()

    def action_back(self) -> None:
        if not self.clear_filter():
            self.dismiss()

    def action_scroll_down(self) -> None:
        self.query_one("#page", DiffView).scroll_down(animate=False)

    def action_scroll_up(self) -> None:
        self.query_one("#page", DiffView).scroll_up(animate=False)

    def action_scroll_left(self) -> None:
        self.query_one("#page", DiffView).scroll_left(animate=False)

    def action_scroll_right(self) -> None:
        self.query_one("#page", DiffView).scroll_right(animate=False)

    def action_top(self) -> None:
        self.query_one("#page", DiffView).scroll_home(animate=False)

    def action_bottom(self) -> None:
        self.query_one("#page", DiffView).scroll_end(animate=False)


class YamlScreen(ObjectTextScreen):
    """``y``: the live object as YAML, Secret values masked (``kubectl get -o yaml``)."""

    what = "yaml"

    def read(self) -> tuple[str, str]:
        info = self.gw.controller.inspect(self.app_name, self.key, self.view)
        if info.live is None:
            return info.error or "not found on the target", yaml_text(info)
        status = f"live on {info.target} · resourceVersion {info.live.resource_version or '-'}"
        if info.key.kind == "Secret" and info.key.group == "":
            status += " · values masked"
        return status, yaml_text(info)


class DescribeScreen(ObjectTextScreen):
    """``d``: labels, annotations, owner, conditions and recent events (``kubectl describe``)."""

    what = "describe"

    def read(self) -> tuple[str, str]:
        controller = self.gw.controller
        info = controller.inspect(self.app_name, self.key, self.view)
        node = self.view.node(self.key) if self.view is not None else None
        health = str(node.health) if node is not None and node.health is not None else ""
        sync = ""
        if node is not None:
            cell = action_cell(node.action, self.gw.glyphs).text
            sync = f"{cell} · {node.wave}" if node.action is not None else "not in Git (owned)"
        text = describe_text(info, now=controller.clock(), health=health, sync=sync)
        status = f"live on {info.target}" if info.live is not None else info.error or "not found"
        return status, text


class LogsScreen(ObjectTextScreen):
    """``l``: the last lines of a Pod's log (``kubectl logs --tail``), where the
    target keeps logs; the sandbox's answer says it keeps none."""

    what = "logs"

    def read(self) -> tuple[str, str]:
        logs = self.gw.controller.logs(self.app_name, self.key, self.view)
        where = logs.pod.display + (f" [{logs.container}]" if logs.container else "")
        lines = logs.text.rstrip("\n")
        return f"{where} · last lines", (lines or "(the log is empty)") + "\n"
