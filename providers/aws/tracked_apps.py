"""Which apps may have objects in the embedded AWS emulator's snapshot.

A ``status`` or ``plan`` of an app with no cloud object must not start the
emulator (moto and boto3: seconds), yet an app whose cloud objects were all
removed from Git still needs its leftovers found, so once a snapshot exists
every app used to start it. This file beside the snapshot names the apps that
may hold objects there: an app is added before any of its objects is
written, and dropped once a look finds none. An app it does not name holds
nothing there, but only when the file was started together with the snapshot
(``complete``): a snapshot an older gitwave wrote has no file, and every app
starts the emulator as before.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

INDEX_FILE = "aws-emulator-apps.json"
# The emulator's snapshot beside it (``embedded``): named here so a target that
# only asks whether one exists does not import the emulator's module (pickle).
SNAPSHOT_FILE = "aws-emulator.pickle"
_FORMAT = 1


class TrackedApps:
    """``state_dir/aws-emulator-apps.json``: the apps that may hold emulator objects."""

    def __init__(self, state_dir: Path) -> None:
        self._path = state_dir / INDEX_FILE

    def _read(self) -> set[str] | None:
        """The apps named; None when the file is absent or not one gitwave wrote."""
        try:
            data = json.loads(self._path.read_text())
        except (OSError, ValueError):
            return None
        apps = data.get("apps") if isinstance(data, dict) else None
        if data.get("format") != _FORMAT or not isinstance(apps, list):
            return None
        return {a for a in apps if isinstance(a, str)}

    def may_hold(self, app: str) -> bool:
        """False only when the file is complete and does not name ``app``."""
        apps = self._read()
        return apps is None or app in apps

    def start(self) -> None:
        """A new, empty snapshot is about to be started: the file starts with it."""
        with self._locked():
            self._write(set())

    def note(self, app: str, *, holds: bool) -> None:
        """Record that ``app`` may hold objects (before writing one), or holds
        none (after a look found none). Nothing without a complete file."""
        with self._locked():
            apps = self._read()
            if apps is None or (app in apps) == holds:
                return
            self._write(apps | {app} if holds else apps - {app})

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # Two gitwave processes of one state directory: no lost update.
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write(self, apps: set[str]) -> None:
        text = json.dumps({"format": _FORMAT, "apps": sorted(apps)})
        fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=".aws-apps-")
        try:
            with os.fdopen(fd, "w") as out:
                out.write(text)
            os.replace(tmp, self._path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


__all__ = ["INDEX_FILE", "TrackedApps"]
