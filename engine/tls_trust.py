"""TLS material a Flux source's ``certSecretRef`` names (a CA to trust, and
optionally a client certificate and key), and the two ways gitwave uses it:
an ``ssl.SSLContext`` for the standard library's HTTPS (OCI registries, Helm
repository indexes) and private files for a tool that wants paths (``helm
pull --ca-file=``, botocore's ``verify``).

The files are written 0600 in a 0700 directory of their own and removed when
the ``with`` block ends; their paths are gitwave's, never a value from Git, so
nothing read from Git is ever a flag. The key is never part of a repr or a
message.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gitwave.engine.private_files import FILE_MODE

if TYPE_CHECKING:
    import ssl


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the written material (None: not given)."""

    ca_file: Path | None
    cert_file: Path | None
    key_file: Path | None


@dataclass(frozen=True)
class TlsTrust:
    """PEM text: ``ca`` (``ca.crt``) is trusted besides the system's CAs;
    ``cert`` and ``key`` (``tls.crt``/``tls.key``) authenticate the client."""

    ca: str = ""
    cert: str = field(default="", repr=False)
    key: str = field(default="", repr=False)

    @contextmanager
    def files(self) -> Iterator[TlsFiles]:
        """The material as private files for as long as the block runs."""
        with tempfile.TemporaryDirectory(prefix="gitwave-tls-") as tmp:
            root = Path(tmp)  # mkdtemp makes it 0700
            yield TlsFiles(
                ca_file=_write(root / "ca.crt", self.ca),
                cert_file=_write(root / "tls.crt", self.cert),
                key_file=_write(root / "tls.key", self.key),
            )

    def ssl_context(self) -> ssl.SSLContext:
        """A verifying client context trusting ``ca`` (and the system's CAs),
        presenting ``cert``/``key`` when given. ssl.SSLError for PEM text
        that is not a certificate or key."""
        # ssl is imported here, not with the module: every `gitwave status`
        # imports this module (the bucket source's types) and never needs it.
        import ssl

        context = ssl.create_default_context()
        if self.ca:
            context.load_verify_locations(cadata=self.ca)
        if self.cert and self.key:
            # load_cert_chain reads only files: written privately, removed at once.
            with self.files() as written:
                assert written.cert_file is not None and written.key_file is not None
                context.load_cert_chain(written.cert_file, written.key_file)
        return context


def _write(path: Path, text: str) -> Path | None:
    if not text:
        return None
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


__all__ = ["TlsFiles", "TlsTrust"]
