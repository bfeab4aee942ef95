"""SQLite history: every sync, its per-resource outcome, the manifests it applied,
and the event timeline.

Secret contents are never written here: a Secret is recorded by key and the
names of its entries only, so `gitwave history -o json` or a copy of the
database file never shows a password. Not even a digest of the values is kept:
an unsalted hash of a short password is found again by trying a dictionary. A
rollback therefore leaves Secrets as they are live.

Over 400 lines on purpose: it is the one module that reads and writes the
history's tables (syncs as they start and end, their outcomes and manifests,
the timeline); the operation locks live beside them in ``engine.locks``.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import socket
import sqlite3
import threading
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitwave.engine.errors import StoreError
from gitwave.engine.events import Event, EventKind
from gitwave.engine.mask import MASK, redact_value
from gitwave.engine.model import (
    ApplyMode,
    ChangeAction,
    InstallGate,
    Manifest,
    Resource,
    ResourceKey,
    SourceRef,
)
from gitwave.engine.private_files import private_database, private_directory

if TYPE_CHECKING:
    from gitwave.engine.locks import AppLocks

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


@dataclass(frozen=True, slots=True)
class ResourceOutcome:
    key: ResourceKey
    action: ChangeAction
    message: str = ""


@dataclass(frozen=True, slots=True)
class SyncRecord:
    """One row of `gitwave history`."""

    id: int
    app: str
    revision: str
    source: str
    started: float
    finished: float
    who: str
    result: str
    message: str
    dry_run: bool
    prune: bool
    rollback_of: int | None
    outcomes: tuple[ResourceOutcome, ...] = ()
    # The tracking owner of the synced objects (``name@source``; "" before it was recorded).
    owner: str = ""
    content_digest: str = ""
    # Where it applied: ``cluster/namespace`` (``in-cluster``: the current target).
    destination: str = ""

    @property
    def interrupted(self) -> bool:
        """True for a sync whose process stopped before it ended (a kill, a crash)."""
        return self.result == INTERRUPTED


def current_user() -> str:
    """``user@host`` — who ran a sync, for the history."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


# History results beside the sync phases (Succeeded, Failed, ...): a sync being
# carried out, and one whose process died before it wrote its end.
RUNNING = "Running"
INTERRUPTED = "Interrupted"


# Marks a recorded Secret as a stub: it lists the entry names, never a value.
SECRET_STUB_FIELD = "x-gitwave-secret-entries"
# `kubectl apply` copies a whole Secret, values included, into this annotation.
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _secret_stub(manifest: Manifest) -> Manifest:
    """A Secret without anything that can hold a value (its data and the
    last-applied annotation), with the names of its entries. A stub read back
    from the history is recorded again as it is."""
    stub = {key: value for key, value in manifest.items() if key not in ("data", "stringData")}
    meta = stub.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
        annotations = {k: v for k, v in meta["annotations"].items() if k != _LAST_APPLIED}
        stub["metadata"] = {**meta, "annotations": annotations}
    if "data" in manifest or "stringData" in manifest or SECRET_STUB_FIELD not in manifest:
        names: set[str] = set()
        for field in ("data", "stringData"):
            values = manifest.get(field)
            if isinstance(values, dict):
                names.update(str(name) for name in values)
        stub[SECRET_STUB_FIELD] = sorted(names)
    return stub


def _recordable(resource: Resource) -> dict[str, Any]:
    manifest = _secret_stub(resource.manifest) if resource.is_secret else resource.manifest
    item: dict[str, Any] = {
        "key": str(resource.key),
        "apiVersion": resource.api_version,
        "source": str(resource.source) if resource.source else "",
        "manifest": manifest,
    }
    if resource.install_gate is not None:
        # A rollback applies a chart's CRD as its release's CRD policies say, as the sync did.
        gate = resource.install_gate
        item["gate"] = {
            "labels": [list(pair) for pair in gate.labels],
            "install": gate.on_install.value,
            "upgrade": gate.on_upgrade.value,
            "subject": gate.subject,
        }
    if resource.masked_values:
        # A Secret's value reached this object (Flux postBuild): recorded masked,
        # and so, like a Secret, kept as it is live by a rollback.
        item["manifest"] = redact_value(manifest, resource.masked_values)
        item["masked"] = True
    return item


def manifests_digest(resources: Sequence[Resource]) -> str:
    """``sha256:<hex>`` of what a sync applied, as recorded (Secrets as stubs,
    so not even a digest of a secret value is kept). Tells two syncs of one
    edited work tree apart where the commit is the same."""
    body = json.dumps(
        sorted((_recordable(r) for r in resources), key=lambda item: item["key"]),
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def _gate(recorded: Any) -> InstallGate | None:
    """The InstallGate ``_recordable`` wrote, or None (none, or unreadable)."""
    if not isinstance(recorded, dict):
        return None
    try:
        return InstallGate(
            labels=tuple((str(k), str(v)) for k, v in recorded["labels"]),
            on_install=ApplyMode(recorded["install"]),
            on_upgrade=ApplyMode(recorded["upgrade"]),
            subject=str(recorded.get("subject", "")),
        )
    except (KeyError, TypeError, ValueError):
        return None


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


class Store(Database):
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
        body = zlib.compress(
            json.dumps([_recordable(r) for r in manifests], separators=(",", ":")).encode(), 6
        )
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
        items = json.loads(zlib.decompress(row[0]))
        resources = []
        for item in items:
            source = item.get("source") or ""
            file, _, line = source.rpartition(":")
            ref = SourceRef(file, int(line)) if file and line.isdigit() else SourceRef(source)
            resources.append(
                Resource(
                    key=ResourceKey.parse(item["key"]),
                    api_version=item["apiVersion"],
                    manifest=item["manifest"],
                    source=ref if source else None,
                    masked_values=(MASK,) if item.get("masked") else (),
                    install_gate=_gate(item.get("gate")),
                )
            )
        return resources

    # -- events -------------------------------------------------------------------------

    def record_event(self, event: Event) -> None:
        """Append one event to the timeline (an EventSink)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO events (time, app, kind, revision, resource, wave, message)"
                " VALUES (?,?,?,?,?,?,?)",
                (
                    event.time,
                    event.app,
                    event.kind.value,
                    event.revision,
                    str(event.resource) if event.resource else "",
                    event.wave,
                    event.message,
                ),
            )

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
