"""The help screen (``?``): every key of every screen, read from their bindings,
so it never goes stale."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.keys import format_key
from textual.screen import ModalScreen
from textual.widgets import Static

from gitwave.tui.screens.base import CONTROL_ACTIONS

Section = tuple[str, list[tuple[str, str]]]


# Words rather than symbols for the keys people name by their label.
_WORDS = {"enter": "enter", "escape": "esc", "space": "space", "pageup": "pgup", "pagedown": "pgdn"}


def _key_text(binding: Binding) -> str:
    if binding.key_display:
        return binding.key_display
    modifiers, key = binding.parse_key()
    text = _WORDS.get(key) or format_key(key)
    if "ctrl" in modifiers:
        text = f"ctrl+{text}"
    return text


def key_section(
    title: str, bindings: Iterable[BindingType], *, read_only: bool, skip: Sequence[str] = ()
) -> Section:
    """One screen's keys: each action once, its keys joined (``j, ↓``)."""
    keys: dict[str, list[str]] = {}
    descriptions: dict[str, str] = {}
    for binding in Binding.make_bindings(bindings):
        action = binding.action.removeprefix("app.").removeprefix("screen.")
        name = action.split("(")[0]
        if name in skip or (read_only and name in CONTROL_ACTIONS):
            continue
        shown = _key_text(binding)
        if shown not in keys.setdefault(action, []):
            keys[action].append(shown)
        descriptions.setdefault(action, binding.description or name.replace("_", " "))
    return title, [(", ".join(keys[a]), descriptions[a]) for a in keys]


class HelpScreen(ModalScreen[None]):
    """Every key, screen by screen. Any of escape, q or ? closes it."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 90%;
        max-width: 100;
        height: 90%;
        border: thick $primary;
        background: $panel;
        padding: 0 1;
    }
    """

    BINDINGS = [
        Binding("escape,q,question_mark", "close", "close"),
        Binding("j,down", "scroll(1)", "scroll", show=False),
        Binding("k,up", "scroll(-1)", "scroll", show=False),
    ]

    def __init__(self, sections: Sequence[Section], *, read_only: bool) -> None:
        super().__init__()
        self.sections = list(sections)
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(self._table(), id="keys")

    def _table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        title = "gitwave keys"
        if self.read_only:
            title += " (read-only mode: controls are disabled)"
        table.add_row(Text(title, style="bold underline"), "")
        for name, rows in self.sections:
            table.add_row("", "")
            table.add_row(Text(name, style="bold"), "")
            for keys, description in rows:
                table.add_row(keys, description)
        return table

    @property
    def text(self) -> str:
        """Every key and description, one per line (for tests and screen readers)."""
        lines = []
        for name, rows in self.sections:
            lines.append(name)
            lines.extend(f"  {keys}  {description}" for keys, description in rows)
        return "\n".join(lines)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_scroll(self, lines: int) -> None:
        self.query_one("#help", VerticalScroll).scroll_relative(y=lines, animate=False)
