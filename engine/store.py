"""SQLite history: every sync, its per-resource outcome, the manifests it applied,
and the event timeline.

Secret contents are never written here: a Secret is recorded by key and the
names of its entries only, so `gitwave history -o json` or a copy of the
database file never shows a password. Not even a digest of the values is kept:
an unsalted hash of a short password is found again by trying a dictionary. A
rollback therefore leaves Secrets as they are live.

The one module that reads and writes the history's tables (syncs as they
start and end, their outcomes and manifests, the timeline). The values a row
is read into (``SyncRecord``, ``ResourceOutcome``, the results ``RUNNING`` and
``INTERRUPTED``) live in ``engine.store_records``; what a manifest is
recorded as (Secret stubs, the digest) in ``engine.store_manifests``,
imported by the methods that record and read manifests (`gitwave status` does
neither); the SQLite file the tables share in ``engine.database``; the
operation locks beside them in ``engine.locks``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitwave.engine.database import Database
from gitwave.engine.errors import StoreError
from gitwave.engine.lazy_module import lazy_exports
from gitwave.engine.model import (
    ChangeAction,
    Resource,
    ResourceKey,
)
from gitwave.engine.store_events import EventTimeline
from gitwave.engine.store_records import (
    INTERRUPTED,
    RUNNING,
    ResourceOutcome,
    SyncRecord,
    current_user,
)

if TYPE_CHECKING:
    from gitwave.engine.locks import AppLocks
    from gitwave.engine.store_manifests import SECRET_STUB_FIELD, manifests_digest

# Moved to store_manifests, still importable from here (PEP 562, on first use).
_lazy = lazy_exports(
    __name__,
    {"SECRET_STUB_FIELD": "store_manifests", "manifests_digest": "store_manifests"},
    package="gitwave.engine",
)


def __getattr__(name: str) -> Any:
    return _lazy(name)


# The values a row is read into are store_records'; still importable from here.
__all__ = [
    "INTERRUPTED",
    "RUNNING",
    "SECRET_STUB_FIELD",
    "Database",
    "ResourceOutcome",
    "Store",
    "SyncRecord",
    "current_user",
    "manifests_digest",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS syncs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app TEXT NOT NULL,
    revision TEXT NOT NULL,
    source TEXT NOT NULL,
    started REAL NOT NULL,
    finished REAL NOT NULL,
    who TEXT NOT NULL,
    result TEXT NOT NULL,
    message TEXT NOT NULL,
    dry_run INTEGER NOT NULL,
    prune INTEGER NOT NULL,
    rollback_of INTEGER,
    owner TEXT NOT NULL DEFAULT '',
    content_digest TEXT NOT NULL DEFAULT '',
    destination TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS syncs_app ON syncs(app, id);
CREATE TABLE IF NOT EXISTS sync_resources (
    sync_id INTEGER NOT NULL REFERENCES syncs(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    action TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (sync_id, key)
);
CREATE TABLE IF NOT EXISTS sync_manifests (
    sync_id INTEGER PRIMARY KEY REFERENCES syncs(id) ON DELETE CASCADE,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    app TEXT NOT NULL,
    kind TEXT NOT NULL,
    revision TEXT NOT NULL,
    resource TEXT NOT NULL,
    wave TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_app ON events(app, time);
"""


