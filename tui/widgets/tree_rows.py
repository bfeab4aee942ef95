"""The rows a ResourceTree shows, flattened into lines, and its column layout.

Plain values and pure functions, apart from the widget: the tree as frozen
rows, the lines of its expanded part (with their guides), and how wide each
column is, how text fits into one and the colour a status tone adds.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass, replace

from rich.cells import cell_len, set_cell_size
from rich.style import Style

from gitwave.tui.widgets.status import BLANK, Cell, Glyphs, Tone

__all__ = [
    "Columns",
    "TreeLine",
    "TreeRow",
    "child_entries",
    "column_layout",
    "column_widths",
    "filter_rows",
    "fit",
    "tone_style",
    "tree_lines",
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
    children: tuple[TreeRow, ...] = ()
    emphasis: bool = False
    detail: str = ""
    namespace: str = ""
    age: str = ""


@dataclass(frozen=True, slots=True)
class TreeLine:
    """One shown line: a row and how it is drawn in the flattened tree."""

    row: TreeRow
    guide: str  # the tree guide drawn before the row
    inner: str  # the guide its children continue
    depth: int
    expanded: bool


def tree_lines(
    roots: Sequence[tuple[TreeRow, str, str, int]], *, expanded: Set[str], glyphs: Glyphs
) -> list[TreeLine]:
    """The lines of ``roots`` (row, guide, inner guide, depth) and of their
    ``expanded`` descendants, top to bottom."""
    lines: list[TreeLine] = []
    stack = list(reversed(roots))
    while stack:
        row, guide, inner, depth = stack.pop()
        is_open = row.id in expanded
        lines.append(TreeLine(row, guide, inner, depth, is_open))
        if is_open and row.children:
            stack.extend(reversed(child_entries(row, inner, depth, glyphs)))
    return lines


def child_entries(
    row: TreeRow, inner: str, depth: int, glyphs: Glyphs
) -> list[tuple[TreeRow, str, str, int]]:
    """The children of ``row`` with the guides drawn before them, one level deeper."""
    g = glyphs
    last = len(row.children) - 1
    return [
        (
            child,
            inner + (g.last_branch if i == last else g.branch),
            inner + ("  " if i == last else g.pipe),
            depth + 1,
        )
        for i, child in enumerate(row.children)
    ]


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


def filter_rows(rows: Sequence[TreeRow], needle: str) -> list[TreeRow]:
    """The rows whose label contains ``needle`` (any case), with the rows above
    them so each match keeps its place in the tree; every row when ``needle``
    is empty. Children that do not match are dropped, as k9s's ``/`` drops lines."""
    needle = needle.lower()
    if not needle:
        return list(rows)
    kept: list[TreeRow] = []
    for row in rows:
        children = filter_rows(row.children, needle)
        if children or needle in row.label.lower():
            kept.append(replace(row, children=tuple(children)))
    return kept
