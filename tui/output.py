"""Plain-text rendering helpers for the CLI: tables, YAML/JSON, colour, progress."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

import yaml

from gitwave.engine.events import Event, EventKind


def use_color(stream: TextIO) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set (no-color.org)."""
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


_COLORS = {"green": "32", "red": "31", "yellow": "33", "cyan": "36", "bold": "1", "dim": "2"}


def paint(text: str, color: str, *, enabled: bool) -> str:
    if not enabled or color not in _COLORS:
        return text
    return f"\033[{_COLORS[color]}m{text}\033[0m"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A kubectl-style table: upper-case headers, columns padded by three spaces."""
    cells = [[str(h).upper() for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("   ".join(padded).rstrip())
    return "\n".join(lines)


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)


def dump(value: Any, fmt: str) -> str:
    """``value`` as JSON or YAML (multi-document for a list with ``yaml-stream``)."""
    if fmt == "json":
        return json.dumps(value, indent=2, sort_keys=False, default=str)
    if fmt == "yaml-stream":
        return "---\n".join(
            yaml.dump(v, Dumper=_Dumper, sort_keys=False, default_flow_style=False) for v in value
        )
    return yaml.dump(value, Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def age(since: float, now: float | None = None) -> str:
    """kubectl's AGE column: 5s, 3m, 2h, 4d."""
    seconds = max(0, int((now or time.time()) - since))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class Progress:
    """An EventSink that keeps one status line updated on a terminal.

    Off a terminal it prints nothing: scripts read the final result instead.
    """

    def __init__(self, stream: TextIO = sys.stderr, *, enabled: bool | None = None) -> None:
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self._width = 0

    def __call__(self, event: Event) -> None:
        if not self.enabled:
            return
        if event.kind in (EventKind.WAVE_STARTED, EventKind.WAITING, EventKind.HOOK_STARTED):
            text = f"{event.app}: {event.wave or ''} {event.message}".strip()
            self._show(text)
        elif event.kind is EventKind.SYNC_FINISHED:
            self.clear()

    def _show(self, text: str) -> None:
        columns = max(20, _terminal_columns() - 1)
        text = text[:columns]
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = len(text)

    def clear(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


def _terminal_columns() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 80
