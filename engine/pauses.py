"""Auto-sync pauses an operator sets (from the TUI or by hand), per app.

Kept apart from the history database on purpose: see ``AutoSyncFlags``.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from gitwave.engine.errors import StoreError
from gitwave.engine.private_files import private_directory
from gitwave.engine.store_records import current_user

AUTOSYNC_FILE = "autosync.json"


class AutoSyncFlags:
    """Per-app auto-sync pauses, in ``state_dir/autosync.json``.

    A JSON file rather than a table so the continuous reconcile loop (and a
    person with ``cat``) can read it without the history schema. Written
    atomically: a reader never sees half a file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StoreError(f"{self.path}: cannot read the auto-sync flags: {exc}") from exc
        paused = data.get("paused") if isinstance(data, dict) else None
        return paused if isinstance(paused, dict) else {}

    def paused(self) -> dict[str, Any]:
        """App name → ``{"by": user@host, "at": epoch seconds}`` for every paused app."""
        with self._lock:
            return self._read()

    def is_paused(self, app: str) -> bool:
        return app in self.paused()

    def set_paused(self, app: str, paused: bool, *, now: float) -> None:
        """Pause or resume ``app``. Raises StoreError when the file cannot be written."""
        with self._lock:
            flags = self._read()
            if paused:
                flags[app] = {"by": current_user(), "at": now}
            else:
                flags.pop(app, None)
            body = json.dumps({"paused": flags}, indent=2, sort_keys=True) + "\n"
            try:
                private_directory(self.path.parent)
                handle, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".autosync-")
                with os.fdopen(handle, "w") as out:
                    out.write(body)
                os.replace(temp, self.path)
            except OSError as exc:
                raise StoreError(f"{self.path}: cannot write the auto-sync flags: {exc}") from exc
