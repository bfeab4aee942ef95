"""How the command line writes: kubectl-style tables, colour, progress and
JSON/YAML (a sync's result: ``sync_results``).

Colour and tables go through rich. Colour is on only for a terminal, never
with NO_COLOR set or ``--no-color`` (no-color.org); without it rich writes no
escape code at all, not even bold. JSON and YAML never pass through rich: they
are printed as dumped, byte for byte.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, TextIO

from gitwave.engine.events import Event, EventKind
from gitwave.tui.formatting import revision_text

if TYPE_CHECKING:
    import yaml
    from rich.console import Console, RenderableType
    from rich.segment import Segments
    from rich.status import Status  # the spinner loads with the first progress line
    from rich.table import Table
    from rich.text import Text


# A table is as wide as its widest row, whatever the terminal: like kubectl,
# lines are never wrapped or cut, the terminal wraps them if it must.
_UNBOUNDED = 1_000_000
# Between two columns, as kubectl leaves them.
_GAP = "   "


def use_color(stream: TextIO) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set (no-color.org)."""
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def quiet_console(**options: Any) -> Console:
    """A rich Console (``options`` as rich's) that goes quiet when its reader goes
    away: rich's own raises SystemExit there, which in a sync's worker thread
    ended the app half way (``gitwave sync | head -1``: an Error in history)."""
    return _quiet_console_type()(**options)


@functools.cache
def _quiet_console_type() -> type[Console]:
    from rich.console import Console  # rich loads with the first painted line (30 ms)

    class QuietConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            _drop_output(self.file)

    return QuietConsole


def _console(*, color: bool, stderr: bool) -> Console:
    # No file given: rich looks up sys.stdout/sys.stderr at each print, so a
    # redirected stream (pytest's capsys, contextlib.redirect_stdout) is honoured.
    return quiet_console(
        stderr=stderr,
        color_system="auto" if color else None,
        force_terminal=color or None,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=True,
    )


@dataclass(frozen=True, slots=True)
class Grid:
    """A kubectl-style table (``table``): upper-case headers, left-aligned
    columns three spaces apart; ``Terminal.out`` prints it."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def plain_lines(self) -> list[str] | None:
        """The lines as rich lays them out without colour, when every cell is
        printable ASCII (one character, one column); None otherwise (rich
        measures wide characters and breaks multi-line cells)."""
        cells = [self.headers, *self.rows]
        if any(len(row) != len(self.headers) for row in self.rows):
            return None  # rich adds or pads columns
        if not all(c.isascii() and c.isprintable() for row in cells for c in row):
            return None
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.headers))]
        return [
            _GAP.join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in cells
        ]

    def rich_table(self) -> Table:
        from rich.table import Table

        grid = Table(
            box=None,
            show_edge=False,
            pad_edge=False,
            padding=(0, len(_GAP), 0, 0),
            header_style="bold",
        )
        for header in self.headers:
            grid.add_column(header, no_wrap=True, overflow="ignore")
        for row in self.rows:
            grid.add_row(*row)
        return grid


class Terminal:
    """stdout for results, stderr for what a person watches, both painted alike."""

    def __init__(self, *, color: bool) -> None:
        self.color = color
        # Made by the first rich value printed: a plain listing never loads rich.
        self._consoles: dict[bool, Console] = {}

    def out(self, value: str | Grid | RenderableType = "") -> None:
        """Print one result: a str as is, a table or a rich Text rendered."""
        self._write(value, stderr=False)

    def err(self, value: str | Grid | RenderableType = "") -> None:
        """Print a line for the person at the terminal (banners, notices)."""
        self._write(value, stderr=True)

    def paint(self, text: str, style: str) -> Text:
        """``text`` in a rich style ("bold", "green", "dim", ...); "" for none.

        Without colour the consoles write no style, so the text prints plain."""
        from rich.text import Text

        return Text(text, style=style)

    def styled(self, text: str, style: str) -> str | Text:
        """``paint(text, style)``, or ``text`` itself when it prints the same: no
        colour and printable ASCII (rich would expand a tab or drop a control
        character). A plan's header so never loads rich (25 ms of a fresh plan)."""
        if not self.color and text.isascii() and text.isprintable():
            return text
        return self.paint(text, style)

    def _console(self, *, stderr: bool) -> Console:
        console = self._consoles.get(stderr)
        if console is None:
            console = self._consoles[stderr] = _console(color=self.color, stderr=stderr)
        return console

    def _write(self, value: str | Grid | RenderableType, *, stderr: bool) -> None:
        # sys.stdout/sys.stderr looked up at each print, as the consoles do.
        stream = sys.stderr if stderr else sys.stdout
        try:
            self._print(stream, value, stderr=stderr)
        except BrokenPipeError:
            # The reader went away (`gitwave sync | head -1`): what runs goes on
            # (a sync half applied because nobody reads its lines would be worse),
            # its output is dropped, and the exit code stays the command's own.
            _drop_output(stream)

    def _print(self, stream: TextIO, value: str | Grid | RenderableType, *, stderr: bool) -> None:
        if isinstance(value, str):
            print(value, file=stream, flush=True)
            return
        if isinstance(value, Grid):
            lines = None if self.color else value.plain_lines()
            if lines is not None:
                print("\n".join(lines), file=stream, flush=True)
                return
            console = self._console(stderr=stderr)
            console.print(_trimmed(console, value.rich_table()), crop=False)
            return
        self._console(stderr=stderr).print(value, crop=False)


