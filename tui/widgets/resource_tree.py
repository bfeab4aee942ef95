"""ResourceTree: a tree with columns (name, sync, health, wave) that stays fast
at tens of thousands of rows.

Textual's Tree builds a node object and measures a label for every line; an
app of 10,000 objects then takes over a second to show. This widget keeps the
tree as plain frozen rows, flattens only the expanded part into a list
(``tree_index``), and draws just the lines on screen (Textual's Line API),
each once while it is unchanged (``tree_drawing``), painted without
Textual's styles cache (``tree_paint``). This module is the widget: its
keys, its cursor and Textual's hooks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.strip import Strip

from gitwave.tui.widgets.status import UNICODE, Glyphs
from gitwave.tui.widgets.tree_drawing import Headers, TreeDrawing
from gitwave.tui.widgets.tree_index import TreeIndex
from gitwave.tui.widgets.tree_paint import PlainPaint, paint_plain, plain_paint, same_thumb
from gitwave.tui.widgets.tree_rows import Line, TreeRow, line_row
from gitwave.tui.widgets.tree_strips import LineStyles

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
        self._index = TreeIndex(glyphs=glyphs, auto_expand_limit=auto_expand_limit)
        self._drawing = TreeDrawing(
            self._index,
            glyphs=glyphs,
            styles=self._line_styles,
            header_style=lambda: self.get_component_rich_style("resource-tree--header"),
        )
        # How lines are painted (tree_paint), found once per style change.
        self._plain: tuple[PlainPaint | None] | None = None
        self._draw_ahead_due = False

    @property
    def _lines(self) -> list[Line]:
        return self._index.lines

    # -- data -------------------------------------------------------------------------

    def set_roots(self, roots: Sequence[TreeRow]) -> None:
        """Show ``roots``. Rows seen before keep their expanded state and the
        cursor stays on the same row id when it still exists.

        A row's children may be LazyRows: they are made as they are drawn,
        and a big tree is never walked (only its top level starts open)."""
        current = self.cursor_row
        keep_id = current.id if current is not None else None
        self._drawing.forget()  # the old rows are let go
        self._index.set_roots(roots)
        self._resized()
        at = self.cursor
        if keep_id is not None and at < len(self._lines) and self._index.line_id(at) == keep_id:
            target: int | None = at  # still on the same line: no search (a 100,000-row index)
        else:
            target = self._index.index_of(keep_id) if keep_id is not None else None
        self._set_cursor(target if target is not None else min(self.cursor, len(self._lines) - 1))

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
        shown = len(self._lines)
        index = self._index.reveal(row_id)
        if len(self._lines) != shown:
            self._resized()
        if index is None:
            return False
        self._set_cursor(index)
        return True

    def expand_all(self) -> None:
        """Expand every row shown (a filter's matches are then all on screen)
        until the next ``set_roots``; rows are still made only when drawn."""
        self._index.expand_all()
        self._resized()
        self._set_cursor(self.cursor)

    def is_expanded(self, row_id: str) -> bool:
        return self._index.is_expanded(row_id)

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
        self._index.open(index)
        self._resized(index)

    def _close(self, index: int) -> None:
        self._index.close(index)
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
        if self._index.is_open(self._lines[self.cursor]):
            self._set_cursor(self.cursor + 1)  # already open: step into it
            return
        self._open(self.cursor)

    def action_collapse(self) -> None:
        row = self.cursor_row
        if row is None:
            return
        if row.children and self._index.is_open(self._lines[self.cursor]):
            self._close(self.cursor)
            self._set_cursor(self.cursor)
            return
        parent = self._index.parent_of(self.cursor)
        if parent is not None:
            self._set_cursor(parent)

    def action_toggle_node(self) -> None:
        row = self.cursor_row
        if row is None or not row.children:
            return
        if self._index.is_open(self._lines[self.cursor]):
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
        return self._drawn(range(y, y + 1))[0]

    def _drawn(self, ys: range) -> list[Strip]:
        top, cursor = int(self.scroll_y), self.cursor
        headers = self._headers()
        return self._drawing.lines(ys, top=top, cursor=cursor, width=self._width, headers=headers)

    def render_lines(self, crop: Region) -> list[Strip]:
        if self._plain is None:
            self._plain = (plain_paint(self),)
        paint = self._plain[0]
        if paint is None:  # styled (a border, padding...): Textual's way
            strips = super().render_lines(crop)
        else:
            # Unused meanwhile: nothing stale in it if the styles change.
            self._styles_cache.clear()
            filters = self.get_line_filters()
            width = self.size.width
            strips = paint_plain(
                paint, self._drawn(crop.line_range), crop, width=width, filters=filters
            )
        if not self._draw_ahead_due:
            self._draw_ahead_due = True
            self.call_after_refresh(self._draw_ahead)
        return strips

    def _draw_ahead(self) -> None:
        # After the frame: the lines a page key shows next (tree_drawing).
        self._draw_ahead_due = False
        width = self._width
        if not self.is_mounted or width <= 0:
            return
        drawn = self._drawing.draw_ahead(
            top=int(self.scroll_y),
            visible=max(self._height - 1, 1),
            cursor=self.cursor,
            page=max(self._height - 2, 1),
            width=width,
        )
        paint = self._plain[0] if self._plain is not None else None
        if paint is not None:
            # And painted as the next frame paints them, cut where the
            # scrollbar starts as the compositor cuts them: each strip keeps
            # what is made of it, and the frame finds it made.
            full = self.size.width
            crop = Region(0, 0, full, len(drawn))
            filters = self.get_line_filters()
            for strip in paint_plain(paint, drawn, crop, width=full, filters=filters):
                strip.divide([width, full])

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        # ScrollView's, but the scrollbar is drawn again only when its thumb
        # moves (a page of 100,000 lines does not move it: see tree_paint).
        if self.show_vertical_scrollbar:
            bar = self.vertical_scrollbar
            if same_thumb(bar, bar.position, new_value):
                bar.set_reactive(ScrollBar.position, bar.validate_position(new_value))
            else:
                bar.position = new_value
        if round(old_value) != round(new_value):
            self.refresh(self.size.region)

    def _line_styles(self) -> LineStyles:
        # Asking Textual for a style walks the DOM (0.1 ms each): once per
        # style change (TreeDrawing keeps them), not per line drawn.
        component = self.get_component_rich_style
        return LineStyles(
            base=self.rich_style,
            emphasis=component("resource-tree--emphasis"),
            cursor=component("resource-tree--cursor"),
            guide=component("resource-tree--guide"),
        )

    def notify_style_update(self) -> None:
        # Also called when the tree gains or loses the focus (the cursor's colour).
        super().notify_style_update()
        self._plain = None
        self._drawing.restyle()

    def _headers(self) -> Headers:
        cols = tuple(self.columns)
        if len(cols) == 4:
            return cols[0], "", cols[1], cols[2], cols[3], ""
        name, namespace, sync, health, wave, age = (*cols, "", "", "", "", "", "")[:6]
        return name, namespace, sync, health, wave, age
