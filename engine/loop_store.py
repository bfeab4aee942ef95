"""The loop state store: what the long-running loop remembers across restarts,
pins and hook runs (auto-sync pauses are in ``engine.pauses``).

Kept in the history database (``Store.path``), in tables of their own:

- a **pin** holds an automated app at the revision a rollback put back: the
  loop does not sync the commit that was rolled away from (``skipped``) until
  another commit arrives or ``gitwave unpin APP`` lifts it. Lifted pins stay
  in the table (with when and why), so a rollback is pinned at most once.
- a **hook run** records that a hook succeeded for one (app, revision, hook):
  a sync resumed after a crash or a stop at the same revision skips it, so a
  PreSync migration never runs twice for one commit.
- a **hook start** records, before a hook object is created, which object it
  will be (the concrete name gitwave chose, a generateName hook's too) and the
  operation's token stamped on it; it goes when the hook finishes. One left
  behind by a killed process is how the next sync finds the hook still
  running and waits for it instead of starting it again (``hooks.adopt_in_flight``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gitwave.engine.store import Database, Store

if TYPE_CHECKING:
    from gitwave.engine.hooks import HookStart

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pins (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app TEXT NOT NULL,
    revision TEXT NOT NULL,
    skipped TEXT NOT NULL,
    sync_id INTEGER,
    reason TEXT NOT NULL,
    created REAL NOT NULL,
    lifted REAL,
    lifted_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS pins_app ON pins(app, id);
CREATE TABLE IF NOT EXISTS hook_runs (
    app TEXT NOT NULL,
    revision TEXT NOT NULL,
    hook TEXT NOT NULL,
    instance TEXT NOT NULL,
    finished REAL NOT NULL,
    PRIMARY KEY (app, revision, hook)
);
CREATE TABLE IF NOT EXISTS hook_starts (
    app TEXT NOT NULL,
    revision TEXT NOT NULL,
    hook TEXT NOT NULL,
    instance TEXT NOT NULL,
    token TEXT NOT NULL,
    started REAL NOT NULL,
    PRIMARY KEY (app, revision, hook)
);
"""


@dataclass(frozen=True, slots=True)
class Pin:
    """An app held at ``revision`` after a rollback; ``skipped`` is the commit
    the loop will not sync while the pin stands."""

    id: int
    app: str
    revision: str
    skipped: str
    sync_id: int | None
    reason: str
    created: float
    lifted: float | None = None
    lifted_reason: str = ""

    def holds(self, revision: str) -> bool:
        """True while the source is still at the skipped commit; any other
        commit (a newer one, a revert) lifts the pin."""
        return self.lifted is None and revision == self.skipped


@dataclass(frozen=True, slots=True)
class HookRun:
    app: str
    revision: str
    hook: str  # "<phase>:<group/Kind/ns/name>[@<digest>]", see loop.hook_id
    instance: str  # the object created (a generateName hook gets its own name)
    finished: float


