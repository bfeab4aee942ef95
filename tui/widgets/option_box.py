"""OptionBox: a Checkbox that reads ``[x]`` when on and ``[ ]`` when off.

Textual's Checkbox draws the same ``X`` both ways and tells them apart by
colour alone; with NO_COLOR, or in a 16-colour terminal over SSH, an operator
could not see whether Prune is on before a sync."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox


class OptionBox(Checkbox):
    """A Checkbox whose state is in its text, not only in its colour."""

    @property
    def _button(self) -> Content:
        style = self.get_visual_style("toggle--button") if self.value else None
        mark = "[x]" if self.value else "[ ]"
        return Content.assemble((mark, style)) if style is not None else Content(mark)
