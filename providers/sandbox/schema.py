"""The sandbox database's layout and how a stored object is a row.

The tables (objects, the resource-version counter, tombstones of deleted
objects, kinds CRDs registered, allocated cluster IPs and node ports), the
``Row`` an object is read back as, and the columns derived from its manifest
(controlling owner, app label) so queries need not decode JSON; and the
queries of the allocations table (``AllocationTable``, part of ``Store``).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import LABEL_APP, Live, Manifest, ResourceKey

# 2: the digest column, the (app, id) index (``migration`` upgrades a 1).
SCHEMA_VERSION = 2

# objects.digest: text_digest(manifest), written with it; "" for a Secret (see
# Row.digest) and for a row whose writer did not know the column (a read hashes
# it). No comment inside a CREATE TABLE: SQLite keeps that text, and ALTER TABLE
# rewrites it.
SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    id TEXT PRIMARY KEY,
    grp TEXT NOT NULL,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    uid TEXT NOT NULL,
    owner_uid TEXT,
    app TEXT,
    rv INTEGER NOT NULL,
    settle_at REAL,
    manifest TEXT NOT NULL,
    digest TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS objects_namespace ON objects(namespace);
CREATE INDEX IF NOT EXISTS objects_kind ON objects(grp, kind);
CREATE INDEX IF NOT EXISTS objects_owner ON objects(owner_uid) WHERE owner_uid IS NOT NULL;
-- With the id: Store.keys reads an app's ids from the index alone.
CREATE INDEX IF NOT EXISTS objects_app_ids ON objects(app, id) WHERE app IS NOT NULL;
CREATE INDEX IF NOT EXISTS objects_rv ON objects(rv);
CREATE INDEX IF NOT EXISTS objects_settle ON objects(settle_at) WHERE settle_at IS NOT NULL;
-- A writer that replaces an object's JSON without its digest (an older
-- gitwave, a hand-made UPDATE) leaves "", never the old object's digest.
CREATE TRIGGER IF NOT EXISTS objects_digest_stale
AFTER UPDATE OF manifest ON objects
WHEN NEW.digest = OLD.digest AND NEW.manifest IS NOT OLD.manifest
BEGIN
    UPDATE objects SET digest = '' WHERE id = NEW.id;
END;
CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY CHECK (id = 0), rv INTEGER NOT NULL);
INSERT OR IGNORE INTO counter (id, rv) VALUES (0, 0);
-- A random id made with the store: a state directory made anew, its counter
-- starting over, is another store (Store.stamp).
CREATE TABLE IF NOT EXISTS store_id (id INTEGER PRIMARY KEY CHECK (id = 0), nonce TEXT NOT NULL);
INSERT OR IGNORE INTO store_id (id, nonce) VALUES (0, lower(hex(randomblob(16))));
CREATE TABLE IF NOT EXISTS tombstones (id TEXT NOT NULL, rv INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tombstones_rv ON tombstones(rv);
CREATE TABLE IF NOT EXISTS kinds (
    grp TEXT NOT NULL,
    kind TEXT NOT NULL,
    scope TEXT NOT NULL,
    versions TEXT NOT NULL,
    crd TEXT NOT NULL,
    PRIMARY KEY (grp, kind)
);
CREATE TABLE IF NOT EXISTS allocations (
    pool TEXT NOT NULL,
    value TEXT NOT NULL,
    owner TEXT NOT NULL,
    seed TEXT,
    PRIMARY KEY (pool, value)
);
CREATE INDEX IF NOT EXISTS allocations_owner ON allocations(owner);
"""

COLUMNS = "id, grp, kind, namespace, name, uid, owner_uid, app, rv, settle_at, manifest, digest"


@dataclass(frozen=True, slots=True)
class Row:
    """One stored object."""

    key: ResourceKey
    uid: str
    owner_uid: str | None
    rv: int
    settle_at: float | None
    manifest: Manifest
    # Of the stored JSON ("" for a Secret, whose values no digest may stand for).
    digest: str = ""

    def live(self) -> Live:
        return Live(self.key, self.manifest, str(self.rv), digest=self.digest)


def text_digest(text: str) -> str:
    """A digest of a stored object's JSON: equal texts, equal digests."""
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def controller_owner_uid(manifest: Manifest) -> str | None:
    """The uid of the object's controlling owner (else its first owner)."""
    refs = (manifest.get("metadata") or {}).get("ownerReferences") or []
    refs = [r for r in refs if isinstance(r, dict) and r.get("uid")]
    for ref in refs:
        if ref.get("controller"):
            return str(ref["uid"])
    return str(refs[0]["uid"]) if refs else None


def app_label(manifest: Manifest) -> str | None:
    labels = (manifest.get("metadata") or {}).get("labels") or {}
    value = labels.get(LABEL_APP) if isinstance(labels, dict) else None
    return str(value) if value is not None else None


def encode(manifest: Manifest) -> str:
    return json.dumps(manifest, separators=(",", ":"))


def row_of(found: tuple[Any, ...], *, digest: bool = True, key: ResourceKey | None = None) -> Row:
    """The Row of a selected row (``COLUMNS``); ``key`` is its key when the
    caller has it already. ``digest=False``: the row gets none (a Secret)."""
    (id_, _grp, _kind, _ns, _name, uid, owner, _app, rv, settle_at, manifest, stored) = found
    return Row(
        ResourceKey.parse(id_) if key is None else key,
        uid,
        owner,
        int(rv),
        settle_at,
        json.loads(manifest),
        (stored or text_digest(manifest)) if digest else "",
    )


class AllocationTable:
    """The store's allocations of cluster IPs and node ports (``Store`` mixes it in)."""

    _db: sqlite3.Connection

    def allocate(
        self,
        pool: str,
        *,
        owner: str,
        seed: str,
        candidates: list[str],
        requested: str | None,
        reserve: bool,
    ) -> str:
        """A value of ``pool`` for ``owner``.

        ``requested`` is reserved as is (ProviderError when another object holds
        it); otherwise the value this owner already holds for ``seed``, else the
        first free of ``candidates``."""
        if requested is not None:
            holder = self._db.execute(
                "SELECT owner FROM allocations WHERE pool = ? AND value = ?", (pool, requested)
            ).fetchone()
            if holder is not None and holder[0] != owner:
                other = ResourceKey.parse(holder[0]).display
                raise ProviderError(
                    ResourceKey.parse(owner), f"{pool} {requested} is already allocated to {other}"
                )
            if holder is None and reserve:
                self._db.execute(
                    "INSERT INTO allocations (pool, value, owner, seed) VALUES (?,?,?,?)",
                    (pool, requested, owner, seed),
                )
            return requested
        held = self._db.execute(
            "SELECT value FROM allocations WHERE pool = ? AND owner = ? AND seed = ?",
            (pool, owner, seed),
        ).fetchone()
        if held is not None:
            return str(held[0])
        for value in candidates:
            taken = self._db.execute(
                "SELECT 1 FROM allocations WHERE pool = ? AND value = ?", (pool, value)
            ).fetchone()
            if taken is None:
                if reserve:
                    self._db.execute(
                        "INSERT INTO allocations (pool, value, owner, seed) VALUES (?,?,?,?)",
                        (pool, value, owner, seed),
                    )
                return value
        raise ProviderError(ResourceKey.parse(owner), f"no free {pool} left in the sandbox")
