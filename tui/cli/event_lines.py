"""How the long-running modes write events: the lines a person reads while
``watch`` or ``run`` runs (``EventPrinter``), one JSON object a line for a log
shipper (``JsonLog``, ``run --log-format json``), and an event as ``-o json``
or ``-o yaml`` streams it (``event_dict``, ``stream_document``), which
``events --follow`` writes too.
"""

from __future__ import annotations

import datetime
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from rich.text import Text

from gitwave.engine.events import Event, EventKind
from gitwave.tui.cli.context import Context
from gitwave.tui.cli.output import dump

# What a person reads while watch or run runs; everything else is in `gitwave events`.
_SHOWN = frozenset({EventKind.CYCLE, EventKind.DRIFT_LOOP, EventKind.PIN, EventKind.ROLLBACK})
_KIND_COLOR = {
    EventKind.DRIFT_LOOP: "yellow",
    EventKind.PIN: "cyan",
    EventKind.ROLLBACK: "yellow",
}


def event_dict(event: Event) -> dict[str, Any]:
    return {
        "time": rfc3339(event.time),
        "app": event.app,
        "kind": event.kind.value,
        "revision": event.revision,
        "resource": str(event.resource) if event.resource else None,
        "wave": event.wave,
        "message": event.message,
    }


def rfc3339(seconds: float) -> str:
    """``seconds`` since the epoch as an RFC 3339 UTC time, to the millisecond."""
    stamp = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def stream_document(value: dict[str, Any], fmt: str) -> str:
    """One event of a stream (``run``, ``watch``, ``events --follow``) as
    ``kubectl get --watch`` writes it: ``-o json`` a JSON object a line,
    ``-o yaml`` a YAML document a time, each opened by ``---``."""
    if fmt == "json":
        return json.dumps(value)
    return "---\n" + dump(value, "yaml").rstrip("\n")


class EventPrinter:
    """An EventSink printing the lines of ``_SHOWN`` events as they happen."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if event.kind not in _SHOWN:
            return
        ctx = self._ctx
        text: str | Text
        if ctx.output in ("json", "yaml"):
            text = stream_document(event_dict(event), ctx.output)
        else:
            stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
            first, *rest = event.message.rstrip().splitlines() or [""]
            if event.kind is EventKind.CYCLE:
                color = "red" if " error: " in first or "Failed" in first else ""
            else:
                color = _KIND_COLOR.get(event.kind, "")
            text = Text.assemble(
                ctx.paint(stamp, "dim"),
                f" {event.app}: ",
                ctx.paint(first, color),
                "".join(f"\n    {line}" for line in rest),
            )
        with self._lock:
            ctx.out(text)


# JSON logs (``run --log-format json``): one object a line, for a log shipper.
LOG_LEVELS = ("debug", "info", "warning", "error")
# What happens to each object, wave and hook: in the timeline, and in logs at debug.
_DEBUG_KINDS = frozenset(
    {
        EventKind.RESOURCE_APPLIED,
        EventKind.RESOURCE_PRUNED,
        EventKind.WAVE_STARTED,
        EventKind.WAVE_FINISHED,
        EventKind.HOOK_STARTED,
        EventKind.HOOK_FINISHED,
        EventKind.HEALTH_CHANGED,
        EventKind.POLICY,
        EventKind.SYNC_STARTED,
    }
)
_WARNING_KINDS = frozenset({EventKind.DRIFT_DETECTED, EventKind.DRIFT_LOOP, EventKind.ROLLBACK})


def log_level(event: Event) -> str:
    """The level of an event's log line."""
    kind, message = event.kind, event.message
    if kind is EventKind.ERROR:
        return "error"
    if kind is EventKind.CYCLE:
        first = (message.splitlines() or [""])[0]
        return "error" if " error: " in first or "Failed" in first else "info"
    if kind is EventKind.HEAL:
        return "info" if message.startswith("healed") else "error"
    if kind is EventKind.SYNC_FINISHED:
        return "info" if message.startswith("Succeeded") else "error"
    if kind in _WARNING_KINDS:
        return "warning"
    return "debug" if kind in _DEBUG_KINDS else "info"


class JsonLog:
    """An EventSink writing one JSON object a line: time (RFC 3339, UTC), level,
    app, revision, kind, message, and resource and wave when the event has
    them; events below ``level`` are left out. Messages are the events' own,
    which never hold a secret value (``engine.events``)."""

    def __init__(self, write: Callable[[str], None], *, level: str = "info") -> None:
        self._write = write
        self._floor = LOG_LEVELS.index(level)
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        level = log_level(event)
        if LOG_LEVELS.index(level) < self._floor:
            return
        self.line(
            level,
            event.message,
            app=event.app,
            revision=event.revision,
            kind=event.kind.value,
            at=event.time,
            resource=event.resource.display if event.resource else "",
            wave=event.wave,
        )

    def line(
        self,
        level: str,
        message: str,
        *,
        app: str = "",
        revision: str = "",
        kind: str = "Log",
        at: float | None = None,
        resource: str = "",
        wave: str = "",
    ) -> None:
        """One line of ``level`` (the loop's own lines: start, servers, webhooks)."""
        if LOG_LEVELS.index(level) < self._floor:
            return
        record: dict[str, Any] = {
            "time": rfc3339(time.time() if at is None else at),
            "level": level,
            "app": app,
            "revision": revision,
            "kind": kind,
            "message": message,
        }
        if resource:
            record["resource"] = resource
        if wave:
            record["wave"] = wave
        text = json.dumps(record, ensure_ascii=False)
        with self._lock:
            self._write(text)
