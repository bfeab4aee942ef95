"""State that only its owner may read: gitwave's state directories are 0700 and
the files in them 0600 (issue: the history, the sandbox's objects and the loop
state hold what Git and the targets said, Secrets included)."""

from __future__ import annotations

import os
from pathlib import Path

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def private_directory(path: Path) -> Path:
    """Create ``path`` (and its parents) if needed and make it 0700; a
    directory made before, more open, is tightened. Raises OSError."""
    path.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
    os.chmod(path, DIRECTORY_MODE)
    return path


def private_database(path: Path) -> Path:
    """Make sure the SQLite file at ``path`` exists as 0600 before SQLite opens
    it: SQLite gives its -wal and -shm files the database file's mode, so they
    are never readable by others either. Raises OSError."""
    private_directory(path.parent)
    handle = os.open(path, os.O_CREAT | os.O_RDWR, FILE_MODE)
    os.close(handle)
    os.chmod(path, FILE_MODE)
    return path
