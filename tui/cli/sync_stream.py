"""A sync as it happens: one line per step, printed the moment it happens.

``SyncStream`` is the EventSink of one app's sync. It writes, in the order
the engine does things: the app's header as the sync starts, the namespace
CreateNamespace made, each wave's heading as the wave starts with its
objects as they are applied (unchanged ones too), hooks in their phase as
they are created and finish, prunes as they are deleted, and, while a wave
waits, what it waits on (said again every progress interval, so a CI log is
never silent for minutes). The report at the end adds only what no event
said (an object a failed wave marked failed, a prune left alone) and the
summary line.

Off a terminal every line is printed and flushed as it comes. On a terminal
a live board at the bottom (rich) shows, per app, the running wave and its
counts, and under it what it waits on (the whole chain, ``engine.why``); the
lines scroll above it. With several apps
at once, only the waits are printed as they come (prefixed with the app) and
each app's lines are kept for the report, in app order, so apps never
interleave.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.text import Text

from gitwave.engine.events import Event, EventKind
from gitwave.engine.model import Action, ChangeAction, Plan, ResourceKey
from gitwave.engine.sync_run import progress_interval
from gitwave.tui.cli.sync_results import row_note

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live

    from gitwave.engine.sync import SyncResult
    from gitwave.tui.cli.output import Terminal

_STYLE = {
    "created": "green",
    "configured": "yellow",
    "deleted": "red",
    "failed": "red",
    "unchanged": "dim",
    "succeeded": "green",
    "skipped": "dim",
}


def step_line(term: Terminal, action: str, key: ResourceKey, note: str = "") -> Text:
    """``  created    Deployment/shop/api``: one object, as every sync line writes it."""
    line = Text.assemble("  ", term.paint(action.ljust(10), _STYLE.get(action, "")), " ")
    line.append(key.display)
    note = row_note(key, note)
    if note:
        line.append(f"  ({note})")
    return line


_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


@dataclass
class _AppBoard:
    """What the live board shows of one app."""

    wave: str = ""
    wave_index: int = 0
    waves: int = 0
    in_wave: int = 0
    applied: int = 0
    healthy: int = 0
    waiting: str = ""
    started: float = field(default_factory=time.monotonic)


class Board:
    """The live progress display of a terminal (rich.live), one row per running app.

    Lines printed through ``print`` scroll above it; ``close`` erases it."""

    def __init__(self, console: Console) -> None:
        from rich.live import Live  # only a terminal pays for it

        self._apps: dict[str, _AppBoard] = {}
        self._lock = threading.Lock()
        self._console = console
        self._live: Live = Live(
            get_renderable=self._render,
            console=console,
            transient=True,
            refresh_per_second=4,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()

    def print(self, line: Text | str) -> None:
        self._console.print(line, crop=False, soft_wrap=True)

    def update(self, app: str, change: Callable[[_AppBoard], None]) -> None:
        with self._lock:
            change(self._apps.setdefault(app, _AppBoard()))

    def drop(self, app: str) -> None:
        with self._lock:
            self._apps.pop(app, None)

    def _render(self) -> Any:
        from rich.console import Group

        with self._lock:
            apps = list(self._apps.items())
        frame = _FRAMES[int(time.monotonic() * 8) % len(_FRAMES)]
        rows: list[Text] = []
        for name, app in apps:
            took = int(time.monotonic() - app.started)
            what = f"{frame} {name}: {app.wave or 'planning'}"
            if app.waves:
                what += f" ({app.wave_index}/{app.waves})"
            counts = f"{app.applied}/{app.in_wave} applied, {app.healthy}/{app.in_wave} healthy"
            rows.append(Text(f"{what}  {counts}  {took}s", no_wrap=True, overflow="ellipsis"))
            if app.waiting:
                # A line of its own, wrapped, not cut: the chain from what the
                # operator waits for to what holds it is read to its end.
                rows.append(Text(f"  {app.waiting}", style="dim"))
        return Group(*rows)

    def close(self) -> None:
        self._live.stop()


class SyncStream:
    """The EventSink of one app's sync that prints it as it happens (see the
    module docstring). ``echo``: print every line now (one app at a time),
    else keep them for the report and print only the waits, prefixed."""

    def __init__(
        self,
        term: Terminal,
        *,
        app: str,
        header: Callable[[str], Text],
        echo: bool,
        board: Board | None = None,
    ) -> None:
        self._term = term
        self._app = app
        self._header = header
        self.echo = echo
        self._board = board
        self._lock = threading.Lock()
        self.lines: list[Text] = []  # everything said, in order (for the report)
        self._said: set[tuple[ResourceKey, str]] = set()
        self._plan: Plan | None = None
        self._waves: list[str] = []
        self._headed = False
        self._in_wave = False
        self._quiet_since = time.monotonic()
        self.began = False
        self._running = False  # between a sync's start and finish events

    # -- what the sync says -----------------------------------------------------------

    def planned(self, plan: Plan) -> None:
        """The plan about to run (``operations.sync_app``'s ``on_plan``): the
        unchanged objects of each wave are printed as the wave starts."""
        self._plan = plan
        self._waves = [wave.label for wave in plan.waves]

    def __call__(self, event: Event) -> None:
        kind = event.kind
        if kind is EventKind.SYNC_STARTED:
            with self._lock:
                self.began = self._running = True
                self._in_wave = False
                self._said.clear()
                if not self._headed:
                    self._headed = True
                    self._say(self._header(event.revision))
        elif kind is EventKind.WAVE_STARTED:
            self._wave_started(event)
        elif kind in (EventKind.RESOURCE_APPLIED, EventKind.RESOURCE_PRUNED):
            if event.resource is not None:
                if not self._in_wave:
                    # Before the first wave: a namespace CreateNamespace=true made.
                    with self._lock:
                        self._in_wave = True
                        self._say(self._term.paint("CreateNamespace", "bold"))
                self._step(event.message, event.resource)
                self._count(lambda app: setattr(app, "applied", app.applied + 1))
        elif kind is EventKind.HOOK_STARTED and event.resource is not None:
            self._step("created", event.resource)
            self._count(lambda app: setattr(app, "applied", app.applied + 1))
        elif kind is EventKind.HOOK_FINISHED and event.resource is not None:
            self._step(event.message, event.resource)
        elif kind is EventKind.HEALTH_CHANGED:
            if event.message.startswith(("Healthy", "Suspended")):
                self._count(lambda app: setattr(app, "healthy", app.healthy + 1))
        elif kind is EventKind.ERROR:
            if event.resource is not None:
                self._step("failed", event.resource, event.message)
            elif not self._running:
                # A running sync's own failure is said once, under the summary
                # line (argocd's operation message); a retry's is said here.
                with self._lock:
                    self._say(Text(f"  error: {event.message}"))
        elif kind is EventKind.WAITING:
            self._waiting(event)
        elif kind is EventKind.SYNC_FINISHED:
            self._running = False
            if self._board is not None:
                self._board.drop(self._app)

    def _wave_started(self, event: Event) -> None:
        label = event.wave
        with self._lock:
            self._in_wave = True
            self._say(self._term.paint(label, "bold"))
            waves = self._plan.waves if self._plan is not None else ()
            wave = next((w for w in waves if w.label == label), None)
            unchanged = [t.key for t in wave.tasks if t.action is Action.NONE] if wave else []
            for key in unchanged:
                self._said.add((key, ChangeAction.UNCHANGED.value))
                self._say(step_line(self._term, ChangeAction.UNCHANGED.value, key))
        size = len(wave.tasks) if wave else 0
        index = self._waves.index(label) + 1 if label in self._waves else 0

        def start(app: _AppBoard) -> None:
            app.wave, app.wave_index, app.waves = label, index, len(self._waves)
            app.in_wave, app.applied, app.healthy, app.waiting = size, len(unchanged), 0, ""

        self._count(start)

    def _step(self, action: str, key: ResourceKey, note: str = "") -> None:
        with self._lock:
            self._said.add((key, action))
            self._say(step_line(self._term, action, key, note))

    def _waiting(self, event: Event) -> None:
        text = f"{event.wave}: {event.message}" if event.wave else event.message
        if self._board is not None:
            self._count(lambda app: setattr(app, "waiting", event.message))
            return
        with self._lock:
            if not self.echo:
                # Apps at once: a wait is said once it lasted a progress interval
                # (then every interval), so short waits of many apps add no noise.
                now = time.monotonic()
                if now - self._quiet_since < progress_interval():
                    return
                self._quiet_since = now
            line = Text(f"  {text}" if self.echo else f"{self._app}: {text}", style="dim")
            self._write(line)

    def _count(self, change: Callable[[_AppBoard], None]) -> None:
        if self._board is not None:
            self._board.update(self._app, change)

    def _say(self, line: Text) -> None:
        """Keep ``line`` for the report; print it now when echoing (lock held)."""
        self.lines.append(line)
        if self.echo:
            self._write(line)

    def _write(self, line: Text) -> None:
        if self._board is not None:
            self._board.print(line)
        else:
            self._term.out(line)

    # -- the report ---------------------------------------------------------------

    def leftovers(self, result: SyncResult) -> list[Text]:
        """Entries of ``result`` no event said: a failure found after an object
        was applied, a prune left alone, an object already absent."""
        with self._lock:
            said = set(self._said)
        lines = []
        for entry in result.changeset.entries:
            if (entry.key, entry.action.value) in said:
                continue
            note = entry.message if entry.action is not ChangeAction.UNCHANGED else ""
            lines.append(step_line(self._term, entry.action.value, entry.key, note))
        return lines


def stream_console() -> Console:
    """The console the live board draws on: stdout, a terminal."""
    from gitwave.tui.cli.output import quiet_console

    return quiet_console(highlight=False, markup=False, emoji=False)


__all__ = ["Board", "SyncStream", "step_line", "stream_console"]
