"""Where each app was last found: the location (a directory, an Application file
or a Git URL) and ``--revision`` of the last ``sync`` or ``run`` that worked on
it, so that ``gitwave status APP``, ``sync APP``, ``plan APP``, ``why APP`` and
``wait APP`` work from anywhere, as ``argocd app get APP`` does once the app
is known. Kept in the history database, in a table of its own; a URL holding a
credential is never written."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gitwave.engine.source_url import is_remote, redact_url
from gitwave.engine.store import Database, Store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS app_locations (
    app TEXT PRIMARY KEY,
    location TEXT NOT NULL,
    revision TEXT NOT NULL,
    recorded REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class AppLocation:
    """Where ``app`` is defined: ``location`` (absolute, or a URL) at ``revision``
    ("" for the default, HEAD)."""

    app: str
    location: str
    revision: str


class AppLocations(Database):
    """The last location of each app, in the history database. Thread-safe."""

    _SCHEMA = _SCHEMA
    _WHAT = "the app locations"

    @classmethod
    def beside(cls, store: Store) -> AppLocations:
        return cls(store.path)

    def remember(
        self,
        apps: Iterable[str],
        *,
        location: str,
        revision: str | None,
        now: float | None = None,
    ) -> None:
        """Record ``apps`` as found at ``location`` (made absolute); a URL with a
        credential in it is not recorded (it would be kept on disk)."""
        if is_remote(location):
            if redact_url(location) != location:
                return
            where = location
        else:
            where = str(Path(location).resolve())
        recorded = time.time() if now is None else now
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO app_locations (app, location, revision, recorded)"
                " VALUES (?,?,?,?)",
                [(app, where, revision or "", recorded) for app in apps],
            )

    def location_of(self, app: str) -> AppLocation | None:
        """Where ``app`` was last found; None when no sync or run found it."""
        with self._tx() as db:
            row = db.execute(
                "SELECT location, revision FROM app_locations WHERE app = ?", (app,)
            ).fetchone()
        return None if row is None else AppLocation(app, row[0], row[1])
