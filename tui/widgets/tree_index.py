"""The lines a ResourceTree shows: its rows, which of them are open, and the
open part flattened into a list of lines.

No drawing and no Textual here: the widget asks this index what is on line
N, opens and closes rows through it, and redraws what it says changed. An
app of 100,000 objects is one LazyRows level: the index never walks it (only
its top level starts open) and an open or a close splices lines in or out.
"""

from __future__ import annotations

from collections.abc import Sequence

from gitwave.tui.widgets.lazy_rows import LazyRows, find_index, has_children, row_id_at
from gitwave.tui.widgets.status import Glyphs
from gitwave.tui.widgets.tree_rows import Line, TreeRow, flatten, line_inner, line_row

__all__ = ["TreeIndex"]


class TreeIndex:
    """The rows of a tree, their open state (kept by row id across
    ``set_roots``) and ``lines``, the open part top to bottom."""

    __slots__ = (
        "_all_open",
        "_decided",
        "_expanded",
        "_shut",
        "auto_expand_limit",
        "glyphs",
        "lines",
        "roots",
    )

    def __init__(self, *, glyphs: Glyphs, auto_expand_limit: int) -> None:
        self.glyphs = glyphs
        # Above this many rows, only the top level starts expanded: the rest
        # is one key away, and the first paint stays fast.
        self.auto_expand_limit = auto_expand_limit
        self.roots: tuple[TreeRow, ...] = ()
        self.lines: list[Line] = []
        self._expanded: set[str] = set()
        # Rows whose default expansion was decided (the first time they had children).
        self._decided: set[str] = set()
        # After expand_all (a filter): every row is open but those closed since.
        self._all_open = False
        self._shut: set[str] = set()

    def set_roots(self, roots: Sequence[TreeRow]) -> None:
        """Show ``roots``: rows seen before keep their open state; rows with
        children seen for the first time start open in a small tree."""
        self.roots = tuple(roots)
        self._all_open = False
        self._shut = set()
        fresh = self._small_tree_fresh_rows()
        if fresh is None:  # big: only a single root opens by itself
            if len(self.roots) == 1 and self.roots[0].children:
                root = self.roots[0].id
                if root not in self._decided:
                    self._decided.add(root)
                    self._expanded.add(root)
        else:
            for row_id in fresh:
                self._decided.add(row_id)
                self._expanded.add(row_id)
        self._flatten()

    def _small_tree_fresh_rows(self) -> list[str] | None:
        """The ids of rows with children seen for the first time, when the
        tree has at most ``auto_expand_limit`` rows (they start open); None
        for a bigger tree, found without walking it all."""
        budget = self.auto_expand_limit
        fresh: list[str] = []
        stack: list[Sequence[TreeRow]] = [self.roots]
        while stack:
            rows = stack.pop()
            budget -= len(rows)
            if budget < 0:
                return None
            for row in rows:
                if row.children:
                    if row.id not in self._decided:
                        fresh.append(row.id)
                    stack.append(row.children)
        return fresh

    def expand_all(self) -> None:
        """Open every row (a filter's matches are then all shown) until the
        next ``set_roots``; rows are still made only when drawn."""
        self._all_open = True
        self._flatten()

    def is_expanded(self, row_id: str) -> bool:
        return row_id in self._expanded

    def is_open(self, line: Line) -> bool:
        """Whether the row of ``line`` shows its children."""
        siblings, index = line[0], line[1]
        if not has_children(siblings, index):
            return False
        row_id = row_id_at(siblings, index)
        if self._all_open:
            return row_id not in self._shut
        return row_id in self._expanded

    def line_id(self, at: int) -> str:
        """The row id of line ``at`` (without making a lazy row)."""
        line = self.lines[at]
        return row_id_at(line[0], line[1])

    def index_of(self, row_id: str) -> int | None:
        """The line showing ``row_id``; None when it is not shown."""
        # Each level shown is searched by id (LazyRows: by a dict), then its line found.
        lines = self.lines
        searched: set[int] = set()
        for number, line in enumerate(lines):
            siblings = line[0]
            if id(siblings) in searched:
                continue
            searched.add(id(siblings))
            found = find_index(siblings, row_id)
            if found is not None:
                for at in range(number, len(lines)):
                    if lines[at][0] is siblings and lines[at][1] == found:
                        return at
        return None

    def reveal(self, row_id: str) -> int | None:
        """The line of ``row_id``, its closed ancestors opened first; None
        when it is not in the tree."""
        index = self.index_of(row_id)
        if index is not None:
            return index
        path = _path_to(self.roots, row_id)
        if path is None:
            return None
        opened = [row.id for row in path[:-1] if row.id not in self._expanded]
        self._expanded.update(opened)
        self._decided.update(opened)
        self._flatten()
        return self.index_of(row_id)

    def open(self, index: int) -> None:
        """Open the row of line ``index``: its lines are spliced in after it."""
        line = self.lines[index]
        row = line_row(line)
        self._expanded.add(row.id)
        self._shut.discard(row.id)
        self.lines[index + 1 : index + 1] = flatten(
            row.children,
            self._open_among,
            self.glyphs,
            inner=line_inner(line, self.glyphs),
            depth=line[3] + 1,
        )

    def close(self, index: int) -> None:
        """Close the row of line ``index``: the lines of its subtree are cut out."""
        line = self.lines[index]
        row = line_row(line)
        self._expanded.discard(row.id)
        self._shut.add(row.id)
        end = index + 1
        while end < len(self.lines) and self.lines[end][3] > line[3]:
            end += 1
        del self.lines[index + 1 : end]

    def parent_of(self, index: int) -> int | None:
        """The line of the parent of line ``index``; None at the top level."""
        depth = self.lines[index][3]
        for at in range(index - 1, -1, -1):
            if self.lines[at][3] < depth:
                return at
        return None

    def _flatten(self) -> None:
        self.lines = flatten(self.roots, self._open_among, self.glyphs)

    def _open_among(self, rows: Sequence[TreeRow]) -> list[int]:
        """The indexes of ``rows`` shown open, in order."""
        if self._all_open:
            shown = (i for i in range(len(rows)) if has_children(rows, i))
            return [i for i in shown if row_id_at(rows, i) not in self._shut]
        if isinstance(rows, LazyRows) and len(rows) > len(self._expanded):
            # A big level: look up the few open ids instead of every row.
            found = (rows.index_of(row_id) for row_id in self._expanded)
            return sorted(i for i in found if i is not None and rows.branches_at(i))
        return [i for i, row in enumerate(rows) if row.children and row.id in self._expanded]


def _path_to(rows: Sequence[TreeRow], row_id: str) -> list[TreeRow] | None:
    """The rows from a root of ``rows`` down to ``row_id``; None when it is
    not in the tree. Makes the rows on the way (a test's or a link's move)."""
    found = find_index(rows, row_id)
    if found is not None:
        return [rows[found]]
    for index in range(len(rows)):
        if has_children(rows, index):
            row = rows[index]
            below = _path_to(row.children, row_id)
            if below is not None:
                return [row, *below]
    return None
