"""What every gitwave screen shares: read-only refusal and access to the app."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.screen import Screen

from gitwave.engine.errors import GitwaveError

if TYPE_CHECKING:
    from gitwave.tui.app import GitwaveApp

# Actions that change the target (or its auto-sync): hidden and refused in read-only mode.
CONTROL_ACTIONS = frozenset({"sync", "sync_resource", "rollback", "pause"})


class GitwaveScreen(Screen[None]):
    """A screen of the gitwave app. Control actions are disabled in read-only
    mode: their keys vanish from the footer and fall through to the app, which
    answers "read-only mode"."""

    @property
    def gw(self) -> GitwaveApp:
        return cast("GitwaveApp", self.app)

    def engine_failed(self, exc: GitwaveError) -> None:
        """Tell the user an engine read failed (called on the app's thread)."""
        text = str(exc) + (f"\nhint: {exc.hint}" if exc.hint else "")
        self.notify(text, severity="error", timeout=15)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in CONTROL_ACTIONS and self.gw.read_only)
