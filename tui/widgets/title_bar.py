"""TitleBar: where you are (gitwave > app > view) and what you are connected to."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label


class TitleBar(Horizontal):
    """One line at the top: the breadcrumb on the left, the target on the right."""

    DEFAULT_CSS = """
    TitleBar {
        dock: top;
        height: 1;
        background: $primary;
        color: $text;
        padding: 0 1;
    }
    TitleBar > #crumbs {
        width: 1fr;
        text-style: bold;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    TitleBar > #target {
        width: auto;
        margin-left: 1;
    }
    """

    def __init__(self, crumbs: tuple[str, ...], right: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.crumbs = crumbs
        self.right = right

    def compose(self) -> ComposeResult:
        yield Label(" > ".join(self.crumbs), id="crumbs", markup=False)
        yield Label(self.right, id="target", markup=False)

    def set_crumbs(self, *crumbs: str) -> None:
        self.crumbs = crumbs
        self.query_one("#crumbs", Label).update(" > ".join(crumbs))
