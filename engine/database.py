"""The state directory's SQLite file, shared by several tables' owners: the
history (``engine.store``), the operation locks (``engine.locks``), the loop's
pins and hook runs (``engine.loop_store``), app-of-apps children and app
locations. Each owner subclasses ``Database`` with its schema.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gitwave.engine.errors import StoreError
from gitwave.engine.private_files import private_database, private_directory

__all__ = ["Database"]


class Database:
    """One SQLite file in the state directory, shared by several tables' owners
    (the history here, the loop's pins and hook runs in ``pins``). Thread-safe:
    one connection, one lock, a transaction per ``_tx``."""

    _SCHEMA = ""
    _WHAT = "the state database"

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            private_directory(path.parent)
            self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
            # Before WAL mode: the -wal and -shm files take the database's mode.
            private_database(path)
            self._db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit survives a crash or kill -9 of this process
            # (only a power cut can lose the last ones) without an fsync per
            # history row: a thousand apps write about seven thousand of them.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(self._SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(
                f"{path}: cannot open {self._WHAT}: {exc}",
                hint="check the permissions of the state directory (--state or GITWAVE_STATE)",
            ) from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                with self._db:
                    yield self._db
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from exc
