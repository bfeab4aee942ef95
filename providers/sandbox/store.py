"""The sandbox's storage: one SQLite database in WAL mode (the sandbox's etcd).

WAL lets the ``gitwave`` CLI in another process read, scale or edit objects
while a sync writes. Writes run in ``BEGIN IMMEDIATE`` transactions so the
read-modify-write sequences of two processes never interleave. Each operation
is a savepoint, so a failed one leaves nothing behind; when several threads
queue up to write, their operations share one commit (``flush``), and inside
``batch()`` all of them do.

Not thread-safe by itself: ``SandboxProvider`` serialises access with a lock.
The tables, the ``Row`` codec and the allocations' queries are in ``schema``;
the kinds table's queries are in ``kinds``. (Not modules of their own: every
``gitwave status`` imports the store, so more modules is a slower start.)
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gitwave.engine.api import private_database, private_directory
from gitwave.engine.errors import ProviderError, UnreachableError
from gitwave.engine.model import Live, Manifest, ResourceKey

from .kinds import KindTable
from .migration import migrate
from .schema import (
    COLUMNS,
    SCHEMA,
    SCHEMA_VERSION,
    AllocationTable,
    Row,
    app_label,
    controller_owner_uid,
    encode,
    row_of,
    text_digest,
)
from .sealing import KEY_FILE, SEALED_PREFIX, Sealer

# Group commit bounds: another process waits at most about this long to write,
# and a crash loses at most this much acknowledged work.
GROUP_COMMIT_MAX_OPS = 1000
GROUP_COMMIT_MAX_SECONDS = 0.05
# How long an open retries a file another process is making (see Store.__init__).
OPEN_RETRY_S = 30.0


class Store(KindTable, AllocationTable):
    def __init__(self, path: Path) -> None:
        self.path = path
        # Two gitwave commands starting on a fresh state dir at once: SQLite can
        # answer "database is locked" at once, without its busy wait, while the
        # other connection switches the file to WAL or makes the schema. Such an
        # open is tried again for as long as a busy write would be waited for.
        deadline = time.monotonic() + OPEN_RETRY_S
        pause = 0.02
        while True:
            try:
                self._db = self._connect(path)
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise UnreachableError(f"sandbox state {path}", str(exc)) from exc
                time.sleep(pause)
                pause = min(pause * 2, 0.5)
            except (sqlite3.Error, OSError) as exc:
                raise UnreachableError(f"sandbox state {path}", str(exc)) from exc
        self._open = False  # a transaction is open
        self._opened_at = 0.0
        self._ops = 0  # write scopes in the open transaction
        self._batches = 0  # open batch() scopes: no commit until the last ends
        self._savepoints = 0
        # The keys ``lives`` was asked for, by id: ``keys`` then parses none of
        # an app's ids a plan read just before (a tenth of a 10,000-object
        # plan's reads). As many as the provider's cache of decoded objects.
        self._key_of_id: dict[str, ResourceKey] = {}

    def _connect(self, path: Path) -> sqlite3.Connection:
        """Open the database, make its schema and seal old plain Secrets."""
        private_directory(path.parent)
        db = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        try:
            # Before WAL mode: the -wal and -shm files take the database's mode.
            private_database(path)
            db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit is durable against a crash of this process;
            # only a power cut can lose the last commits (acceptable for a sandbox).
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=OFF")
            # Pages read through a memory map, not copied by read(2) into a
            # 2 MiB cache: a sixth of a fresh process's read of 10,000 objects.
            # Address space only; WAL frames are still read as before.
            db.execute("PRAGMA mmap_size=268435456")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            # 1: a sandbox an older gitwave made, migrated here.
            if version not in (0, 1, SCHEMA_VERSION):
                raise ProviderError(
                    None,
                    f"sandbox state {path} has schema version {version}; "
                    f"this gitwave knows {SCHEMA_VERSION}",
                )
            if version == 1:
                migrate(db)
            # One transaction, so two processes opening a new state dir at once
            # do not trip over each other's half-made schema.
            db.executescript(
                f"BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
            )
            # Secrets are sealed at rest with a key beside the database (see sealing).
            self._sealer = Sealer(path.parent / KEY_FILE)
            self._seal_plain_secrets(db)
        except BaseException:
            db.close()
            raise
        return db

    def close(self) -> None:
        self._db.close()

    def _seal_plain_secrets(self, db: sqlite3.Connection) -> None:
        """Seal the Secrets a gitwave from before sealing stored in plain JSON,
        overwriting the plain text's pages (secure_delete) as it goes."""
        plain = db.execute(
            "SELECT id, manifest FROM objects WHERE grp = '' AND kind = 'Secret'"
            " AND manifest NOT LIKE ?",
            (SEALED_PREFIX + "%",),
        ).fetchall()
        if not plain:
            return
        db.execute("PRAGMA secure_delete=ON")
        db.execute("BEGIN IMMEDIATE")
        for row_id, manifest in plain:
            sealed = self._sealer.seal(row_id, self._sealer.open(row_id, manifest))
            db.execute("UPDATE objects SET manifest = ? WHERE id = ?", (sealed, row_id))
        db.execute("COMMIT")
        db.execute("PRAGMA secure_delete=OFF")

    # ------------------------------------------------------------ transactions

    @contextmanager
    def write(self) -> Iterator[None]:
        """A write scope: a savepoint in the open transaction (opening one with
        ``BEGIN IMMEDIATE`` if none is). If the body raises, only this scope is
        rolled back. The transaction stays open until ``flush`` commits it."""
        if not self._open:
            self._db.execute("BEGIN IMMEDIATE")
            self._open, self._opened_at, self._ops = True, time.monotonic(), 0
        self._savepoints += 1
        name = f"w{self._savepoints}"
        self._db.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self._db.execute(f"ROLLBACK TO {name}")
            self._db.execute(f"RELEASE {name}")
            raise
        self._db.execute(f"RELEASE {name}")
        self._ops += 1

    def flush(self, *, more_coming: bool) -> None:
        """Commit the open transaction, unless a batch is open, or more writers
        are queued and the transaction is still young (group commit: under load
        one commit covers many operations)."""
        if not self._open or self._batches:
            return
        if (
            more_coming
            and self._ops < GROUP_COMMIT_MAX_OPS
            and time.monotonic() - self._opened_at < GROUP_COMMIT_MAX_SECONDS
        ):
            return
        self._finish(commit=True)

    def _finish(self, *, commit: bool) -> None:
        self._open = False
        try:
            self._db.execute("COMMIT" if commit else "ROLLBACK")
        except sqlite3.Error:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def begin_batch(self) -> None:
        self._batches += 1

    def end_batch(self, *, commit: bool) -> None:
        self._batches -= 1
        if self._batches == 0 and self._open:
            self._finish(commit=commit)

    # ------------------------------------------------------------ objects

    def next_rv(self) -> int:
        row = self._db.execute(
            "UPDATE counter SET rv = rv + 1 WHERE id = 0 RETURNING rv"
        ).fetchone()
        return int(row[0])

    def current_rv(self) -> int:
        return int(self._db.execute("SELECT rv FROM counter WHERE id = 0").fetchone()[0])

    def stamp(self, now: float) -> str | None:
        """What changes with every write to this store (``StateStamp``): the
        write counter, and the store's random id, so a state directory made
        anew (its counter starting over) is another store. None while a row
        is due to settle (the next read writes it)."""
        if self.any_due(now):
            return None
        rv, nonce = self._db.execute(
            "SELECT counter.rv, store_id.nonce FROM counter, store_id WHERE counter.id = 0"
        ).fetchone()
        return f"sandbox {self.path} {nonce} {rv}"

    def get(self, key: ResourceKey) -> Row | None:
        found = self._db.execute(
            f"SELECT {COLUMNS} FROM objects WHERE id = ?", (str(key),)
        ).fetchone()
        return self._row(found) if found else None

    def get_many(self, keys: list[ResourceKey]) -> dict[ResourceKey, Row]:
        found: dict[ResourceKey, Row] = {}
        # The keys asked for, by id: parsing 10,000 ids back into keys was a
        # fifth of reading them.
        by_id = {str(k): k for k in keys}
        ids = list(by_id)
        # SQLite caps bound parameters per statement; 500 stays well below it.
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._select(f"WHERE id IN ({marks})", tuple(chunk), by_id):
                found[row.key] = row
        return found

    def lives(self, keys: list[ResourceKey]) -> dict[ResourceKey, tuple[int, Live]]:
        """The stored objects of ``keys`` as Lives whose manifests are decoded
        when first read (``Live.stored``), with their resource versions."""
        found: dict[ResourceKey, tuple[int, Live]] = {}
        by_id = {str(k): k for k in keys}
        self._key_of_id.update(by_id)
        ids = list(by_id)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT id, rv, manifest, digest FROM objects WHERE id IN ({marks})", chunk
            )
            for row_id, rv, text, digest in rows:
                key = by_id[row_id]
                if row_id.startswith("/Secret/"):  # _is_secret_id, inlined: 10,000 calls
                    # No digest stands for a Secret's values (see Row.digest).
                    live = Live.stored(key, self._sealer.open(row_id, text), str(rv))
                else:
                    # Written with the object; "" from a writer that did not know it.
                    live = Live.stored(key, text, str(rv), digest=digest or text_digest(text))
                found[key] = (int(rv), live)
        return found

    def versions(self, keys: list[ResourceKey]) -> dict[ResourceKey, int]:
        found: dict[ResourceKey, int] = {}
        by_id = {str(k): k for k in keys}
        ids = list(by_id)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT id, rv FROM objects WHERE id IN ({marks})", chunk)
            found.update((by_id[i], int(rv)) for i, rv in rows)
        return found

    def keys(self, *, app: str) -> list[ResourceKey]:
        """The keys of ``app``'s objects (labelled ``gitwave.dev/app``), by id."""
        # objects_app_ids answers from the index alone, in id order.
        rows = self._db.execute("SELECT id FROM objects WHERE app = ? ORDER BY id", (app,))
        known = self._key_of_id
        found = []
        for (row_id,) in rows:
            key = known.get(row_id)
            found.append(ResourceKey.parse(row_id) if key is None else key)
        return found

    def exists(self, key: ResourceKey) -> bool:
        return (
            self._db.execute("SELECT 1 FROM objects WHERE id = ?", (str(key),)).fetchone()
            is not None
        )

    def put(self, key: ResourceKey, manifest: Manifest, *, rv: int, settle_at: float | None) -> Row:
        uid = str(manifest["metadata"]["uid"])
        owner = controller_owner_uid(manifest)
        body = encode(manifest)
        secret = _is_secret(key)
        if secret:
            body = self._sealer.seal(str(key), body)
        # Kept with the object, so a read need not hash it (Secrets: none).
        digest = "" if secret else text_digest(body)
        self._db.execute(
            f"INSERT OR REPLACE INTO objects ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                str(key),
                key.group,
                key.kind,
                key.namespace,
                key.name,
                uid,
                owner,
                app_label(manifest),
                rv,
                settle_at,
                body,
                digest,
            ),
        )
        return Row(key, uid, owner, rv, settle_at, manifest, digest)

    def remove(self, key: ResourceKey, *, rv: int) -> None:
        self._db.execute("DELETE FROM objects WHERE id = ?", (str(key),))
        self._db.execute("DELETE FROM allocations WHERE owner = ?", (str(key),))
        self._db.execute("INSERT INTO tombstones (id, rv) VALUES (?, ?)", (str(key), rv))

    def children_of(self, uid: str) -> list[Row]:
        return self._select("WHERE owner_uid = ? ORDER BY id", (uid,))

    def in_namespace(self, namespace: str) -> list[Row]:
        return self._select("WHERE namespace = ? ORDER BY id", (namespace,))

    def of_kind(self, group: str, kind: str) -> list[Row]:
        return self._select("WHERE grp = ? AND kind = ? ORDER BY id", (group, kind))

    def query(
        self, *, kind: str | None = None, namespace: str | None = None, app: str | None = None
    ) -> list[Row]:
        clauses, args = [], []
        if kind is not None:
            clauses.append("kind = ? COLLATE NOCASE")
            args.append(kind)
        if namespace is not None:
            clauses.append("namespace = ?")
            args.append(namespace)
        if app is not None:
            clauses.append("app = ?")
            args.append(app)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return self._select(f"{where} ORDER BY grp, kind, namespace, name", tuple(args))

    def changed_after(self, rv: int) -> list[Row]:
        return self._select("WHERE rv > ? ORDER BY rv", (rv,))

    def changed_keys_after(self, rv: int) -> list[ResourceKey]:
        """The keys ``changed_after`` would return, without decoding the objects."""
        rows = self._db.execute("SELECT id FROM objects WHERE rv > ? ORDER BY rv", (rv,))
        return [ResourceKey.parse(r[0]) for r in rows]

    def deleted_after(self, rv: int) -> list[tuple[int, ResourceKey]]:
        rows = self._db.execute(
            "SELECT rv, id FROM tombstones WHERE rv > ? ORDER BY rv", (rv,)
        ).fetchall()
        return [(int(r), ResourceKey.parse(i)) for r, i in rows]

    def due(self, now: float) -> list[Row]:
        return self._select("WHERE settle_at IS NOT NULL AND settle_at <= ? ORDER BY rv", (now,))

    def any_due(self, now: float) -> bool:
        """Whether ``due(now)`` would return any row (without decoding one)."""
        found = self._db.execute(
            "SELECT 1 FROM objects WHERE settle_at IS NOT NULL AND settle_at <= ? LIMIT 1", (now,)
        ).fetchone()
        return found is not None

    def namespaces(self) -> set[str]:
        rows = self._db.execute(
            "SELECT name FROM objects WHERE grp = '' AND kind = 'Namespace'"
        ).fetchall()
        return {str(r[0]) for r in rows}

    def _select(
        self, tail: str, args: tuple[Any, ...], by_id: Mapping[str, ResourceKey] | None = None
    ) -> list[Row]:
        rows = self._db.execute(f"SELECT {COLUMNS} FROM objects {tail}", args)
        if by_id is None:
            return [self._row(r) for r in rows]
        return [self._row(r, by_id.get(r[0])) for r in rows]

    def _row(self, found: tuple[Any, ...], key: ResourceKey | None = None) -> Row:
        if not _is_secret_id(found[0]):
            return row_of(found, key=key)
        opened = (*found[:10], self._sealer.open(found[0], found[10]), "")
        return row_of(opened, digest=False, key=key)


def _is_secret(key: ResourceKey) -> bool:
    return key.group == "" and key.kind == "Secret"


def _is_secret_id(row_id: str) -> bool:
    return row_id.startswith("/Secret/")
