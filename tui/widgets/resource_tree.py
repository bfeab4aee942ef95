"""ResourceTree: a tree with columns (name, sync, health, wave) that stays fast
at tens of thousands of rows.

Textual's Tree builds a node object and measures a label for every line; an
app of 10,000 objects then takes over a second to show. This widget keeps the
tree as plain frozen rows, flattens only the expanded part into a list, and
draws just the lines on screen (Textual's Line API), so a key press redraws
two lines whatever the size of the app.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import ClassVar

from rich.segment import Segment
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from gitwave.tui.widgets.lazy_rows import LazyRows, find_index, has_children, row_id_at
from gitwave.tui.widgets.status import UNICODE, Glyphs
from gitwave.tui.widgets.tree_rows import (
    Line,
    TreeRow,
    column_layout,
    fit,
    flatten,
    line_inner,
    line_row,
)
from gitwave.tui.widgets.tree_strips import LineStyles, StripCache, row_strip

# TreeRow is what set_roots() takes, so importers find it beside the widget.
__all__ = ["ResourceTree", "TreeRow"]


class ResourceTree(ScrollView, can_focus=True):
    """A keyboard-driven tree table. Posts ``Highlighted`` when the cursor
    moves and ``Selected`` on enter."""

    DEFAULT_CSS = """
    ResourceTree {
        height: 1fr;
        background: $surface;
        overflow-x: hidden;
    }
    ResourceTree > .resource-tree--header {
        text-style: bold;
        color: $text-muted;
    }
    ResourceTree > .resource-tree--cursor {
        background: $block-cursor-blurred-background;
        text-style: bold;
    }
    ResourceTree:focus > .resource-tree--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: bold;
    }
    ResourceTree > .resource-tree--emphasis {
        text-style: bold reverse;
    }
    ResourceTree > .resource-tree--guide {
        color: $text-muted;
    }
    """

    COMPONENT_CLASSES = {
        "resource-tree--header",
        "resource-tree--cursor",
        "resource-tree--emphasis",
        "resource-tree--guide",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "up", show=False),
        Binding("down,j", "cursor_down", "down", show=False),
        Binding("pageup,ctrl+b", "page_up", "page up", show=False),
        Binding("pagedown,ctrl+f", "page_down", "page down", show=False),
        Binding("home,g", "first", "first", show=False),
        Binding("end,G", "last", "last", show=False),
        Binding("right", "expand", "expand", show=False),
        Binding("left", "collapse", "collapse", show=False),
        Binding("space", "toggle_node", "expand/collapse", show=False),
        Binding("enter", "select", "open", show=False),
    ]

    # No repaint of the whole widget when the cursor moves: watch_cursor
    # redraws the two lines that changed (a scroll redraws what it shows).
    cursor: reactive[int] = reactive(0, always_update=True, init=False, repaint=False)

    class Highlighted(Message):
        """The cursor moved to ``row``."""

        def __init__(self, tree: ResourceTree, row: TreeRow) -> None:
            super().__init__()
            self.tree = tree
            self.row = row

        @property
        def control(self) -> ResourceTree:
            return self.tree

    class Selected(Message):
        """Enter was pressed on ``row``."""

        def __init__(self, tree: ResourceTree, row: TreeRow) -> None:
            super().__init__()
            self.tree = tree
            self.row = row

        @property
        def control(self) -> ResourceTree:
            return self.tree

    def __init__(
        self,
        *,
        glyphs: Glyphs = UNICODE,
        columns: tuple[str, ...] = ("NAME", "NAMESPACE", "SYNC", "HEALTH", "WAVE", "AGE"),
        auto_expand_limit: int = 2000,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.glyphs = glyphs
        # NAME, NAMESPACE, SYNC, HEALTH, WAVE, AGE headers (a 4-tuple leaves out
        # the namespace and the age).
        self.columns = columns
        # Above this many rows, only the top level starts expanded: the rest
        # is one key away, and the first paint stays fast.
        self.auto_expand_limit = auto_expand_limit
        self._roots: tuple[TreeRow, ...] = ()
        self._lines: list[Line] = []
        self._expanded: set[str] = set()
        # Rows whose default expansion was decided (the first time they had children).
        self._decided: set[str] = set()
        # After expand_all (a filter): every row is open but those closed since.
        self._all_open = False
        self._shut: set[str] = set()
        self._strips = StripCache()
        self._line_styles: LineStyles | None = None
        self._header_strip: tuple[int, tuple[str, ...], Strip] | None = None

    # -- data -------------------------------------------------------------------------

    def set_roots(self, roots: Sequence[TreeRow]) -> None:
        """Show ``roots``. Rows seen before keep their expanded state and the
        cursor stays on the same row id when it still exists.

        A row's children may be LazyRows: they are made as they are drawn,
        and a big tree is never walked (only its top level starts open)."""
        current = self.cursor_row
        keep_id = current.id if current is not None else None
        self._roots = tuple(roots)
        self._strips.clear()  # the old rows are let go
        self._all_open = False
        self._shut = set()
        fresh = self._small_tree_fresh_rows()
        if fresh is None:  # big: only a single root opens by itself
            if len(self._roots) == 1 and self._roots[0].children:
                root = self._roots[0].id
                if root not in self._decided:
                    self._decided.add(root)
                    self._expanded.add(root)
        else:
            for row_id in fresh:
                self._decided.add(row_id)
                self._expanded.add(row_id)
        self._flatten()
        at = self.cursor
        if keep_id is not None and at < len(self._lines) and _line_id(self._lines[at]) == keep_id:
            target: int | None = at  # still on the same line: no search (a 100,000-row index)
        else:
            target = self._index_of(keep_id) if keep_id is not None else None
        self._set_cursor(target if target is not None else min(self.cursor, len(self._lines) - 1))

    def _small_tree_fresh_rows(self) -> list[str] | None:
        """The ids of rows with children seen for the first time, when the
        tree has at most ``auto_expand_limit`` rows (they start open); None
        for a bigger tree, found without walking it all."""
        budget = self.auto_expand_limit
        fresh: list[str] = []
        stack: list[Sequence[TreeRow]] = [self._roots]
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

    @property
    def row_count(self) -> int:
        """Rows currently shown (expanded part of the tree)."""
        return len(self._lines)

    @property
    def cursor_row(self) -> TreeRow | None:
        if 0 <= self.cursor < len(self._lines):
            return line_row(self._lines[self.cursor])
        return None

    def rows(self) -> Iterator[TreeRow]:
        """The rows shown, top to bottom (made as they come: a test's view)."""
        return (line_row(line) for line in self._lines)

    def move_to(self, row_id: str) -> bool:
        """Put the cursor on ``row_id``, expanding its ancestors; False when unknown."""
        index = self._index_of(row_id)
        if index is None:
            path = _path_to(self._roots, row_id)
            if path is None:
                return False
            opened = [row.id for row in path[:-1] if row.id not in self._expanded]
            self._expanded.update(opened)
            self._decided.update(opened)
            self._flatten()
            index = self._index_of(row_id)
            if index is None:
                return False
        self._set_cursor(index)
        return True

    def expand_all(self) -> None:
        """Expand every row shown (a filter's matches are then all on screen)
        until the next ``set_roots``; rows are still made only when drawn."""
        self._all_open = True
        self._flatten()
        self._set_cursor(self.cursor)

    def is_expanded(self, row_id: str) -> bool:
        return row_id in self._expanded

    def _is_open(self, line: Line) -> bool:
        siblings, index = line[0], line[1]
        if not has_children(siblings, index):
            return False
        row_id = row_id_at(siblings, index)
        if self._all_open:
            return row_id not in self._shut
        return row_id in self._expanded

    def _index_of(self, row_id: str) -> int | None:
        # Each level shown is searched by id (LazyRows: by a dict), then its line found.
        searched: set[int] = set()
        for number, line in enumerate(self._lines):
            siblings = line[0]
            if id(siblings) in searched:
                continue
            searched.add(id(siblings))
            found = find_index(siblings, row_id)
            if found is not None:
                for at in range(number, len(self._lines)):
                    if self._lines[at][0] is siblings and self._lines[at][1] == found:
                        return at
        return None

    def _flatten(self) -> None:
        self._lines = flatten(self._roots, self._open_among, self.glyphs)
        self._resized()

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

    def _resized(self, changed_from: int = 0) -> None:
        """The lines from ``changed_from`` on changed (and their number)."""
        size = Size(self._width, len(self._lines) + 1)
        height = self.size.height
        if (
            size.width == self.virtual_size.width
            and min(size.height, self.virtual_size.height) > height
        ):
            # The scrollbar stays: no layout pass, which repaints every widget
            # on screen (10 ms at every expand or collapse of a big tree).
            self.set_reactive(ResourceTree.virtual_size, size)
            self.vertical_scrollbar.window_virtual_size = size.height
            self.scroll_y = self.scroll_y  # validated: within the new length
        else:
            self.virtual_size = size
        top = max(changed_from - int(self.scroll_y) + 1, 1)  # the header is line 0
        if changed_from == 0 or top >= height:
            self.refresh()
        else:
            self.refresh(Region(0, top, self.size.width, height - top))

    def _open(self, index: int) -> None:
        """Expand the row at ``index``: its lines are spliced in, nothing else is redone."""
        line = self._lines[index]
        self._expanded.add(line_row(line).id)
        self._shut.discard(line_row(line).id)
        self._lines[index + 1 : index + 1] = flatten(
            line_row(line).children,
            self._open_among,
            self.glyphs,
            inner=line_inner(line, self.glyphs),
            depth=line[3] + 1,
        )
        self._resized(index)

    def _close(self, index: int) -> None:
        """Collapse the row at ``index``: the lines of its subtree are cut out."""
        line = self._lines[index]
        self._expanded.discard(line_row(line).id)
        self._shut.add(line_row(line).id)
        end = index + 1
        while end < len(self._lines) and self._lines[end][3] > line[3]:
            end += 1
        del self._lines[index + 1 : end]
        self._resized(index)

    # -- cursor -----------------------------------------------------------------------

    def _set_cursor(self, index: int) -> None:
        self.cursor = max(0, min(index, len(self._lines) - 1))

    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, max(len(self._lines) - 1, 0)))

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh_line(old + 1)
        self.refresh_line(new + 1)
        self._scroll_to_cursor()
        row = self.cursor_row
        if row is not None:
            self.post_message(self.Highlighted(self, row))

    def _scroll_to_cursor(self) -> None:
        visible = max(self._height - 1, 1)
        top = int(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False, immediate=True)

    def action_cursor_up(self) -> None:
        self._set_cursor(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self._set_cursor(self.cursor + 1)

    def action_page_up(self) -> None:
        self._set_cursor(self.cursor - max(self._height - 2, 1))

    def action_page_down(self) -> None:
        self._set_cursor(self.cursor + max(self._height - 2, 1))

    def action_first(self) -> None:
        self._set_cursor(0)

    def action_last(self) -> None:
        self._set_cursor(len(self._lines) - 1)

    def action_expand(self) -> None:
        row = self.cursor_row
        if row is None or not row.children:
            return
        if self._is_open(self._lines[self.cursor]):
            self._set_cursor(self.cursor + 1)  # already open: step into it
            return
        self._open(self.cursor)

    def action_collapse(self) -> None:
        row = self.cursor_row
        if row is None:
            return
        if row.children and self._is_open(self._lines[self.cursor]):
            self._close(self.cursor)
            self._set_cursor(self.cursor)
            return
        depth = self._lines[self.cursor][3]
        for index in range(self.cursor - 1, -1, -1):  # up to the parent
            if self._lines[index][3] < depth:
                self._set_cursor(index)
                return

    def action_toggle_node(self) -> None:
        row = self.cursor_row
        if row is None or not row.children:
            return
        if self._is_open(self._lines[self.cursor]):
            self._close(self.cursor)
        else:
            self._open(self.cursor)
        self._set_cursor(self.cursor)

    def action_select(self) -> None:
        row = self.cursor_row
        if row is not None:
            self.post_message(self.Selected(self, row))

    def on_click(self, event: events.Click) -> None:
        index = int(self.scroll_y) + event.y - 1
        if 0 <= index < len(self._lines):
            self._set_cursor(index)

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(self._width, len(self._lines) + 1)
        self._scroll_to_cursor()

    # -- drawing ----------------------------------------------------------------------

    @property
    def _width(self) -> int:
        # Inside the scrollbar: a row as wide as the widget would scroll sideways.
        return self.scrollable_content_region.width

    @property
    def _height(self) -> int:
        return self.scrollable_content_region.height

    def render_line(self, y: int) -> Strip:
        width = self._width
        if y == 0:
            return self._header(width)
        index = int(self.scroll_y) + y - 1
        if index >= len(self._lines):
            return Strip.blank(width, self._styles().base)
        line = self._lines[index]
        row = line_row(line)
        is_cursor = index == self.cursor
        is_open = bool(row.children) and self._is_open(line)
        strip = self._strips.get(line, row, is_cursor=is_cursor, is_open=is_open, width=width)
        if strip is None:
            strip = row_strip(
                line,
                is_cursor=is_cursor,
                is_open=is_open,
                width=width,
                styles=self._styles(),
                glyphs=self.glyphs,
            )
            self._strips.put(line, row, strip, is_cursor=is_cursor, is_open=is_open, width=width)
        return strip

    def _styles(self) -> LineStyles:
        # Asking Textual for a style walks the DOM (0.1 ms each): once per
        # style change, not per line drawn.
        if self._line_styles is None:
            component = self.get_component_rich_style
            self._line_styles = LineStyles(
                base=self.rich_style,
                emphasis=component("resource-tree--emphasis"),
                cursor=component("resource-tree--cursor"),
                guide=component("resource-tree--guide"),
            )
        return self._line_styles

    def _styles_changed(self) -> None:
        self._line_styles = None
        self._header_strip = None
        self._strips.clear()

    def notify_style_update(self) -> None:
        # Also called when the tree gains or loses the focus (the cursor's colour).
        super().notify_style_update()
        self._styles_changed()

    def _headers(self) -> tuple[str, str, str, str, str, str]:
        cols = tuple(self.columns)
        if len(cols) == 4:
            return cols[0], "", cols[1], cols[2], cols[3], ""
        name, namespace, sync, health, wave, age = (*cols, "", "", "", "", "", "")[:6]
        return name, namespace, sync, health, wave, age

    def _header(self, width: int) -> Strip:
        made = self._header_strip
        if made is not None and made[0] == width and made[1] == tuple(self.columns):
            return made[2]
        c = column_layout(width)
        base = self._styles().base
        style = base + self.get_component_rich_style("resource-tree--header")
        name, namespace, sync, health, wave, age = self._headers()
        text = "  " + fit(name, c.name) + " "
        if c.namespace:
            text += fit(namespace, c.namespace - 1) + " "
        text += fit(sync, c.sync) + fit(health, c.health)
        if c.wave:
            text += " " + fit(wave, c.wave - 1)
        if c.age:
            text += " " + fit(age, c.age - 1)
        strip = Strip([Segment(text, style)]).adjust_cell_length(width, base)
        self._header_strip = (width, tuple(self.columns), strip)
        return strip


def _line_id(line: Line) -> str:
    return row_id_at(line[0], line[1])


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
