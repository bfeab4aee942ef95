"""The event timeline of the history database (``gitwave events``, the TUI's
Events screen): one row per event, appended by a sync, read by app and time.
``Store`` (``engine.store``) is an ``EventTimeline``; its schema creates the
``events`` table.
"""

from __future__ import annotations

from collections.abc import Sequence

from gitwave.engine.database import Database
from gitwave.engine.events import Event, EventKind
from gitwave.engine.model import ResourceKey

__all__ = ["EventTimeline"]


class EventTimeline(Database):
    """The ``events`` table's reads and writes (an EventSink through ``record_event``)."""

    def record_event(self, event: Event) -> None:
        """Append one event to the timeline (an EventSink)."""
        self.record_events([event])

    def record_events(self, events: Sequence[Event]) -> None:
        """Append events to the timeline in one transaction: a long-running loop
        emits a hundred events per sync, and one commit each costs ~1 ms."""
        rows = [
            (
                event.time,
                event.app,
                event.kind.value,
                event.revision,
                str(event.resource) if event.resource else "",
                event.wave,
                event.message,
            )
            for event in events
        ]
        if not rows:
            return
        with self._tx() as db:
            db.executemany(
                "INSERT INTO events (time, app, kind, revision, resource, wave, message)"
                " VALUES (?,?,?,?,?,?,?)",
                rows,
            )

    def events(self, app: str, *, since: float = 0.0, limit: int = 1000) -> list[Event]:
        """The app's events at or after ``since``, oldest first."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT time, kind, revision, resource, wave, message FROM events"
                " WHERE app = ? AND time >= ? ORDER BY id DESC LIMIT ?",
                (app, since, limit),
            ).fetchall()
        return [
            Event(
                kind=EventKind(kind),
                app=app,
                message=message,
                revision=revision,
                resource=ResourceKey.parse(resource) if resource else None,
                wave=wave,
                time=t,
            )
            for t, kind, revision, resource, wave, message in reversed(rows)
        ]
