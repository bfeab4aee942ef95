"""One operation per app at a time, across processes: a lock in the state store.

Two ``gitwave sync`` of one app at once both ran its PreSync hook, and ``run``
or the TUI could sync an app a command line was syncing. Every operation that
changes an app (sync, rollback; the command line, the TUI, ``watch`` and
``run`` alike) first takes the app's row in ``app_locks``, in the history
database every front end of one state directory shares:

- the row is taken in a ``BEGIN IMMEDIATE`` transaction, so two processes
  never both see it free;
- it names its holder (pid, host, command, when it started) so a second
  caller can say who holds the app, and a thread of the holder refreshes its
  ``heartbeat`` every few seconds;
- a row is stale, and taken over, when its pid is gone on this host (a
  ``kill -9``) or its heartbeat is older than ``stale_after_s`` (a holder on
  another host, or a pid reused by another program).

Within one process the lock is re-entrant per thread: ``sync_app`` holds it
across its retries and ``sync`` inside it does not wait for itself.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gitwave.engine.errors import GitwaveError, StoreError
from gitwave.engine.events import Event, EventKind, EventSink, discard
from gitwave.engine.interrupts import pause
from gitwave.engine.lock_names import (
    DEFAULT_LOCK_TIMEOUT_S,
    HEARTBEAT_S,
    STALE_AFTER_S,
    hostname,
    process_command,
)
from gitwave.engine.store import Database, Store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS app_locks (
    app TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    command TEXT NOT NULL,
    started_at REAL NOT NULL,
    heartbeat REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who holds an app: the row of ``app_locks``."""

    app: str
    holder: str
    pid: int
    host: str
    command: str
    started_at: float
    heartbeat: float

    def describe(self) -> str:
        """``pid 4242 (gitwave sync, started 13:45:01)``; the host when it is another one."""
        started = time.strftime("%H:%M:%S", time.localtime(self.started_at))
        host = "" if self.host == hostname() else f" on {self.host}"
        return f"pid {self.pid}{host} ({self.command}, started {started})"


class AppBusyError(GitwaveError):
    """Another operation holds the app and did not let go within the wait."""

    retriable = True

    def __init__(self, holder: LockHolder, waited_s: float) -> None:
        waited = f" after waiting {waited_s:g}s" if waited_s > 0 else ""
        super().__init__(
            f"app {holder.app} is busy{waited}: held by {holder.describe()}",
            hint="let that operation finish, or wait longer with --lock-timeout SECONDS; "
            f"a holder that died is taken over (its pid is gone, or {STALE_AFTER_S:g}s "
            "without a heartbeat)",
        )
        self.holder = holder


