"""What every gitwave screen shares: read-only refusal, access to the app, and
the ``/`` filter."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.binding import ActiveBinding, Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input

from gitwave.engine.errors import GitwaveError

if TYPE_CHECKING:
    from gitwave.tui.app import GitwaveApp

# Actions that change the target (or its auto-sync): hidden and refused in read-only mode.
CONTROL_ACTIONS = frozenset(
    {"sync", "sync_resource", "rollback", "pause", "promote", "triage", "rollout_abort"}
)

FILTER_ID = "filter"

# `/` is a priority binding: the app runs it as it takes the key off its queue,
# before it hands the next key to the focused widget. A plain binding runs only
# once the key has bubbled back up from that widget, and by then a burst of keys
# typed after `/` (tmux send-keys, a fast typist over SSH) has already gone to
# the tree or table and fired `p` pause or `S` sync. While the filter line has
# focus it consumes `/` (Textual drops bindings of keys a focused Input takes),
# so `/` inside a filter is still a character.
FILTER_BINDING = Binding("slash", "filter", "filter", key_display="/", priority=True)


def filter_input(placeholder: str) -> Input:
    """The hidden filter line a screen yields; ``/`` (``FILTER_BINDING``) shows
    and focuses it.

    While it has focus it takes every printable key, so typing ``app-42``
    never fires the screen's one-letter keys (``p`` pause, ``S`` sync)."""
    box = Input(placeholder=f"{placeholder} (enter: keep, esc: clear)", id=FILTER_ID)
    box.display = False
    return box


class GitwaveScreen(Screen[None]):
    """A screen of the gitwave app. Control actions are disabled in read-only
    mode: their keys vanish from the footer and fall through to the app, which
    answers "read-only mode"."""

    filter_text = ""

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The keys the footer shows, ``? help`` and ``q quit`` first: at 80
        columns the footer cuts the end, and those two must never be cut."""
        bindings = super().active_bindings
        first = {
            key: active
            for key, active in bindings.items()
            if active.node is self.app and active.binding.action in ("help", "quit")
        }
        return {**first, **{k: v for k, v in bindings.items() if k not in first}}

    @property
    def gw(self) -> GitwaveApp:
        return cast("GitwaveApp", self.app)

    def engine_failed(self, exc: GitwaveError) -> None:
        """Tell the user an engine read failed (called on the app's thread)."""
        text = str(exc) + (f"\nhint: {exc.hint}" if exc.hint else "")
        self.notify(text, severity="error", timeout=15)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in CONTROL_ACTIONS and self.gw.read_only)

    # -- the `/` filter -----------------------------------------------------------------

    def filter_changed(self) -> None:
        """Show the rows that match ``filter_text`` (screens with a filter override)."""

    def filter_home(self) -> Widget | None:
        """The widget that gets the focus back when the filter line closes."""
        return None

    def _filter_box(self) -> Input | None:
        try:
            return self.query_one(f"#{FILTER_ID}", Input)
        except NoMatches:
            return None

    def action_filter(self) -> None:
        box = self._filter_box()
        if box is None:
            return
        box.display = True
        box.value = self.filter_text
        box.cursor_position = len(box.value)
        # Focus now, not on the next turn of the queue (``box.focus()`` defers
        # it): the next key the app takes must already go to the filter.
        self.set_focus(box)

    def clear_filter(self) -> bool:
        """Esc: clear the filter; False when there was none (esc then goes back)."""
        box = self._filter_box()
        if box is None or (not self.filter_text and not box.display):
            return False
        box.value = ""
        box.display = False
        self.filter_text = ""
        self.filter_changed()
        if (home := self.filter_home()) is not None:
            home.focus()
        return True

    def action_clear_filter(self) -> None:
        self.clear_filter()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != FILTER_ID:
            return
        event.stop()
        self.filter_text = event.value.strip()
        self.filter_changed()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != FILTER_ID:
            return
        event.stop()
        event.input.display = bool(self.filter_text)
        if (home := self.filter_home()) is not None:
            home.focus()
