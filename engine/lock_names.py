"""What the app locks (``engine.locks``) say about this process, and their
timings: the command holding an app and the host it runs on. Apart from the
locks so a command that takes none (``gitwave status``, ``--help``) names
itself without loading them, nor sqlite3 and socket with them."""

from __future__ import annotations

import sys
from pathlib import Path

HEARTBEAT_S = 5.0
# Six missed heartbeats: long enough for a loaded machine, short enough that a
# holder on another host that died does not block an app for long.
STALE_AFTER_S = 30.0
DEFAULT_LOCK_TIMEOUT_S = 300.0

_COMMAND: list[str] = []  # set by the front end that knows (``name_process``)


def name_process(command: str) -> None:
    """Tell the locks what this process is (``gitwave sync``): the command line
    knows its verb better than ``sys.argv`` guessing does."""
    _COMMAND[:] = [command]


def process_command() -> str:
    """What this process is, for the lock row: ``gitwave sync``, ``gitwave run``."""
    if _COMMAND:
        return _COMMAND[0]
    argv = sys.argv
    program = Path(argv[0]).name if argv and argv[0] else "python"
    if program in ("__main__.py", "cli", "-m", "-c"):
        program = "gitwave"
    verb = next((a for a in argv[1:] if not a.startswith("-")), "")
    return f"{program} {verb}".strip()


def hostname() -> str:
    """This host's name, as a lock row and the history name it."""
    # socket (with selectors and array) is imported by the commands that write
    # a lock or a history row, not by every command.
    import socket

    return socket.gethostname()
