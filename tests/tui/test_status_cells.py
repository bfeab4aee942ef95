"""The sync and auto-sync cells: the symbol and word each state is drawn with,
in both character sets, and the tone its colour repeats."""

from __future__ import annotations

import pytest

from gitwave.engine.model import Action
from gitwave.tui.views import AutoSync
from gitwave.tui.widgets.status import ASCII, UNICODE, Cell, Tone, action_cell, auto_sync_cell

ACTION_CELLS = [
    (None, "", "", Tone.DIM),
    (Action.NONE, "✓ Synced", "v Synced", Tone.GOOD),
    (Action.UPDATE, "~ OutOfSync", "~ OutOfSync", Tone.WARN),
    (Action.CREATE, "+ OutOfSync", "+ OutOfSync", Tone.WARN),
    (Action.PRUNE, "- Prune", "- Prune", Tone.BAD),
    (Action.HOOK, "* Hook", "* Hook", Tone.INFO),
]


@pytest.mark.parametrize(("action", "unicode", "ascii", "tone"), ACTION_CELLS)
def test_an_objects_sync_cell(action: Action | None, unicode: str, ascii: str, tone: Tone) -> None:
    assert action_cell(action, UNICODE) == Cell(unicode, tone)
    assert action_cell(action, ASCII) == Cell(ascii, tone)


AUTO_SYNC_CELLS = [
    (AutoSync.ON, "✓ on", "v on", Tone.GOOD),
    (AutoSync.PAUSED, "‖ paused", "| paused", Tone.WARN),
    (AutoSync.PINNED, "‖ pinned", "| pinned", Tone.WARN),
    (AutoSync.OFF, "- off", "- off", Tone.DIM),
]


@pytest.mark.parametrize(("state", "unicode", "ascii", "tone"), AUTO_SYNC_CELLS)
def test_an_apps_auto_sync_cell(state: AutoSync, unicode: str, ascii: str, tone: Tone) -> None:
    assert auto_sync_cell(state, UNICODE) == Cell(unicode, tone)
    assert auto_sync_cell(state, ASCII) == Cell(ascii, tone)
