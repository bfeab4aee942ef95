"""The rows a ResourceTree shows, flattened into lines, and its column layout.

Plain values and pure functions, apart from the widget: the tree as frozen
rows, the lines of its expanded part (with their guides), and how wide each
column is, how text fits into one and the colour a status tone adds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache

from rich.cells import cell_len, set_cell_size
from rich.style import Style

from gitwave.tui.widgets.status import BLANK, Cell, Glyphs, Tone

__all__ = [
    "Columns",
    "Line",
    "TreeRow",
    "column_layout",
    "column_widths",
    "filter_rows",
    "fit",
    "flatten",
    "line_guide",
    "line_inner",
    "line_row",
    "tone_style",
]


@dataclass(frozen=True, slots=True)
class TreeRow:
    """One row: a label, three status cells and its children.

    ``namespace`` and ``age`` fill k9s's NAMESPACE and AGE columns.
    ``id`` is stable across refreshes (the expanded rows and the cursor are
    kept by id). ``ref`` is what the row stands for (a ResourceKey, a wave
    label), handed back in the messages. ``emphasis`` draws the row bold with
    a marker (the running wave).
    """

    id: str
    label: str
    sync: Cell = BLANK
    health: Cell = BLANK
    wave: str = ""
    ref: object = None
    # A tuple, or LazyRows (``widgets.lazy_rows``) whose rows are made when drawn.
    children: Sequence[TreeRow] = ()
    emphasis: bool = False
    detail: str = ""
    namespace: str = ""
    age: str = ""


# One shown line: the rows it is one of, its index there, the guide its
# parent's children continue, its depth. A plain tuple: a big app's open makes
# one per object, and a tuple costs a tenth of a dataclass.
Line = tuple[Sequence[TreeRow], int, str, int]


def line_row(line: Line) -> TreeRow:
    """The row of ``line`` (made now when it is lazy)."""
    return line[0][line[1]]


def _is_last(line: Line) -> bool:
    return line[1] == len(line[0]) - 1


def line_guide(line: Line, glyphs: Glyphs) -> str:
    """The tree guide drawn before the row of ``line``."""
    if line[3] == 0:
        return ""
    return line[2] + (glyphs.last_branch if _is_last(line) else glyphs.branch)


def line_inner(line: Line, glyphs: Glyphs) -> str:
    """The guide the children of ``line`` continue."""
    if line[3] == 0:
        return ""
    return line[2] + ("  " if _is_last(line) else glyphs.pipe)


def flatten(
    rows: Sequence[TreeRow],
    open_among: Callable[[Sequence[TreeRow]], Sequence[int]],
    glyphs: Glyphs,
    *,
    inner: str = "",
    depth: int = 0,
) -> list[Line]:
    """The lines of ``rows`` and of the children of those ``open_among``
    says are open (their indexes, in order), top to bottom. No row is made
    but the open ones: a closed LazyRows row is one tuple."""
    lines: list[Line] = []
    _extend(lines, rows, open_among, glyphs, inner, depth)
    return lines


def _extend(
    lines: list[Line],
    rows: Sequence[TreeRow],
    open_among: Callable[[Sequence[TreeRow]], Sequence[int]],
    glyphs: Glyphs,
    inner: str,
    depth: int,
) -> None:
    start = 0
    for index in open_among(rows):
        lines.extend([(rows, i, inner, depth) for i in range(start, index + 1)])
        child_inner = line_inner((rows, index, inner, depth), glyphs)
        _extend(lines, rows[index].children, open_among, glyphs, child_inner, depth + 1)
        start = index + 1
    lines.extend([(rows, i, inner, depth) for i in range(start, len(rows))])


@dataclass(frozen=True, slots=True)
class Columns:
    """Widths of the columns at one widget width (0: the column is left out).
    Every width but the name's includes the space before the next column."""

    name: int
    namespace: int
    sync: int
    health: int
    wave: int
    age: int


@cache  # one layout per widget width, asked for at every line drawn
def column_layout(width: int) -> Columns:
    """The columns for ``width`` cells: the narrower the screen, the fewer
    columns (namespace, then age, then wave go first)."""
    sync, health, wave, age = 12, 14, 7, 5
    namespace = min(max(width // 7, 10), 20) if width >= 72 else 0
    if width < 64:
        wave = 0
    if width < 56:
        age = 0
    if width < 50:
        sync, health = 11, 12
    # Past 64 cells a wider name column only pushes the statuses away from it.
    name = min(max(width - 2 - namespace - sync - health - wave - age - 2, 8), 64)
    return Columns(name, namespace, sync, health, wave, age)


def column_widths(width: int) -> tuple[int, int, int, int]:
    """Widths of the name, sync, health and wave columns (see ``column_layout``)."""
    c = column_layout(width)
    return c.name, c.sync, c.health, c.wave


def fit(text: str, width: int, ellipsis: str = "…") -> str:
    """``text`` cut (with an ellipsis) or padded to exactly ``width`` cells."""
    if width <= 0:
        return ""
    cells = cell_len(text)
    if cells <= width:
        return text + " " * (width - cells)
    return set_cell_size(text, max(width - cell_len(ellipsis), 0)) + ellipsis


_TONE_STYLES = {tone: Style.parse(tone.rich_style or "none") for tone in Tone}


def tone_style(style: Style, tone: Tone) -> Style:
    """``style`` with the colour of ``tone`` added (none for a plain cell)."""
    if tone is Tone.PLAIN:
        return style
    return style + _TONE_STYLES[tone]


def filter_rows(rows: Sequence[TreeRow], needle: str) -> Sequence[TreeRow]:
    """The rows whose label contains ``needle`` (any case), with the rows above
    them so each match keeps its place in the tree; every row when ``needle``
    is empty. Children that do not match are dropped, as k9s's ``/`` drops lines.
    LazyRows filter their light items and make only the rows drawn."""
    needle = needle.lower()
    if not needle:
        return rows
    filtered = getattr(rows, "filtered", None)
    if filtered is not None:
        result: Sequence[TreeRow] = filtered(needle)
        return result
    kept: list[TreeRow] = []
    for row in rows:
        children = filter_rows(row.children, needle)
        if children or needle in row.label.lower():
            # LazyRows stay lazy: a tuple of them would make every row.
            lazy = hasattr(children, "filtered")
            kept.append(replace(row, children=children if lazy else tuple(children)))
    return kept