def _drop_output(stream: IO[str]) -> None:
    """Point ``stream``'s descriptor at /dev/null: later writes, and the flush at
    exit, go nowhere instead of failing again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no descriptor (a test's capture): nothing to point
        pass


def _trimmed(console: Console, table: Table) -> Segments:
    """The table's lines without the padding rich leaves after the last cell."""
    from rich.segment import Segment, Segments

    options = console.options.update(width=_UNBOUNDED, no_wrap=True)
    segments: list[Segment] = []
    for line in console.render_lines(table, options, pad=False):
        while line and not line[-1].text.rstrip():
            line.pop()
        if line:
            last = line[-1]
            line[-1] = Segment(last.text.rstrip(), last.style, last.control)
        segments.extend(line)
        segments.append(Segment.line())
    return Segments(segments)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> Grid:
    """A kubectl-style table: upper-case headers, left-aligned columns three spaces apart."""
    return Grid(
        tuple(str(header).upper() for header in headers),
        tuple(tuple(str(cell) for cell in row) for row in rows),
    )


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


@functools.cache
def _yaml_dumper() -> type[yaml.SafeDumper]:
    # PyYAML loads for the first YAML printed (20 ms of every start otherwise).
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(str, _str_presenter)
    return Dumper


def dump(value: Any, fmt: str) -> str:
    """``value`` as JSON or YAML (multi-document for a list with ``yaml-stream``)."""
    if fmt == "json":
        return json.dumps(value, indent=2, sort_keys=False, default=str)
    import yaml

    _Dumper = _yaml_dumper()
    if fmt == "yaml-stream":
        return "---\n".join(
            yaml.dump(v, Dumper=_Dumper, sort_keys=False, default_flow_style=False) for v in value
        )
    return yaml.dump(value, Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def rfc3339(seconds: float) -> str:
    """``seconds`` since the epoch as an RFC 3339 UTC time, to the millisecond: how
    every ``-o json|yaml`` writes a moment."""
    import datetime  # only -o json|yaml pays for it

    stamp = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def local_time(seconds: float) -> str:
    """A moment as the history and the timeline show it, in local time."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def short(revision: str) -> str:
    """A commit as people read it: seven characters (``+dirty`` kept), "-" for none."""
    return revision_text(revision)


class Progress:
    """An EventSink that keeps one status line (a rich spinner) on a terminal.

    Off a terminal it prints nothing: scripts read the final result instead.
    """

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        stream = sys.stderr if stream is None else stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self._console = quiet_console(file=stream, highlight=False, markup=False, emoji=False)
        self._status: Status | None = None
        # Events come from the sync's worker threads.
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if not self.enabled:
            return
        if event.kind in (EventKind.WAVE_STARTED, EventKind.WAITING, EventKind.HOOK_STARTED):
            self._show(f"{event.app}: {event.wave or ''} {event.message}".strip())
        elif event.kind is EventKind.SYNC_FINISHED:
            self.clear()

    def _show(self, text: str) -> None:
        from rich.text import Text

        line = Text(text, no_wrap=True, overflow="ellipsis")
        with self._lock:
            if self._status is None:
                from rich.status import Status

                self._status = Status(line, console=self._console)
                self._status.start()
            else:
                self._status.update(line)

    def clear(self) -> None:
        """Erase the status line (before the result is printed)."""
        with self._lock:
            if self._status is not None:
                self._status.stop()
                self._status = None
