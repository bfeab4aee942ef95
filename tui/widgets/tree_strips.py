"""How a ResourceTree line is drawn, and the strips drawn before, kept for reuse.

A key that scrolls the tree redraws every line on screen (Textual moves no
lines itself); most of them were drawn a moment ago, one line lower or
higher. ``StripCache`` keeps the strip of each line drawn and hands it back
while nothing it was made of changed: the same row object at the same place
(a changed object is a new frozen row), the same cursor, open state and
width. The widget empties it when its styles or its rows change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from gitwave.tui.widgets.status import UNICODE, Glyphs
from gitwave.tui.widgets.tree_rows import Line, TreeRow, column_layout, fit, line_guide, tone_style

__all__ = ["LineStyles", "StripCache", "header_strip", "row_strip"]


@dataclass(frozen=True, slots=True)
class LineStyles:
    """The styles a line is drawn with: the widget's own and its components'."""

    base: Style
    emphasis: Style
    cursor: Style
    guide: Style


def row_strip(
    line: Line,
    *,
    is_cursor: bool,
    is_open: bool,
    width: int,
    styles: LineStyles,
    glyphs: Glyphs,
) -> Strip:
    """The strip of ``line``: marker, guide, expander, label, then the columns."""
    g = glyphs
    c = column_layout(width)
    row = line[0][line[1]]
    style = styles.base
    if row.emphasis:
        style = style + styles.emphasis
    if is_cursor:
        style = style + styles.cursor
    guide_style = style if is_cursor else style + styles.guide
    marker = g.cursor if is_cursor else (g.running if row.emphasis else " ")
    guide = line_guide(line, g)
    if row.children:
        expander = (g.expanded if is_open else g.collapsed) + " "
    else:
        expander = "  " if not guide else "─ " if g is UNICODE else "- "
    prefix = guide + expander
    label_width = max(c.name - len(prefix), 1)
    segments = [
        Segment(marker + " ", style),
        Segment(prefix, guide_style),
        Segment(fit(row.label, label_width, g.ellipsis), style),
        Segment(" ", style),
    ]
    if c.namespace:
        segments.append(Segment(fit(row.namespace, c.namespace - 1, g.ellipsis) + " ", style))
    segments += [
        Segment(fit(row.sync.text, c.sync, g.ellipsis), tone_style(style, row.sync.tone)),
        Segment(fit(row.health.text, c.health, g.ellipsis), tone_style(style, row.health.tone)),
    ]
    if c.wave:
        segments.append(Segment(" " + fit(row.wave, c.wave - 1, g.ellipsis), style))
    if c.age:
        segments.append(Segment(" " + fit(row.age, c.age - 1, g.ellipsis), style))
    return Strip(segments).adjust_cell_length(width, style)


def header_strip(
    headers: tuple[str, str, str, str, str, str], *, width: int, style: Style, base: Style
) -> Strip:
    """The header line: NAME, NAMESPACE, SYNC, HEALTH, WAVE and AGE over their
    columns (those the width leaves out are not drawn)."""
    c = column_layout(width)
    name, namespace, sync, health, wave, age = headers
    text = "  " + fit(name, c.name) + " "
    if c.namespace:
        text += fit(namespace, c.namespace - 1) + " "
    text += fit(sync, c.sync) + fit(health, c.health)
    if c.wave:
        text += " " + fit(wave, c.wave - 1)
    if c.age:
        text += " " + fit(age, c.age - 1)
    return Strip([Segment(text, style)]).adjust_cell_length(width, base)


# What a strip was made of: the level and the row (kept, so their ids are not
# reused while the entry lives), the guide before the level, open, width.
_Made = tuple[Sequence[TreeRow], TreeRow, str, bool, int, Strip]


class StripCache:
    """The strips of the lines drawn (see the module docstring), at most
    ``limit`` of them: a few screens' worth, not the whole tree."""

    __slots__ = ("_limit", "_strips")

    def __init__(self, limit: int = 512) -> None:
        self._limit = limit
        self._strips: dict[tuple[int, int, bool], _Made] = {}

    def get(
        self, line: Line, row: TreeRow, *, is_cursor: bool, is_open: bool, width: int
    ) -> Strip | None:
        """The strip drawn for ``line`` before; None when any of what it was
        made of changed (or it was never drawn)."""
        key = (id(line[0]), line[1], is_cursor)
        made = self._strips.pop(key, None)
        if made is not None:
            self._strips[key] = made  # the last used go last, and last out
        if (
            made is None
            or made[0] is not line[0]
            or made[1] is not row
            or made[2] != line[2]
            or made[3] is not is_open
            or made[4] != width
        ):
            return None
        return made[5]

    def put(
        self, line: Line, row: TreeRow, strip: Strip, *, is_cursor: bool, is_open: bool, width: int
    ) -> None:
        """Keep ``strip`` as the drawing of ``line``."""
        if len(self._strips) >= self._limit:
            # The least recently used: a screen's lines and the pages drawn
            # ahead of a key stay.
            del self._strips[next(iter(self._strips))]
        self._strips[(id(line[0]), line[1], is_cursor)] = (
            line[0],
            row,
            line[2],
            is_open,
            width,
            strip,
        )

    def hold(self, count: int) -> None:
        """Keep at least ``count`` strips."""
        self._limit = max(self._limit, count)

    def clear(self) -> None:
        """Forget every strip (styles or rows changed)."""
        self._strips.clear()
