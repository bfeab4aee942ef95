"""Plain data kept in files of one directory, each signed with the directory's
own key: what ``SignedFiles.read`` returns was written by ``write`` here.

The caches of a fresh `gitwave plan` (renders, graphs, plan memos, schema
index) are such files. They hold ``marshal``'s bytes of plain data (dicts,
lists, strings, numbers), not JSON: a graph entry reads back about a third
faster (a render's 10,000 objects hardly faster: making their dicts is most
of it, and ``gc_paused`` saves more there), and what is read back is
exactly what was written (types too), checked before writing. marshal reads
data, never code it runs, and never pickle's objects; and nothing is decoded
before its signature (HMAC-SHA256, with a key of this cache directory: 0600, in
a 0700 directory) is checked, so an entry not written here (copied in, corrupt,
truncated, of another format, written by another Python whose marshal may
differ: the header names it) is a miss, as if there were no entry.

An entry's signature doubles as a keyed digest of its content (the render
cache's ``content_digest``). The files keep the ``.json`` name of the format
before (``FORMAT`` 1): entries of that format fail the header check, are misses
and are swept by the same eviction as any other entry.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import hmac
import logging
import marshal
import os
import secrets
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gitwave.engine.private_files import private_directory

__all__ = [
    "EVICT_EVERY",
    "HEADER",
    "MAX_ENTRIES",
    "SignedFiles",
    "decoded_frozen",
    "dump",
    "gc_paused",
    "load",
]

_log = logging.getLogger(__name__)

_KEY_FILE = "key"
_KEY_BYTES = 32
# Entries kept per directory, newest first: a few apps at a few commits each.
MAX_ENTRIES = 256
# Writes between two scans for the oldest entries. A scan stats every entry
# (about 2.3 ms at 256): done after each write it was most of the cost of a
# write, and a sync of 1000 apps writes 1000. The directory may so hold up to
# MAX_ENTRIES + EVICT_EVERY - 1 entries per writing process between scans.
EVICT_EVERY = 32
# Before each payload: marshal's format is Python's own and may change between
# releases, so an entry written by another one is a miss, never a misreading.
_HEADER = f"gitwave-marshal {marshal.version} {sys.version_info[0]}.{sys.version_info[1]}\n"
HEADER = _HEADER.encode()


def dump(*parts: Any) -> bytes | None:
    """The payload of ``parts``: each part's marshal bytes after its length,
    so ``load(payload, 1)`` reads the first part alone. None when a part is not
    plain data or would not read back equal (a timestamp, a NaN, a subclass)."""
    chunks = [HEADER]
    for part in parts:
        try:
            data = marshal.dumps(part)
            if marshal.loads(data) != part:
                return None
        except (ValueError, TypeError):
            return None
        chunks.append(len(data).to_bytes(8, "big"))
        chunks.append(data)
    return b"".join(chunks)


def load(payload: bytes, count: int) -> list[Any]:
    """The first ``count`` parts of a payload ``dump`` made; ValueError when it
    is not one (another format or Python, cut short)."""
    if not payload.startswith(HEADER):
        raise ValueError("another format")
    view = memoryview(payload)
    at = len(HEADER)
    found = []
    with gc_paused():
        for _ in range(count):
            size = int.from_bytes(view[at : at + 8], "big")
            at += 8
            if size <= 0 or at + size > len(payload):
                raise ValueError("cut short")
            found.append(marshal.loads(view[at : at + size]))
            at += size
    return found


# Inside ``decoded_frozen`` only (one command's plans).
_FREEZE_AFTER = False


@contextlib.contextmanager
def decoded_frozen() -> Iterator[None]:
    """Inside, what a ``gc_paused`` block decoded is frozen out of the cyclic
    collector (``gc.freeze``) as the block ends, with all the process holds so
    far: for one command's plans (``gitwave plan``), whose renders and graphs
    read back stay alive to its end. Frozen objects are still freed by
    reference counting; on leaving, everything frozen goes back to the oldest
    generation (``gc.unfreeze``), so the cyclic garbage frozen with them is
    collected later, as ever (a test session runs many commands)."""
    global _FREEZE_AFTER
    _FREEZE_AFTER = True
    try:
        yield
    finally:
        _FREEZE_AFTER = False
        gc.unfreeze()


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: for decoding a kept entry, which
    makes many containers that all stay alive, so a collection in between finds
    nothing but walks every young one (the 21 collections of a fresh plan of
    10,000 objects were a tenth of its CPU). Nothing leaks: garbage made inside
    goes at the next collection after, which walks all that was decoded (once,
    not 21 times) unless inside ``decoded_frozen``. Re-enabled on
    leaving unless it was off already (nested, or a caller's)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if _FREEZE_AFTER:
                gc.freeze()
            gc.enable()


class SignedFiles:
    """Plain-data documents in files of one directory, each signed with the
    directory's own key: what ``read`` returns was written by ``write`` here.

    Every failure to read or write is a miss (logged at debug level): these
    files only ever save time.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._secret: bytes | None = None
        # Writes since the last scan; the first write scans (what earlier
        # processes left). A racing thread at worst moves a scan by one write.
        self._unscanned = EVICT_EVERY - 1

    def read(self, key_text: str) -> Any:
        """The decoded document stored under ``key_text``; None when absent
        or not trusted (unsigned, another key, corrupt)."""
        return self.read_signed(key_text)[0]

    def read_signed(self, key_text: str) -> tuple[Any, str]:
        """``read``, and the entry's signature: a keyed digest of exactly the
        bytes the document was decoded from ("" with no document)."""
        payload, signature = self.read_payload(key_text)
        if payload is None:
            return None, ""
        try:
            return load(payload, 1)[0], signature
        except (ValueError, EOFError, TypeError) as exc:
            _log.debug("%s: an entry is unreadable (%s); ignored", self.root, exc)
            return None, ""

    def read_payload(self, key_text: str) -> tuple[bytes | None, str]:
        """The signed bytes stored under ``key_text``, not decoded, and their
        signature; (None, "") when absent or not trusted."""
        path = self._path(key_text)
        try:
            body = path.read_bytes()
        except OSError:
            return None, ""
        try:
            signature, _, payload = body.partition(b"\n")
            secret = self._key(create=False)
            if secret is None or not hmac.compare_digest(signature, self._sign(secret, payload)):
                _log.debug("%s: %s is not signed by this cache; ignored", self.root, path.name)
                return None, ""
            return payload, signature.decode()
        except (ValueError, OSError) as exc:
            _log.debug("%s: %s unreadable (%s); ignored", self.root, path.name, exc)
            return None, ""

    def write(self, key_text: str, document: Any) -> None:
        """Store ``document`` under ``key_text`` unless it would not read back
        equal (a value that is not plain data: a timestamp, a NaN)."""
        payload = dump(document)
        if payload is not None:
            self.write_payload(key_text, payload)

    def write_payload(self, key_text: str, payload: bytes) -> None:
        """Store ``payload`` (``dump``'s bytes) under ``key_text``, signed."""
        try:
            secret = self._key(create=True)
            if secret is None:
                return  # an unusable key file: this cache stays read-nothing
            path = self._path(key_text)
            fd, temp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(self._sign(secret, payload) + b"\n" + payload)
                os.replace(temp, path)  # readers see the whole entry or none
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise
            self._unscanned += 1
            if self._unscanned >= EVICT_EVERY:
                self._unscanned = 0
                self._evict()
        except OSError as exc:
            _log.debug("%s: cannot write (%s)", self.root, exc)

    def _evict(self) -> None:
        """Drop the oldest entries beyond MAX_ENTRIES."""
        entries = []
        for entry in self.root.glob("*.json"):
            with contextlib.suppress(OSError):
                entries.append((entry.stat().st_mtime_ns, entry))
        for _, entry in sorted(entries, reverse=True)[MAX_ENTRIES:]:
            with contextlib.suppress(OSError):
                entry.unlink()

    def clear(self) -> None:
        """Remove every entry (the key stays)."""
        with contextlib.suppress(OSError):
            for entry in self.root.glob("*.json"):
                with contextlib.suppress(OSError):
                    entry.unlink()

    def _path(self, key_text: str) -> Path:
        return self.root / f"{hashlib.sha256(key_text.encode()).hexdigest()}.json"

    @staticmethod
    def _sign(secret: bytes, payload: bytes) -> bytes:
        return hmac.new(secret, payload, hashlib.sha256).hexdigest().encode()

    def _key(self, *, create: bool) -> bytes | None:
        """This directory's signing key; made (0600, in a 0700 directory) when
        ``create`` and absent. Other processes and threads may make it at the
        same time: each writes a whole key to a file of its own and links it
        into place, so the first link wins and nobody reads a partial key."""
        if self._secret is not None:
            return self._secret
        path = self.root / _KEY_FILE
        try:
            secret = path.read_bytes()
        except FileNotFoundError:
            if not create:
                return None
            private_directory(self.root)
            fd, temp = tempfile.mkstemp(dir=self.root, prefix=".key-")  # 0600
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(secrets.token_bytes(_KEY_BYTES))
                with contextlib.suppress(FileExistsError):
                    os.link(temp, path)
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
            secret = path.read_bytes()
        if len(secret) != _KEY_BYTES:
            return None
        self._secret = secret
        return secret
