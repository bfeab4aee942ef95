"""The strips of a ResourceTree's lines: each drawn once and kept while
what it shows is unchanged, and the next page's drawn ahead of a key.

A page down at 100,000 objects showed a screen of lines never drawn:
making their rows and strips was 2 ms of the key's 9 ms frame. After each
frame (Textual's ``call_after_refresh``) the tree asks ``draw_ahead`` for
the screen above and below the one shown and for the cursor's line a page
either way, so a page key finds its lines drawn. A line drawn ahead is
checked like any kept line when it is used (``StripCache``): a row that
changed since (a live update makes a new frozen row) is drawn again.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.style import Style
from textual.strip import Strip

from gitwave.tui.widgets.status import Glyphs
from gitwave.tui.widgets.tree_index import TreeIndex
from gitwave.tui.widgets.tree_rows import line_row
from gitwave.tui.widgets.tree_strips import LineStyles, StripCache, header_strip, row_strip

__all__ = ["Headers", "TreeDrawing"]

# NAME, NAMESPACE, SYNC, HEALTH, WAVE and AGE ("" for a column left out).
Headers = tuple[str, str, str, str, str, str]


class TreeDrawing:
    """The strips of the lines of ``index`` (see the module docstring).

    ``styles`` and ``header_style`` ask the widget for its styles: once
    after each ``restyle``, not per line (Textual walks the DOM for each).
    """

    __slots__ = (
        "_header",
        "_header_style",
        "_index",
        "_make_styles",
        "_strips",
        "_styles",
        "glyphs",
    )

    def __init__(
        self,
        index: TreeIndex,
        *,
        glyphs: Glyphs,
        styles: Callable[[], LineStyles],
        header_style: Callable[[], Style],
    ) -> None:
        self._index = index
        self.glyphs = glyphs
        self._make_styles = styles
        self._header_style = header_style
        self._styles: LineStyles | None = None
        self._header: tuple[int, Headers, Strip] | None = None
        self._strips = StripCache()

    @property
    def styles(self) -> LineStyles:
        if self._styles is None:
            self._styles = self._make_styles()
        return self._styles

    def restyle(self) -> None:
        """The widget's styles changed (or its focus): draw every line anew."""
        self._styles = None
        self._header = None
        self._strips.clear()

    def forget(self) -> None:
        """The rows changed: let the old rows' strips go."""
        self._strips.clear()

    def lines(
        self, ys: range, *, top: int, cursor: int, width: int, headers: Headers
    ) -> list[Strip]:
        """The widget's lines ``ys`` (0: the header) with line ``top`` of the
        tree first under the header, each ``width`` cells."""
        strips = []
        count = len(self._index.lines)
        for y in ys:
            index = top + y - 1
            if y == 0:
                strips.append(self.header(headers, width))
            elif index < count:
                strips.append(self.line(index, is_cursor=index == cursor, width=width))
            else:
                strips.append(Strip.blank(width, self.styles.base))
        return strips

    def line(self, index: int, *, is_cursor: bool, width: int) -> Strip:
        """The strip of line ``index``: the one kept while nothing it shows changed."""
        line = self._index.lines[index]
        row = line_row(line)
        is_open = bool(row.children) and self._index.is_open(line)
        strip = self._strips.get(line, row, is_cursor=is_cursor, is_open=is_open, width=width)
        if strip is None:
            strip = row_strip(
                line,
                is_cursor=is_cursor,
                is_open=is_open,
                width=width,
                styles=self.styles,
                glyphs=self.glyphs,
            )
            self._strips.put(line, row, strip, is_cursor=is_cursor, is_open=is_open, width=width)
        return strip

    def header(self, headers: Headers, width: int) -> Strip:
        made = self._header
        if made is not None and made[0] == width and made[1] == headers:
            return made[2]
        base = self.styles.base
        strip = header_strip(headers, width=width, style=base + self._header_style(), base=base)
        self._header = (width, headers, strip)
        return strip

    def draw_ahead(
        self, *, top: int, visible: int, cursor: int, page: int, width: int
    ) -> list[Strip]:
        """Draw the screens of ``visible`` lines above and below the one
        from ``top``, and the cursor's line ``page`` lines either way; the
        strips of those lines."""
        count = len(self._index.lines)
        self._strips.hold(4 * visible + 2)  # these and the screen shown (a tall terminal)
        drawn = [
            self.line(index, is_cursor=False, width=width)
            for index in range(max(top - visible, 0), min(top + 2 * visible, count))
        ]
        for index in (cursor - page, cursor + page):
            if 0 <= index < count:
                drawn.append(self.line(index, is_cursor=True, width=width))
        return drawn
