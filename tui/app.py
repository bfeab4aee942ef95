"""The gitwave terminal UI (``gitwave tui``): k9s-style screens over the engine.

The app renders engine values and runs engine calls in thread workers (see
``controller``), so the screen never freezes, even while a sync of thousands
of objects waits on a wave. Screens post messages for anything that changes
the target; the app shows the plan, asks for confirmation, runs the operation
and broadcasts the engine's events to whichever screens are listening.

Keys: arrows or j/k move, enter opens (an object: its diff), esc goes back,
``d`` describe, ``y`` YAML, ``l`` logs (``d`` is diff on the app list), ``h``
history, ``e`` events, ``S`` sync, ``?`` every key, ``:`` the command palette
(every verb for every app, ``palette.AppCommands``), ``q`` quits.
``--read-only`` hides and refuses every control.

This module is the App's navigation, help and command palette; the sync,
rollback and pause flows, with the engine plumbing they share (workers, busy
set, notifications), are its base class in ``app_operations``; the
garbage-collection policy is in ``heap``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from textual import work
from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.signal import Signal

from gitwave.engine.errors import GitwaveError
from gitwave.engine.events import Event
from gitwave.engine.model import ResourceKey
from gitwave.engine.sync import SyncResult
from gitwave.tui.app_operations import READ_ONLY_MESSAGE, OperationFlows
from gitwave.tui.controller import AppView, Controller
from gitwave.tui.heap import HeapPolicy
from gitwave.tui.screens.application import ApplicationScreen
from gitwave.tui.screens.apps import AppsScreen
from gitwave.tui.screens.diff import DiffScreen
from gitwave.tui.screens.events import EventsScreen
from gitwave.tui.screens.help import HelpScreen, Section, key_section
from gitwave.tui.screens.history import HistoryScreen
from gitwave.tui.screens.modals import ConfirmScreen, SyncOptionsScreen
from gitwave.tui.screens.palette import AppCommands
from gitwave.tui.widgets.resource_tree import ResourceTree
from gitwave.tui.widgets.status import Glyphs


class GitwaveApp(OperationFlows):
    """The TUI. ``controller`` is the engine door; ``open_app`` opens one app at start."""

    CSS_PATH = "gitwave.tcss"
    TITLE = "gitwave"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = {AppCommands}

    BINDINGS = [
        Binding("q", "quit", "quit"),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("colon", "command_palette", "palette", key_display=":"),
        Binding("ctrl+p", "command_palette", "palette", show=False),
        # Controls fall through to here when a screen disables them (read-only).
        Binding("S,s,R,p", "refused", "read-only", show=False),
    ]

    def __init__(
        self,
        controller: Controller,
        *,
        read_only: bool = False,
        open_app: str | None = None,
        refresh_seconds: float = 5.0,
        glyphs: Glyphs | None = None,
        watch_path: str | None = None,
    ) -> None:
        super().__init__()
        # `gitwave tui --watch`: the watch-mode cycles run in a worker and show here.
        self.watch_path = watch_path
        self.watch_lines: list[str] = []
        self._watch_stop = threading.Event()
        self.controller = controller
        self.read_only = read_only
        self.open_app_name = open_app
        self.refresh_seconds = refresh_seconds
        self.glyphs = glyphs or Glyphs.detect()
        # App name → what is running on it ("syncing", "rolling back").
        self.busy: dict[str, str] = {}
        self.events_signal: Signal[Event] = Signal(self, "engine-events")
        self.changed_signal: Signal[str] = Signal(self, "app-changed")
        self.results: list[SyncResult] = []
        self.heap = HeapPolicy()

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Run in the terminal (``gitwave tui``), with the heap policy on."""
        self.heap.start()
        return super().run(*args, **kwargs)

    def on_mount(self) -> None:
        self.push_screen(AppsScreen())
        if self.open_app_name:
            self.open_app(self.open_app_name)
        if self.watch_path is not None:
            self.watch_cycles()

    def on_unmount(self) -> None:
        self._watch_stop.set()

    @work(thread=True, group="watch", exit_on_error=False)
    def watch_cycles(self) -> None:
        """Watch mode in a worker thread: every save is a cycle, shown as it happens."""
        assert self.watch_path is not None
        try:
            self.controller.watch(self.watch_path, sink=self.forward, stop=self._watch_stop)
        except GitwaveError as exc:
            self.call_from_thread(self._report, exc, "watch")

    def _show_cycle(self, event: Event) -> None:
        line = f"{event.app}: {event.message}" if event.app else event.message
        self.watch_lines.append(line)
        self.sub_title = line
        self.notify(line, title="watch", timeout=6)
        if event.app:
            self.changed_signal.publish(event.app)

    # -- navigation -------------------------------------------------------------------

    def open_app(self, name: str) -> None:
        self.push_screen(ApplicationScreen(name))

    def open_diff(
        self, name: str, key: ResourceKey | None = None, view: AppView | None = None
    ) -> None:
        self.push_screen(DiffScreen(name, key, view))

    def open_history(self, name: str) -> None:
        self.push_screen(HistoryScreen(name))

    def open_events(self, name: str) -> None:
        self.push_screen(EventsScreen(name))

    def key_sections(self) -> list[Section]:
        ro = self.read_only
        return [
            key_section("Everywhere", self.BINDINGS, read_only=ro, skip=("refused",)),
            key_section("Applications", AppsScreen.BINDINGS, read_only=ro),
            key_section(
                "Application",
                [*ResourceTree.BINDINGS, *ApplicationScreen.BINDINGS],
                read_only=ro,
            ),
            key_section("Diff", DiffScreen.BINDINGS, read_only=ro),
            key_section("History", HistoryScreen.BINDINGS, read_only=ro),
            key_section("Events", EventsScreen.BINDINGS, read_only=ro),
            key_section("Sync options", SyncOptionsScreen.BINDINGS, read_only=ro),
            key_section("Confirmation", ConfirmScreen.BINDINGS, read_only=ro),
        ]

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.key_sections(), read_only=self.read_only))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "refused":
            return self.read_only
        return True

    def action_refused(self) -> None:
        self.notify(READ_ONLY_MESSAGE, severity="warning")

    def current_app_name(self, screen: Screen[Any]) -> str | None:
        """The app ``screen`` is about (the highlighted one on the list); None when none."""
        name = getattr(screen, "app_name", None)
        if isinstance(name, str):
            return name
        if isinstance(screen, AppsScreen):
            return screen.selected_name
        return None

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """None of Textual's own (theme, screenshot, keys): the palette is
        ``AppCommands``, every verb for every app."""
        return ()