class Store(EventTimeline):
    """The history database (``state_dir/gitwave.db``). Thread-safe.

    A sync is written twice: ``begin_sync`` when it starts (result Running,
    with the manifests it is about to apply) and ``finish_sync`` when it ends.
    A Running row whose process died stays Running until the next operation
    on the app takes its lock and marks it Interrupted (``mark_interrupted``)."""

    _SCHEMA = _SCHEMA
    _WHAT = "the history store"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._locks: AppLocks | None = None
        with self._tx() as db:
            # A database an older gitwave made lacks the newer columns.
            columns = {row[1] for row in db.execute("PRAGMA table_info(syncs)")}
            for column in ("owner", "content_digest", "destination"):
                if column not in columns:
                    db.execute(f"ALTER TABLE syncs ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")

    @property
    def locks(self) -> AppLocks:
        """The operation locks (``engine.locks.AppLocks``) in this database, opened once."""
        if self._locks is None:
            from gitwave.engine.locks import AppLocks  # locks builds on Database

            self._locks = AppLocks(self.path)
        return self._locks

    def close(self) -> None:
        if self._locks is not None:
            self._locks.close()
        super().close()

    def record_sync(
        self,
        *,
        app: str,
        revision: str,
        source: str,
        started: float,
        finished: float,
        result: str,
        message: str,
        outcomes: Sequence[ResourceOutcome],
        manifests: Sequence[Resource],
        dry_run: bool = False,
        prune: bool = False,
        rollback_of: int | None = None,
        who: str | None = None,
        content_digest: str = "",
        owner: str = "",
        destination: str = "",
    ) -> int:
        """Record one finished sync in one transaction and return its history id.
        ``owner`` is whose objects it applied (``name@source``)."""
        sync_id = self.begin_sync(
            app=app,
            revision=revision,
            source=source,
            started=started,
            manifests=manifests,
            dry_run=dry_run,
            prune=prune,
            rollback_of=rollback_of,
            who=who,
            content_digest=content_digest,
            owner=owner,
            result=result,
            destination=destination,
        )
        self.finish_sync(
            sync_id, finished=finished, result=result, message=message, outcomes=outcomes
        )
        return sync_id

    def begin_sync(
        self,
        *,
        app: str,
        revision: str,
        source: str,
        started: float,
        manifests: Sequence[Resource],
        dry_run: bool = False,
        prune: bool = False,
        rollback_of: int | None = None,
        who: str | None = None,
        content_digest: str = "",
        owner: str = "",
        result: str = RUNNING,
        destination: str = "",
    ) -> int:
        """Record that a sync starts (result Running) with the manifests it applies;
        returns its history id for ``finish_sync``. ``owner`` is whose objects it
        applies (``name@source``)."""
        # Here, not at the top: `gitwave status` reads the history and records nothing.
        from gitwave.engine.store_manifests import encode_manifests

        body = encode_manifests(manifests)
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO syncs (app, revision, source, started, finished, who, result,"
                " message, dry_run, prune, rollback_of, owner, content_digest, destination)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    app,
                    revision,
                    source,
                    started,
                    started,
                    who or current_user(),
                    result,
                    "",
                    int(dry_run),
                    int(prune),
                    rollback_of,
                    owner,
                    content_digest,
                    destination,
                ),
            )
            sync_id = cur.lastrowid
            assert sync_id is not None
            db.execute("INSERT INTO sync_manifests (sync_id, body) VALUES (?,?)", (sync_id, body))
        return sync_id

    def finish_sync(
        self,
        sync_id: int,
        *,
        finished: float,
        result: str,
        message: str,
        outcomes: Sequence[ResourceOutcome],
    ) -> None:
        """Write how sync ``sync_id`` ended and what it did to each object."""
        with self._tx() as db:
            db.execute(
                "UPDATE syncs SET finished = ?, result = ?, message = ? WHERE id = ?",
                (finished, result, message, sync_id),
            )
            db.executemany(
                "INSERT OR REPLACE INTO sync_resources (sync_id, key, action, message)"
                " VALUES (?,?,?,?)",
                [(sync_id, str(o.key), o.action.value, o.message) for o in outcomes],
            )

    def mark_interrupted(self, app: str, *, message: str, now: float) -> list[int]:
        """Mark ``app``'s Running rows Interrupted; their ids. Only for the holder
        of the app's lock: no sync of it can be running then."""
        with self._tx() as db:
            ids = [
                row[0]
                for row in db.execute(
                    "SELECT id FROM syncs WHERE app = ? AND result = ?", (app, RUNNING)
                )
            ]
            db.executemany(
                "UPDATE syncs SET result = ?, message = ?, finished = ? WHERE id = ?",
                [(INTERRUPTED, message, now, sync_id) for sync_id in ids],
            )
        return ids

    def _row(self, row: tuple[Any, ...], outcomes: tuple[ResourceOutcome, ...] = ()) -> SyncRecord:
        return SyncRecord(
            id=row[0],
            app=row[1],
            revision=row[2],
            source=row[3],
            started=row[4],
            finished=row[5],
            who=row[6],
            result=row[7],
            message=row[8],
            dry_run=bool(row[9]),
            prune=bool(row[10]),
            rollback_of=row[11],
            outcomes=outcomes,
            owner=row[12],
            content_digest=row[13],
            destination=row[14],
        )

    _COLUMNS = (
        "id, app, revision, source, started, finished, who, result, message, dry_run,"
        " prune, rollback_of, owner, content_digest, destination"
    )

    def history(self, app: str, *, limit: int = 50, running: bool = False) -> list[SyncRecord]:
        """The app's syncs that ended (an Interrupted one too), newest first;
        with ``running`` the one being carried out as well."""
        where = "app = ?" if running else f"app = ? AND result != '{RUNNING}'"
        with self._tx() as db:
            rows = db.execute(
                f"SELECT {self._COLUMNS} FROM syncs WHERE {where} ORDER BY id DESC LIMIT ?",
                (app, limit),
            ).fetchall()
        return [self._row(r) for r in rows]

    def apps(self) -> list[str]:
        """Every app that has a history, sorted."""
        with self._tx() as db:
            rows = db.execute("SELECT DISTINCT app FROM syncs ORDER BY app").fetchall()
        return [r[0] for r in rows]

    def get(self, sync_id: int) -> SyncRecord:
        """One sync with its per-resource outcomes. Raises StoreError when unknown."""
        with self._tx() as db:
            row = db.execute(
                f"SELECT {self._COLUMNS} FROM syncs WHERE id = ?", (sync_id,)
            ).fetchone()
            if row is None:
                raise StoreError(
                    f"no sync with id {sync_id} in the history",
                    hint="`gitwave history APP` lists the ids",
                )
            res = db.execute(
                "SELECT key, action, message FROM sync_resources WHERE sync_id = ? ORDER BY key",
                (sync_id,),
            ).fetchall()
        outcomes = tuple(
            ResourceOutcome(ResourceKey.parse(k), ChangeAction(a), m) for k, a, m in res
        )
        return self._row(row, outcomes)

    def newest(self, app: str) -> tuple[int, str]:
        """The id and result of the app's newest sync, running or not (dry runs
        aside; ``(0, "")`` with no history): what a decision to sync was taken
        on, to compare under the lock."""
        with self._tx() as db:
            row = db.execute(
                "SELECT id, result FROM syncs WHERE app = ? AND dry_run = 0"
                " ORDER BY id DESC LIMIT 1",
                (app,),
            ).fetchone()
        return (int(row[0]), str(row[1])) if row else (0, "")

    def last(self, app: str, *, succeeded_only: bool = False) -> SyncRecord | None:
        """The newest non-dry-run sync of ``app`` that ended."""
        where = f"app = ? AND dry_run = 0 AND result != '{RUNNING}'" + (
            " AND result = 'Succeeded'" if succeeded_only else ""
        )
        with self._tx() as db:
            row = db.execute(
                f"SELECT {self._COLUMNS} FROM syncs WHERE {where} ORDER BY id DESC LIMIT 1", (app,)
            ).fetchone()
        return self._row(row) if row else None

    def manifests(self, sync_id: int) -> list[Resource]:
        """The manifests a sync applied, Secrets without their contents."""
        with self._tx() as db:
            row = db.execute(
                "SELECT body FROM sync_manifests WHERE sync_id = ?", (sync_id,)
            ).fetchone()
        if row is None:
            raise StoreError(f"no manifests recorded for sync {sync_id}")
        from gitwave.engine.store_manifests import decode_manifests  # as in begin_sync

        return decode_manifests(row[0])