class SupersededError(GitwaveError):
    """Another operation recorded a sync of the app (a ``gitwave rollback``, a
    sync from the TUI) after the caller decided to sync: the decision is stale
    and is taken again on what is there now."""

    retriable = True

    def __init__(self, app: str, decided: tuple[int, str], now: tuple[int, str]) -> None:
        seen = f"#{decided[0]} ({decided[1]})" if decided[0] else "no history"
        super().__init__(
            f"app {app}: sync #{now[0]} ({now[1]}) was recorded after this sync was "
            f"decided on {seen}; deciding again",
        )


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` runs on this host (a zombie counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: the kill probe said alive
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


# Per process: (database, app) → (thread id, depth), for re-entrancy; and the
# holder tokens threads of this process use, so a row with this pid that none
# of them wrote (a dead process whose pid came back) is known to be stale.
_HELD: dict[tuple[str, str], tuple[int, int]] = {}
_TOKENS: set[str] = set()
_HELD_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Taken:
    """The app is ours; ``replaced`` is the stale holder it was taken over from."""

    replaced: LockHolder | None


class AppLocks(Database):
    """The ``app_locks`` table of the history database. Thread-safe."""

    _SCHEMA = _SCHEMA
    _WHAT = "the operation locks"

    def __init__(
        self,
        path: Path,
        *,
        heartbeat_s: float = HEARTBEAT_S,
        stale_after_s: float = STALE_AFTER_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(path)
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s
        self._clock = clock
        self._host = hostname()

    def holder_of(self, app: str) -> LockHolder | None:
        """The row holding ``app``, stale or not; None when it is free."""
        with self._tx() as db:
            row = db.execute(
                "SELECT app, holder, pid, host, command, started_at, heartbeat"
                " FROM app_locks WHERE app = ?",
                (app,),
            ).fetchone()
        return LockHolder(*row) if row else None

    def is_stale(self, holder: LockHolder) -> bool:
        """True when the holder is gone: its pid is dead here, or its heartbeat is old."""
        if holder.host == self._host:
            if holder.pid == os.getpid():
                with _HELD_LOCK:
                    if holder.holder not in _TOKENS:
                        return True
            elif not pid_alive(holder.pid):
                return True
        return self._clock() - holder.heartbeat > self.stale_after_s

    def try_take(self, app: str, holder: str, command: str) -> Taken | LockHolder:
        """Take ``app`` for ``holder`` when it is free or stale (``Taken``); else who holds it."""
        now = self._clock()
        with self._immediate() as db:
            row = db.execute(
                "SELECT app, holder, pid, host, command, started_at, heartbeat"
                " FROM app_locks WHERE app = ?",
                (app,),
            ).fetchone()
            current = LockHolder(*row) if row else None
            if current is not None and not self.is_stale(current):
                return current
            db.execute(
                "INSERT OR REPLACE INTO app_locks"
                " (app, holder, pid, host, command, started_at, heartbeat)"
                " VALUES (?,?,?,?,?,?,?)",
                (app, holder, os.getpid(), self._host, command, now, now),
            )
        return Taken(current)

    def beat(self, app: str, holder: str) -> None:
        """Refresh the heartbeat of ``holder``'s row."""
        with self._tx() as db:
            db.execute(
                "UPDATE app_locks SET heartbeat = ? WHERE app = ? AND holder = ?",
                (self._clock(), app, holder),
            )

    def release(self, app: str, holder: str) -> None:
        """Free ``app`` if ``holder`` still holds it (a takeover may have replaced it)."""
        with self._tx() as db:
            db.execute("DELETE FROM app_locks WHERE app = ? AND holder = ?", (app, holder))

    @contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes SQLite's write lock at its start: the
        read of the row and the write of it cannot interleave with another
        process's."""
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    db.rollback()
                    raise
                db.commit()
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from exc

    @contextmanager
    def hold(
        self,
        app: str,
        *,
        timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
        command: str | None = None,
        on_wait: Callable[[LockHolder], None] = lambda holder: None,
        on_taken: Callable[[Taken], None] = lambda taken: None,
        poll_s: float = 0.2,
    ) -> Iterator[None]:
        """Hold ``app`` for the ``with`` block, waiting up to ``timeout_s``.

        ``on_wait`` is told each new holder waited on; ``on_taken`` runs once
        the app is ours (it learns the stale holder replaced, if any). Raises
        AppBusyError when the app is still held after the wait, StoreError
        when the database cannot be used. Re-entrant within one thread."""
        key = (str(self.path), app)
        me = threading.get_ident()
        with _HELD_LOCK:
            owner = _HELD.get(key)
            if owner is not None and owner[0] == me:
                _HELD[key] = (me, owner[1] + 1)
                nested = True
            else:
                nested = False
        if nested:
            try:
                yield
            finally:
                with _HELD_LOCK:
                    thread, depth = _HELD[key]
                    _HELD[key] = (thread, depth - 1)
            return
        import uuid  # with platform, 15 ms of a start that may take no lock

        token = uuid.uuid4().hex
        with _HELD_LOCK:
            _TOKENS.add(token)  # before the row can carry it
        try:
            got = self._wait_for(
                app, token, command or process_command(), timeout_s, on_wait, poll_s
            )
        except BaseException:
            with _HELD_LOCK:
                _TOKENS.discard(token)
            raise
        with _HELD_LOCK:
            _HELD[key] = (me, 1)
        stop = threading.Event()
        beating = threading.Thread(
            target=self._keep_beating, args=(app, token, stop), daemon=True, name=f"lock-{app}"
        )
        beating.start()
        try:
            on_taken(got)
            yield
        finally:
            stop.set()
            beating.join()
            try:
                self.release(app, token)
            finally:
                with _HELD_LOCK:
                    _HELD.pop(key, None)
                    _TOKENS.discard(token)

    def _wait_for(
        self,
        app: str,
        token: str,
        command: str,
        timeout_s: float,
        on_wait: Callable[[LockHolder], None],
        poll_s: float,
    ) -> Taken:
        started = time.monotonic()
        seen: str | None = None
        while True:
            got = self.try_take(app, token, command)
            if isinstance(got, Taken):
                return got
            waited = time.monotonic() - started
            if waited >= timeout_s:
                raise AppBusyError(got, timeout_s)
            if got.holder != seen:
                seen = got.holder
                on_wait(got)
            pause(min(poll_s, max(timeout_s - waited, 0.0)))

    def _keep_beating(self, app: str, holder: str, stop: threading.Event) -> None:
        while not stop.wait(self.heartbeat_s):
            try:
                self.beat(app, holder)
            except StoreError:
                continue  # a busy database now and then: the next beat is in time


@contextmanager
def hold_app(
    store: Store, app: str, *, timeout_s: float = DEFAULT_LOCK_TIMEOUT_S, sink: EventSink = discard
) -> Iterator[None]:
    """Hold ``app``'s lock in ``store``'s database for the ``with`` block, as an
    operation does: waits up to ``timeout_s`` telling ``sink`` whom it waits
    for (a WAITING event: "waiting for app X: held by pid N (...)"), and once
    the app is ours marks its syncs a dead process left Running as
    Interrupted (no sync of it can be running then).

    Raises AppBusyError when the app is still held after the wait."""

    def waiting(holder: LockHolder) -> None:
        message = f"waiting for app {app}: held by {holder.describe()}"
        sink(Event(kind=EventKind.WAITING, app=app, message=message))

    def taken(took: Taken) -> None:
        who = f" ({took.replaced.describe()})" if took.replaced is not None else ""
        store.mark_interrupted(
            app,
            message=f"interrupted: the process running this sync{who} stopped before it ended",
            now=time.time(),
        )

    with store.locks.hold(app, timeout_s=timeout_s, on_wait=waiting, on_taken=taken):
        yield
