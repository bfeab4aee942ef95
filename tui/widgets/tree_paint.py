"""What Textual does with a ResourceTree's lines at each frame, made cheaper
where the tree's own styles allow it.

At 100,000 objects a page down cost 9 ms of frame on 2 cores, of which
Textual's work around the tree's lines was 2.3 ms and the scrollbar 1.5 ms
(``bench_tui.py``, split with timers). Two causes, both from redrawing
what did not change:

- Textual's styles cache passes every line through the widget's CSS
  (border, padding, outline, tint, opacity, hatch) into a new strip, then
  through the app's line filters into another, so a line kept by the tree
  (``tree_strips.StripCache``) still costs 0.1 ms. A tree with none of
  those styles, as gitwave's is, gets its kept strips widened to the
  widget (the scrollbar's columns) and filtered by Strip's own caches,
  which return the same strips for the same line.
- The vertical scrollbar is drawn again whenever the scroll position
  changes; a page of 22 lines in 100,000 moves its thumb by a hundredth of
  a cell. ``same_thumb`` tells when the bar would be drawn the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil

from rich.style import Style
from textual.color import Color
from textual.filter import LineFilter
from textual.geometry import Region
from textual.scrollbar import ScrollBar
from textual.strip import Strip
from textual.style import Style as TextualStyle
from textual.widget import Widget

__all__ = ["PlainPaint", "paint_plain", "plain_paint", "same_thumb"]


@dataclass(frozen=True, slots=True)
class PlainPaint:
    """What a widget without border, padding, outline or effects needs to
    turn its lines into the lines on screen."""

    fill: Style  # past the end of a line (under the scrollbar's columns)
    background: Color  # the line filters' background


def plain_paint(widget: Widget) -> PlainPaint | None:
    """How to paint ``widget``'s lines without Textual's styles cache; None
    when any of its styles needs the cache (a border, padding, an outline,
    a tint, a hatch, opacity, a border title)."""
    styles = widget.styles
    if (
        styles.gutter.width
        or styles.gutter.height
        or any(edge for edge, _ in styles.outline)
        or styles.tint.a
        or styles.text_opacity != 1.0
        or widget.opacity != 1.0
        or (styles.has_rule("hatch") and styles.hatch != "none")
        or widget.border_title
        or widget.border_subtitle
    ):
        return None
    base_background, background = widget.background_colors
    # As the styles cache pads a line: the widget's background over its parent's.
    fill = TextualStyle(background=base_background + background).rich_style
    return PlainPaint(fill=fill, background=background)


def paint_plain(
    paint: PlainPaint,
    lines: Sequence[Strip],
    crop: Region,
    *,
    width: int,
    filters: Sequence[LineFilter],
) -> list[Strip]:
    """``lines``, the widget's lines of ``crop``, as Textual's styles cache
    would paint them for a plain widget ``width`` cells wide: each as wide
    as the widget, through ``filters``. The same strip in ``lines`` gives
    the same strip back (Strip keeps its widened and filtered copies)."""
    strips = []
    for line in lines:
        strip = line.adjust_cell_length(width, paint.fill)
        for line_filter in filters:
            strip = strip.apply_filter(line_filter, paint.background)
        strips.append(strip)
    if crop.column_span != (0, width):
        x1, x2 = crop.column_span
        strips = [strip.crop(x1, x2) for strip in strips]
    return strips


def same_thumb(bar: ScrollBar, old: float, new: float) -> bool:
    """Whether ``bar`` is drawn the same at scroll positions ``old`` and
    ``new`` (asked of its own renderer)."""
    render_bar = getattr(bar.renderer, "render_bar", None)
    size = bar.size.height if bar.vertical else bar.size.width
    if render_bar is None or not size:
        return False
    virtual_size = bar.window_virtual_size
    window_size = bar.window_size if bar.window_size < virtual_size else 0

    def drawn(position: float) -> list[object]:
        segments = render_bar(
            size=size,
            virtual_size=ceil(virtual_size),
            window_size=ceil(window_size),
            position=bar.validate_position(position),
            thickness=bar.thickness,
            vertical=bar.vertical,
        )
        return list(segments.segments)

    return drawn(old) == drawn(new)
