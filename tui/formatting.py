"""Text formatters shared by the command line and the Textual screens: the one
age formatter (kubectl's AGE column), revisions as people read them, and ANSI
paint for text composed as str.

Kept outside ``tui.cli`` so a screen or ``plan_text`` can use them without
importing the command line (which imports them back).
"""

from __future__ import annotations

import datetime
import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.style import Style


def age(seconds: float) -> str:
    """kubectl's AGE column for ``seconds`` elapsed: 5s, 3m, 2h, 4d."""
    value = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if value >= size:
            return f"{value // size}{unit}"
    return f"{value}s"


def age_of_timestamp(timestamp: str, *, now: float) -> str:
    """The age of an RFC 3339 time such as ``creationTimestamp``; "-" when unreadable."""
    if not timestamp:
        return "-"
    try:
        stamp = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return "-"
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.UTC)
    return age(now - stamp.timestamp())


DIRTY = "+dirty"  # engine.source.DIRTY_SUFFIX: a work tree with uncommitted edits


def revision_text(revision: str, digest: str = "") -> str:
    """A revision as people read it: seven characters of the commit, ``+dirty``
    kept for uncommitted edits, then the start of their content digest; "-"
    for none. ``3f2a9c1+dirty sha256:8d0e61a4b7c2``."""
    if not revision:
        return "-"
    dirty = revision.endswith(DIRTY)
    text = revision.removesuffix(DIRTY)[:7] + (DIRTY if dirty else "")
    if digest:
        algorithm, _, value = digest.partition(":")
        text += f" {algorithm}:{value[:12]}" if value else f" {digest[:12]}"
    return text


@functools.cache
def _style(name: str) -> Style:
    from rich.style import Style  # loaded by the first painted text, not by every command

    return Style.parse(name)


def paint(text: str, style: str, *, enabled: bool) -> str:
    """``text`` as an ANSI string in a rich style, for text composed as str
    (a plan); plain when not ``enabled`` or without a style."""
    if not enabled or not style:
        return text
    from rich.color import ColorSystem

    return _style(style).render(text, color_system=ColorSystem.STANDARD)
