"""Status cells: a symbol and a word for every state, then a colour.

Operators read the TUI over SSH, in 16 colours or with NO_COLOR set, so no
state is told by colour alone: every cell carries a symbol (✓ ✗ ~ + -) and its
word. ``Glyphs.detect`` falls back to ASCII symbols on a terminal whose
locale is not UTF-8 (or with ``GITWAVE_ASCII=1``).
"""

from __future__ import annotations

import enum
import locale
import os
from collections.abc import Mapping
from dataclasses import dataclass

from rich.text import Text

from gitwave.engine.model import Action, FieldOp, Health, HealthCode
from gitwave.tui.controller import AutoSync, SyncStatus
from gitwave.tui.formatting import age as age  # the one age formatter, shared with the CLI


class Tone(enum.Enum):
    """What a cell means, which the colour only repeats."""

    GOOD = "good"
    WARN = "warn"
    BAD = "bad"
    INFO = "info"
    DIM = "dim"
    PLAIN = "plain"

    @property
    def rich_style(self) -> str:
        # ANSI colour names: they map onto any 16-colour palette.
        return _TONE_STYLE[self]


_TONE_STYLE = {
    Tone.GOOD: "green",
    Tone.WARN: "yellow",
    Tone.BAD: "red",
    Tone.INFO: "cyan",
    Tone.DIM: "dim",
    Tone.PLAIN: "",
}


@dataclass(frozen=True, slots=True)
class Glyphs:
    """The symbols the screens draw, in one character set."""

    ok: str
    fail: str
    changed: str
    added: str
    removed: str
    hook: str
    unknown: str
    progressing: str
    missing: str
    suspended: str
    expanded: str
    collapsed: str
    branch: str
    last_branch: str
    pipe: str
    cursor: str
    running: str
    arrow: str
    ellipsis: str

    @staticmethod
    def detect(environ: Mapping[str, str] | None = None, encoding: str | None = None) -> Glyphs:
        """ASCII when ``GITWAVE_ASCII`` is set or the locale cannot encode UTF-8."""
        env = os.environ if environ is None else environ
        if env.get("GITWAVE_ASCII", "") not in ("", "0"):
            return ASCII
        enc = (encoding or locale.getpreferredencoding(False) or "").lower().replace("-", "")
        return UNICODE if "utf8" in enc else ASCII


UNICODE = Glyphs(
    ok="✓",
    fail="✗",
    changed="~",
    added="+",
    removed="-",
    hook="*",
    unknown="?",
    progressing="◔",
    missing="∅",
    suspended="‖",
    expanded="▾",
    collapsed="▸",
    branch="├─",
    last_branch="└─",
    pipe="│ ",
    cursor="▌",
    running="▶",
    arrow="→",
    ellipsis="…",
)

ASCII = Glyphs(
    ok="v",
    fail="x",
    changed="~",
    added="+",
    removed="-",
    hook="*",
    unknown="?",
    progressing="o",
    missing="0",
    suspended="|",
    expanded="v",
    collapsed=">",
    branch="|-",
    last_branch="`-",
    pipe="| ",
    cursor=">",
    running=">",
    arrow="->",
    ellipsis="...",
)


@dataclass(frozen=True, slots=True)
class Cell:
    """One status as drawn: ``✓ Synced`` in green."""

    text: str
    tone: Tone = Tone.PLAIN

    def rich(self) -> Text:
        return Text(self.text, style=self.tone.rich_style, no_wrap=True, overflow="ellipsis")

    @property
    def plain(self) -> str:
        return self.text


BLANK = Cell("")


def sync_cell(status: SyncStatus, g: Glyphs) -> Cell:
    match status:
        case SyncStatus.SYNCED:
            return Cell(f"{g.ok} Synced", Tone.GOOD)
        case SyncStatus.OUT_OF_SYNC:
            return Cell(f"{g.changed} OutOfSync", Tone.WARN)
        case _:
            return Cell(f"{g.unknown} Unknown", Tone.BAD)


_HEALTH = {
    HealthCode.HEALTHY: ("ok", Tone.GOOD),
    HealthCode.SUSPENDED: ("suspended", Tone.INFO),
    HealthCode.PROGRESSING: ("progressing", Tone.INFO),
    HealthCode.MISSING: ("missing", Tone.WARN),
    HealthCode.DEGRADED: ("fail", Tone.BAD),
    HealthCode.UNKNOWN: ("unknown", Tone.DIM),
}


def health_cell(health: Health | HealthCode | None, g: Glyphs) -> Cell:
    if health is None:
        return Cell("", Tone.DIM)
    code = health.code if isinstance(health, Health) else health
    glyph, tone = _HEALTH[code]
    return Cell(f"{getattr(g, glyph)} {code.value}", tone)


# A state as drawn: the Glyphs field of its symbol, its word, its tone.
_Look = tuple[str, str, Tone]


def _look_cell(look: _Look, g: Glyphs) -> Cell:
    glyph, word, tone = look
    return Cell(f"{getattr(g, glyph)} {word}", tone)


_HOOK_LOOK: _Look = ("hook", "Hook", Tone.INFO)
_ACTION: dict[Action, _Look] = {
    Action.NONE: ("ok", "Synced", Tone.GOOD),
    Action.UPDATE: ("changed", "OutOfSync", Tone.WARN),
    Action.CREATE: ("added", "OutOfSync", Tone.WARN),
    Action.PRUNE: ("removed", "Prune", Tone.BAD),
    Action.HOOK: _HOOK_LOOK,
}


def action_cell(action: Action | None, g: Glyphs) -> Cell:
    """The sync column of one object: what a sync would do with it."""
    if action is None:
        return Cell("", Tone.DIM)
    return _look_cell(_ACTION.get(action, _HOOK_LOOK), g)


def result_cell(result: str, g: Glyphs) -> Cell:
    """A sync result as recorded in the history (Succeeded, Failed, Error, …)."""
    if result == "Succeeded":
        return Cell(f"{g.ok} {result}", Tone.GOOD)
    if result in ("Failed", "Error"):
        return Cell(f"{g.fail} {result}", Tone.BAD)
    return Cell(f"{g.unknown} {result}", Tone.WARN)


_AUTO_SYNC_OFF: _Look = ("removed", "off", Tone.DIM)
_AUTO_SYNC: dict[AutoSync, _Look] = {
    AutoSync.ON: ("ok", "on", Tone.GOOD),
    AutoSync.PAUSED: ("suspended", "paused", Tone.WARN),
    AutoSync.PINNED: ("suspended", "pinned", Tone.WARN),
}


def auto_sync_cell(state: AutoSync, g: Glyphs) -> Cell:
    return _look_cell(_AUTO_SYNC.get(state, _AUTO_SYNC_OFF), g)


def change_symbol(op: FieldOp, g: Glyphs) -> Cell:
    """The marker of one changed field: + added, ~ replaced, - removed."""
    match op:
        case FieldOp.ADD:
            return Cell(g.added, Tone.GOOD)
        case FieldOp.REMOVE:
            return Cell(g.removed, Tone.BAD)
        case _:
            return Cell(g.changed, Tone.WARN)
