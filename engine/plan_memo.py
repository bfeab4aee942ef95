"""What an earlier plan found in sync, kept across processes, so a fresh plan
of objects nobody changed compares two digests instead of two manifests.

Whether a desired object is in sync with the live one (``diff.diff_manifest``,
``diff.removed_fields``, the tracking id) depends on nothing but the desired
object (with the fields its app ignores and its tracking id) and the live
object. So a plan's answer "nothing to do" can be kept under a digest of
each: when a later plan meets the same desired digest and the target reports
the same live digest (``Live.digest``: the sandbox hashes the JSON it
stores), the answer is the same. An edit on either side (a commit, a live
edit) changes a digest, and the two objects are compared in full again:
drift is never hidden by the memo. Secrets and objects holding values taken
from a Secret get no digest and are always compared in full (a digest of a
guessable value stands for it).

Only apps of ``MIN_OBJECTS`` or more keep a memo. Entries are kept in
``$GITWAVE_CACHE/plans``, one signed plain-data file per app
and gitwave code (``SignedFiles``), replaced after each plan by what that plan
found in sync. A file that is missing, unsigned or from other code is no
memo: every object is compared.

The pre-flight (``engine.validate``) keeps the same way, in
``$GITWAVE_CACHE/checks``, the desired digests of the objects whose built-in
schema check passed, per app and Kubernetes release: an object with the same
digest is not checked against its schema again.
"""

from __future__ import annotations

import functools
import hashlib
import marshal
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from gitwave.engine.model import Action, Live, Owner, Plan, Resource, ResourceKey
from gitwave.engine.render.disk_cache import SignedFiles

__all__ = ["Memo", "desired_digest", "in_sync", "memo_entries", "memo_store"]

FORMAT = 2  # 2: desired digests of marshal's bytes, not JSON's
# Apps with fewer desired objects compare them all: their comparison takes
# milliseconds, and a fleet of small apps would otherwise write a file each.
MIN_OBJECTS = 100

# An object's key as text, then its desired and live digests.
Memo = Mapping[str, Sequence[str]]


def desired_digest(resource: Resource, *, ignore: Sequence[str], owner: Owner) -> str:
    """A digest of what a plan compares on the desired side; "" when the object
    gets none (a Secret, values from a Secret, a value marshal cannot hold)."""
    if resource.is_secret or resource.masked_values:
        return ""
    try:
        # marshal, version 0: about 3x faster than json.dumps over 10,000 objects,
        # and its bytes depend on the values only (no back-references or
        # interned-string marks, which follow reference counts); equal bytes
        # are equal values, since marshal reads them back.
        data = marshal.dumps(
            (
                FORMAT,
                resource.api_version,
                resource.manifest,
                tuple(ignore),
                owner.app,
                owner.source,
                # Only when set, so the command line's digests stay as they were.
                *((owner.scope,) if owner.scope else ()),
            ),
            0,
        )
    except ValueError:
        return ""  # a value marshal cannot hold: compared in full every time
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def in_sync(
    memo: Memo,
    desired: Mapping[ResourceKey, str],
    live: Mapping[ResourceKey, Live | None],
) -> frozenset[ResourceKey]:
    """The keys an earlier plan found in sync with exactly these two objects."""
    found = []
    for key, digest in desired.items():
        seen = live.get(key)
        if not digest or seen is None or not seen.digest:
            continue
        entry = memo.get(str(key))
        if entry is not None and entry[0] == digest and entry[1] == seen.digest:
            found.append(key)
    return frozenset(found)


def memo_entries(
    plan: Plan,
    desired: Mapping[ResourceKey, str],
    live: Mapping[ResourceKey, Live | None],
) -> dict[str, list[str]]:
    """What ``plan`` found in sync, as the memo keeps it."""
    entries: dict[str, list[str]] = {}
    for wave in plan.waves:
        for task in wave.tasks:
            if task.action is not Action.NONE:
                continue
            digest = desired.get(task.key, "")
            seen = live.get(task.key)
            if digest and seen is not None and seen.digest:
                entries[str(task.key)] = [digest, seen.digest]
    return entries


class MemoStore:
    """The memo files of one cache directory."""

    def __init__(self, root: Path) -> None:
        self._files = SignedFiles(root)
        # What passed the pre-flight schema check: beside, in ``checks``.
        self._checks = SignedFiles(root.with_name("checks"))
        self.hits = 0  # objects a plan did not compare again (what a test reads)

    def load(self, app: str) -> dict[str, list[str]]:
        document = self._files.read(_key_text(app))
        if not isinstance(document, dict) or document.get("key") != _key_text(app):
            return {}
        entries = document.get("entries")
        return entries if isinstance(entries, dict) else {}

    def save(self, app: str, entries: dict[str, list[str]], *, before: Memo) -> None:
        """Replace the app's memo with ``entries`` (not written when unchanged)."""
        if entries == before:
            return
        self._files.write(_key_text(app), {"key": _key_text(app), "entries": entries})

    def load_checked(self, app: str, context: str) -> dict[str, str]:
        """The desired digests, by key, of objects whose built-in schema check
        passed in ``context`` (the Kubernetes release and its schemas)."""
        key = _key_text(app, "checked", context)
        document = self._checks.read(key)
        if not isinstance(document, dict) or document.get("key") != key:
            return {}
        entries = document.get("entries")
        return entries if isinstance(entries, dict) else {}

    def save_checked(
        self, app: str, context: str, entries: dict[str, str], *, before: Mapping[str, str]
    ) -> None:
        """Replace what ``load_checked`` returns (not written when unchanged)."""
        if entries == before:
            return
        key = _key_text(app, "checked", context)
        self._checks.write(key, {"key": key, "entries": entries})


def _key_text(app: str, *more: str) -> str:
    return repr((FORMAT, code_identity(), app, *more))


@functools.cache
def code_identity() -> tuple[int, ...]:
    """The mtimes of gitwave's modules: a plan's comparison is code (the diff,
    a target's comparison of values), so other code starts a new memo."""
    package = Path(__file__).resolve().parents[1]
    found = []
    # os.walk and os.stat, not Path.rglob: a third of the time over 300 files,
    # which every plan pays (the pre-flight's memo of a small app's status too).
    for folder in ("engine", "providers"):
        for directory, subdirectories, names in os.walk(package / folder):
            subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__")
            for name in sorted(names):
                if name.endswith(".py"):
                    try:
                        found.append(os.stat(os.path.join(directory, name)).st_mtime_ns)
                    except OSError:
                        found.append(0)
    return tuple(found)


def default_memo_dir() -> Path:
    """``$GITWAVE_CACHE/plans``, else ``$XDG_CACHE_HOME/gitwave/plans``, else
    ``~/.cache/gitwave/plans``."""
    if os.environ.get("GITWAVE_CACHE"):
        return Path(os.environ["GITWAVE_CACHE"]) / "plans"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitwave" / "plans"


_STORES: dict[str, MemoStore] = {}
_LOCK = threading.Lock()


def memo_store() -> MemoStore:
    """The memo store of the current cache directory (``$GITWAVE_CACHE``, …)."""
    root = default_memo_dir()
    with _LOCK:
        return _STORES.setdefault(str(root), MemoStore(root))
