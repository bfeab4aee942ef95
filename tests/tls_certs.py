"""Self-signed TLS material for tests of sources with a ``certSecretRef``,
made with the real openssl: a CA, a server certificate it signs for
127.0.0.1 and localhost, and a client certificate it signs."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TlsMaterial:
    ca: Path  # ca.crt
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA that signed nothing here: trusting it must fail


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ca(root: Path, name: str) -> tuple[Path, Path]:
    key, cert = root / f"{name}.key", root / f"{name}.crt"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert), cwd=root,
    )  # fmt: skip
    return cert, key


def _signed(root: Path, name: str, ca: tuple[Path, Path], extensions: str) -> tuple[Path, Path]:
    key, csr, cert = root / f"{name}.key", root / f"{name}.csr", root / f"{name}.crt"
    ext = root / f"{name}.ext"
    ext.write_text(extensions)
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
        "-keyout", str(key), "-out", str(csr), cwd=root,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
        "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert), cwd=root,
    )  # fmt: skip
    return cert, key


def make_tls(root: Path) -> TlsMaterial:
    """A fresh CA and the certificates it signs, under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    ca = _ca(root, "test-ca")
    other, _ = _ca(root, "other-ca")
    server = _signed(
        root,
        "server",
        ca,
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    client = _signed(root, "client", ca, "extendedKeyUsage=clientAuth\n")
    return TlsMaterial(ca[0], server[0], server[1], client[0], client[1], other)
