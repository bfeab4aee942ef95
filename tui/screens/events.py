"""The Events screen: an app's recorded events, then new ones as they happen."""

from __future__ import annotations

import time

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, RichLog
from textual.worker import get_current_worker

from gitwave.engine.errors import GitwaveError
from gitwave.engine.events import Event, EventKind
from gitwave.tui.screens.base import FILTER_BINDING, GitwaveScreen, filter_input
from gitwave.tui.widgets.title_bar import TitleBar

_KIND_STYLE = {
    EventKind.ERROR: "red",
    EventKind.DRIFT_DETECTED: "yellow",
    EventKind.WAITING: "yellow",
    EventKind.SYNC_STARTED: "bold",
    EventKind.SYNC_FINISHED: "bold",
    EventKind.ROLLBACK: "bold cyan",
    EventKind.WAVE_STARTED: "cyan",
    EventKind.WAVE_FINISHED: "cyan",
}


def _identity(event: Event) -> tuple[object, ...]:
    return (event.time, event.kind, event.resource, event.wave, event.message)


def event_line(event: Event) -> Text:
    """``12:00:03 WaveStarted  Sync wave 1  2 objects``."""
    clock = time.strftime("%H:%M:%S", time.localtime(event.time))
    style = _KIND_STYLE.get(event.kind, "")
    if event.kind is EventKind.HEALTH_CHANGED:
        code = event.message.partition(":")[0]
        style = {"Healthy": "green", "Degraded": "red"}.get(code, "")
    line = Text(f"{clock} ", style="dim")
    line.append(f"{event.kind.value:<15}", style=style)
    subject = event.resource.display if event.resource is not None else event.wave
    if subject:
        line.append(f" {subject}")
    if event.message:
        line.append(f"  {event.message}", style=style if event.kind is EventKind.ERROR else "")
    return line


class EventsScreen(GitwaveScreen):
    """Replays ``store.events(app)`` and appends the engine's events live."""

    BINDINGS = [
        Binding("escape", "back", "back"),
        Binding("j,down", "scroll_down", "down", show=False),
        Binding("k,up", "scroll_up", "up", show=False),
        Binding("G,end", "follow", "follow"),
        FILTER_BINDING,
    ]

    def __init__(self, app_name: str) -> None:
        super().__init__(name=f"events:{app_name}")
        self.app_name = app_name
        self.lines: list[str] = []  # every event line, filtered or not
        self._texts: list[Text] = []
        self.replayed = False
        self._pending: list[Event] = []
        self._seen: set[tuple[object, ...]] = set()

    def compose(self) -> ComposeResult:
        gw = self.gw
        right = gw.controller.target_name + (" [read-only]" if gw.read_only else "")
        yield TitleBar(("gitwave", self.app_name, "events"), right)
        yield RichLog(id="events", wrap=True, markup=False, max_lines=5000, auto_scroll=True)
        yield filter_input("filter events")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        # Subscribe first: an event that happens while the replay loads is
        # held back, then shown once (not twice) after it.
        self.gw.events_signal.subscribe(self, self._live)
        self.query_one("#events", RichLog).focus()
        self.load()

    @work(thread=True, exclusive=True, group="events")
    def load(self) -> None:
        try:
            events = self.gw.controller.events(self.app_name)
        except GitwaveError as exc:
            self.app.call_from_thread(self.engine_failed, exc)
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._replay, events)

    def _replay(self, events: list[Event]) -> None:
        for event in events:
            self._append(event)
        self.replayed = True
        pending, self._pending = self._pending, []
        for event in pending:
            self._append(event)
        if not self.lines:
            self.query_one("#events", RichLog).write(
                Text(f"no events recorded for {self.app_name} yet", style="dim")
            )

    def _live(self, event: Event) -> None:
        if event.app != self.app_name:
            return
        if not self.replayed:
            self._pending.append(event)
            return
        self._append(event)

    def _append(self, event: Event) -> None:
        identity = _identity(event)
        if identity in self._seen:
            return
        self._seen.add(identity)
        line = event_line(event)
        self.lines.append(line.plain)
        self._texts.append(line)
        if self._matches(line):
            self.query_one("#events", RichLog).write(line, expand=True)

    def _matches(self, line: Text) -> bool:
        return self.filter_text.lower() in line.plain.lower()

    def shown_lines(self) -> list[str]:
        """The event lines on screen: those the filter matches."""
        return [t.plain for t in self._texts if self._matches(t)]

    def filter_changed(self) -> None:
        log = self.query_one("#events", RichLog)
        log.clear()
        for line in self._texts[-5000:]:
            if self._matches(line):
                log.write(line, expand=True)

    def filter_home(self) -> RichLog:
        return self.query_one("#events", RichLog)

    def action_back(self) -> None:
        if not self.clear_filter():
            self.dismiss()

    def action_scroll_down(self) -> None:
        self.query_one("#events", RichLog).scroll_down(animate=False)

    def action_scroll_up(self) -> None:
        self.query_one("#events", RichLog).scroll_up(animate=False)

    def action_follow(self) -> None:
        self.query_one("#events", RichLog).scroll_end(animate=False)
