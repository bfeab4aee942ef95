"""State only its owner may read: gitwave's state directories are 0700 and the
files in them 0600. The history, the sandbox's objects and the loop state hold
what Git and the targets said, Secrets included.

SQLite files are made private by *path* (``os.chmod``) after SQLite has created
them, never by opening them ourselves: closing any descriptor of a file drops
every POSIX lock this process holds on it, SQLite's included. A process that
opened its own database file (as a first attempt did, to create it 0600 before
SQLite) lost its shared lock while connected; another process's connection,
closing, then took itself for the last one, checkpointed the WAL and deleted it
under the writer, whose commits nobody else saw again (`gitwave run` seemed
never to start syncing). SQLite gives a database's -wal, -shm and -journal files
the database file's mode, so once the database is 0600 they are too; ones left
by an older gitwave are tightened here as well.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_directory(path: Path) -> Path:
    """Create ``path`` (and its parents) if needed and make it 0700; a state
    directory of ours made before, more open, is tightened. A shared directory
    (another user's, or sticky like ``/tmp``) given as the state directory is
    left as it is: the files in it are 0600 anyway. Returns ``path``.
    Raises OSError."""
    path.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
    info = path.stat()
    shared = info.st_uid != os.getuid() or info.st_mode & stat.S_ISVTX
    if stat.S_IMODE(info.st_mode) != DIRECTORY_MODE and not shared:
        os.chmod(path, DIRECTORY_MODE)
    return path


def private_file(path: Path) -> None:
    """Make the existing file ``path`` 0600 (by path: it is never opened); a
    missing file is left missing. Raises OSError for any other failure."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode != FILE_MODE:
        os.chmod(path, FILE_MODE)


def private_database(path: Path) -> None:
    """Make the SQLite database at ``path`` and its -wal, -shm and -journal
    files 0600. Call it after SQLite created the file (right after connecting)
    and before WAL mode is turned on, so the companions SQLite creates next
    inherit the mode. Raises OSError."""
    private_file(path)
    for suffix in SQLITE_COMPANIONS:
        private_file(path.with_name(path.name + suffix))


__all__ = ["DIRECTORY_MODE", "FILE_MODE", "private_database", "private_directory", "private_file"]
