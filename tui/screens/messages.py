"""Messages the screens post to ask the app for an operation.

Screens never call the engine to change anything: they post one of these,
which bubbles up to the App; the App shows the plan, asks for confirmation
and runs the engine call in a worker.
"""

from __future__ import annotations

from textual.message import Message

from gitwave.engine.events import Event
from gitwave.engine.model import ResourceKey


class SyncRequested(Message):
    """Sync app ``app`` (one ``resource`` of it when given)."""

    def __init__(self, app: str, resource: ResourceKey | None = None) -> None:
        super().__init__()
        self.app_name = app
        self.resource = resource


class RollbackRequested(Message):
    """Roll app ``app`` back to history entry ``sync_id``."""

    def __init__(self, app: str, sync_id: int) -> None:
        super().__init__()
        self.app_name = app
        self.sync_id = sync_id


class PauseRequested(Message):
    """Pause auto-sync of ``app`` (resume it when it is paused)."""

    def __init__(self, app: str) -> None:
        super().__init__()
        self.app_name = app


class EngineEvent(Message):
    """An engine event, posted from a worker thread (Message posting is thread-safe)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event
