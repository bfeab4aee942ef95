"""Bring a sandbox database an older gitwave made up to this one's layout.

Schema 1 kept no digest of a stored object: every read hashed each object's
JSON again (a fifth of reading 10,000 objects back for a plan). Schema 2 keeps
it in the ``digest`` column, written with the object (``Store.put``), and an
index of ``(app, id)`` that answers ``Store.keys`` without reading the table.
An old database gets the column, filled in once here (Secrets keep "": no
digest may stand for their values, see ``Row.digest``); ``SCHEMA``, run
after it, adds the new index and the trigger that keeps a digest honest.

The migration runs in one ``BEGIN IMMEDIATE`` transaction and looks at the
table itself, not only at ``user_version``, so two processes opening the same
old database at once migrate it once.
"""

from __future__ import annotations

import sqlite3

from .schema import SCHEMA_VERSION, text_digest

__all__ = ["migrate"]


def migrate(db: sqlite3.Connection) -> None:
    """Add what schema 2 has to a schema-1 database (nothing when another
    process just did). Commits; rolls back and raises on an error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        columns = {row[1] for row in db.execute("PRAGMA table_info(objects)")}
        if columns and "digest" not in columns:
            db.execute("ALTER TABLE objects ADD COLUMN digest TEXT NOT NULL DEFAULT ''")
            db.create_function("gitwave_digest", 1, text_digest, deterministic=True)
            db.execute(
                "UPDATE objects SET digest = gitwave_digest(manifest)"
                " WHERE substr(id, 1, 8) != '/Secret/'"
            )
            db.execute("DROP INDEX IF EXISTS objects_app")
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