class LoopStore(Database):
    """Pins and hook runs, in the history database. Thread-safe."""

    _SCHEMA = _SCHEMA
    _WHAT = "the loop state"

    @classmethod
    def beside(cls, store: Store) -> LoopStore:
        """The loop state kept in ``store``'s database file."""
        return cls(store.path)

    # -- pins ------------------------------------------------------------------------

    _PIN_COLUMNS = "id, app, revision, skipped, sync_id, reason, created, lifted, lifted_reason"

    def pin(
        self,
        app: str,
        *,
        revision: str,
        skipped: str,
        sync_id: int | None,
        reason: str,
        now: float | None = None,
    ) -> Pin:
        """Pin ``app`` at ``revision``, skipping commit ``skipped``; lifts an older pin."""
        created = time.time() if now is None else now
        with self._tx() as db:
            db.execute(
                "UPDATE pins SET lifted = ?, lifted_reason = ? WHERE app = ? AND lifted IS NULL",
                (created, "replaced by a newer pin", app),
            )
            cur = db.execute(
                "INSERT INTO pins (app, revision, skipped, sync_id, reason, created)"
                " VALUES (?,?,?,?,?,?)",
                (app, revision, skipped, sync_id, reason, created),
            )
            pin_id = cur.lastrowid
        assert pin_id is not None
        return Pin(pin_id, app, revision, skipped, sync_id, reason, created)

    def pin_of(self, app: str) -> Pin | None:
        """The pin standing for ``app``, or None."""
        with self._tx() as db:
            row = db.execute(
                f"SELECT {self._PIN_COLUMNS} FROM pins WHERE app = ? AND lifted IS NULL"
                " ORDER BY id DESC LIMIT 1",
                (app,),
            ).fetchone()
        return Pin(*row) if row else None

    def pins(self) -> list[Pin]:
        """Every standing pin, by app."""
        with self._tx() as db:
            rows = db.execute(
                f"SELECT {self._PIN_COLUMNS} FROM pins WHERE lifted IS NULL ORDER BY app, id"
            ).fetchall()
        return [Pin(*row) for row in rows]

    def was_pinned_for(self, app: str, sync_id: int) -> bool:
        """True when the rollback recorded as history entry ``sync_id`` was pinned
        before (the pin may be lifted since)."""
        with self._tx() as db:
            row = db.execute(
                "SELECT 1 FROM pins WHERE app = ? AND sync_id = ? LIMIT 1", (app, sync_id)
            ).fetchone()
        return row is not None

    def unpin(self, app: str, *, reason: str, now: float | None = None) -> Pin | None:
        """Lift ``app``'s pin; returns the pin lifted, or None when there was none."""
        standing = self.pin_of(app)
        if standing is None:
            return None
        lifted = time.time() if now is None else now
        with self._tx() as db:
            db.execute(
                "UPDATE pins SET lifted = ?, lifted_reason = ? WHERE id = ?",
                (lifted, reason, standing.id),
            )
        return Pin(
            standing.id,
            standing.app,
            standing.revision,
            standing.skipped,
            standing.sync_id,
            standing.reason,
            standing.created,
            lifted,
            reason,
        )

    # -- hook runs -------------------------------------------------------------------

    def record_hook(
        self, app: str, revision: str, hook: str, *, instance: str, now: float | None = None
    ) -> None:
        """Note that ``hook`` succeeded for ``app`` at ``revision`` (no longer running)."""
        with self._tx() as db:
            db.execute(
                "DELETE FROM hook_starts WHERE app = ? AND revision = ? AND hook = ?",
                (app, revision, hook),
            )
            db.execute(
                "INSERT OR REPLACE INTO hook_runs (app, revision, hook, instance, finished)"
                " VALUES (?,?,?,?,?)",
                (app, revision, hook, instance, time.time() if now is None else now),
            )

    def start_hook(
        self,
        app: str,
        revision: str,
        hook: str,
        *,
        instance: str,
        token: str,
        now: float | None = None,
    ) -> None:
        """Note, before it is created, that ``hook`` starts as object ``instance``."""
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO hook_starts (app, revision, hook, instance, token, started)"
                " VALUES (?,?,?,?,?,?)",
                (app, revision, hook, instance, token, time.time() if now is None else now),
            )

    def drop_hook_start(self, app: str, revision: str, hook: str) -> None:
        """Forget a hook start: the hook failed, or its object never came to be."""
        with self._tx() as db:
            db.execute(
                "DELETE FROM hook_starts WHERE app = ? AND revision = ? AND hook = ?",
                (app, revision, hook),
            )

    def hooks_started(self, app: str, revision: str) -> dict[str, HookStart]:
        """The hooks of ``app`` at ``revision`` started and not finished, by hook id."""
        from gitwave.engine.hooks import HookStart  # a sync's: `status` reads pins only

        with self._tx() as db:
            rows = db.execute(
                "SELECT hook, instance, token, started FROM hook_starts"
                " WHERE app = ? AND revision = ?",
                (app, revision),
            ).fetchall()
        return {row[0]: HookStart(*row) for row in rows}

    def hooks_done(self, app: str, revision: str) -> frozenset[str]:
        """The hooks that already succeeded for ``app`` at ``revision``."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT hook FROM hook_runs WHERE app = ? AND revision = ?", (app, revision)
            ).fetchall()
        return frozenset(row[0] for row in rows)

    def hook_runs(self, app: str) -> list[HookRun]:
        """Every recorded hook run of ``app``, oldest first."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT app, revision, hook, instance, finished FROM hook_runs WHERE app = ?"
                " ORDER BY finished, hook",
                (app,),
            ).fetchall()
        return [HookRun(*row) for row in rows]


def pin_rollback(store: Store, loop_store: LoopStore, app: str, sync_id: int) -> Pin | None:
    """Pin ``app`` after the rollback recorded as history entry ``sync_id``.

    The skipped commit is the revision of the newest sync before the rollback
    that is not itself a rollback and differs from the revision rolled back
    to (the commit rolled away from). Returns None when that rollback was
    pinned before (a lifted pin is not put back) or there is nothing to skip.
    """
    if loop_store.was_pinned_for(app, sync_id):
        return None
    entry = store.get(sync_id)
    skipped = ""
    for record in store.history(app, limit=200):
        if record.id >= sync_id or record.rollback_of is not None or record.dry_run:
            continue
        if record.revision and record.revision != entry.revision:
            skipped = record.revision
            break
    if not skipped:
        return None
    return loop_store.pin(
        app,
        revision=entry.revision,
        skipped=skipped,
        sync_id=sync_id,
        reason=f"rolled back to #{entry.rollback_of} @ {entry.revision[:7] or '-'}",
    )
