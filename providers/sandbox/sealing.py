"""Secrets at rest in the sandbox: a stored Secret's manifest is sealed with
AES-256-GCM under a key kept beside the database (``sandbox.key``, 0600,
made on first use), so a copy of ``sandbox.db`` (a backup, a support bundle,
a file another user could once read) never shows a Secret's values.

The whole manifest of a Secret is sealed, not only ``data``: its
last-applied annotation and managed fields can hold the values too. The row's
id (``group/Kind/namespace/name``) is the associated data, so a sealed
manifest moved onto another row does not open. Other kinds are stored as they
are. A row written before sealing existed (plain JSON) is still read, and
sealed the next time it is written.

The key beside the database protects copies of the database, not the state
directory as a whole: whoever can read the directory can read both (the
directory is 0700; an OS keyring would be the next step).
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from gitwave.engine.errors import UnreachableError

if TYPE_CHECKING:
    # cryptography (0.1-0.3 s to import) only once a Secret is stored or read.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_FILE = "sandbox.key"
SEALED_PREFIX = "aesgcm1:"
_NONCE_BYTES = 12  # the size GCM is made for; random per seal
_KEY_BITS = 256


class Sealer:
    """Seals and opens manifests with the key at ``key_path``: read when first
    needed, created (0600) when first needed to seal. Not thread-safe by
    itself (the sandbox store is used under a lock)."""

    def __init__(self, key_path: Path) -> None:
        self.key_path = key_path
        self._aead: AESGCM | None = None

    def seal(self, row_id: str, text: str) -> str:
        """``text`` encrypted and authenticated for row ``row_id``, as text."""
        aead = self._cipher(create=True)
        nonce = os.urandom(_NONCE_BYTES)
        sealed = nonce + aead.encrypt(nonce, text.encode("utf-8"), row_id.encode("utf-8"))
        return SEALED_PREFIX + base64.b64encode(sealed).decode("ascii")

    def open(self, row_id: str, stored: str) -> str:
        """The text ``seal`` sealed; ``stored`` as is when it was never sealed.
        Raises UnreachableError when the key is missing or another one."""
        if not stored.startswith(SEALED_PREFIX):
            return stored
        from cryptography.exceptions import InvalidTag

        try:
            sealed = base64.b64decode(stored[len(SEALED_PREFIX) :], validate=True)
            aead = self._cipher(create=False, row_id=row_id)
            nonce, body = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
            return aead.decrypt(nonce, body, row_id.encode("utf-8")).decode("utf-8")
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise UnreachableError(
                f"sandbox state {self.key_path.parent}",
                f"{row_id} is encrypted with another key than {self.key_path.name} "
                "(was the key file replaced or the database copied without it?); "
                "restore the key file, or start from an empty state directory",
            ) from exc

    def _cipher(self, *, create: bool, row_id: str = "") -> AESGCM:
        if self._aead is None:
            key = _read_key(self.key_path)
            if key is None:
                if not create:
                    raise UnreachableError(
                        f"sandbox state {self.key_path.parent}",
                        f"{row_id} is stored encrypted but the key file {self.key_path.name} "
                        "is missing; restore it, or start from an empty state directory",
                    )
                key = _create_key(self.key_path)
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            self._aead = AESGCM(key)
        return self._aead


def _read_key(path: Path) -> bytes | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreachableError(f"sandbox key {path}", str(exc)) from exc
    try:
        key = base64.b64decode(text, validate=True)
    except binascii.Error:
        key = b""
    if len(key) != _KEY_BITS // 8:
        raise UnreachableError(
            f"sandbox key {path}",
            "not a key gitwave made (32 bytes, base64); restore it or start from an "
            "empty state directory",
        )
    return key


def _create_key(path: Path) -> bytes:
    """A new key at ``path`` (0600), unless another process made one first:
    the key is written to a private temporary file and linked into place,
    which fails if the name exists, so no one reads a half-written key."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = AESGCM.generate_key(bit_length=_KEY_BITS)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="ascii") as out:
            out.write(base64.b64encode(key).decode("ascii") + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:  # another process made one first: use it
            return _read_key(path) or key
    except OSError as exc:
        raise UnreachableError(f"sandbox key {path}", str(exc)) from exc
    finally:
        os.unlink(temporary)
    return key


__all__ = ["KEY_FILE", "SEALED_PREFIX", "Sealer"]
