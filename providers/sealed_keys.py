"""The sealed-secrets controller's key pair as the sandbox keeps it: an RSA key
(0600) and its self-signed certificate, with kubeseal's defaults."""

from __future__ import annotations

import datetime
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from gitwave.providers.sealed_scope import SealError

KEY_FILE = "sealed-secrets.key"
CERT_FILE = "sealed-secrets.crt"
KEY_BITS = 4096  # the controller's default --key-size
CERT_CN = "sealed-secret"
CERT_VALID = datetime.timedelta(days=3650)  # the controller's default --key-ttl


@dataclass(frozen=True)
class KeyPair:
    """A controller's sealing key and its self-signed certificate (PEM files)."""

    key_path: Path
    cert_path: Path

    @staticmethod
    def in_dir(state_dir: Path) -> KeyPair:
        """The key pair kept in ``state_dir`` (made when first used)."""
        return KeyPair(state_dir / KEY_FILE, state_dir / CERT_FILE)

    def ensure(self, *, now: datetime.datetime | None = None) -> KeyPair:
        """Make the key (0600) and certificate when missing; returns self."""
        if self.key_path.is_file() and self.cert_path.is_file():
            return self
        self.key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        start = now or datetime.datetime.now(datetime.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CERT_CN)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + CERT_VALID)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        _write_private(self.key_path, key_pem)
        _write_private(self.cert_path, cert.public_bytes(serialization.Encoding.PEM))
        return self

    def private_key(self) -> rsa.RSAPrivateKey:
        """The sealing key; SealError when it is missing or not RSA."""
        try:
            key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise SealError(f"cannot read the sealing key {self.key_path}: {exc}") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise SealError(f"{self.key_path} is not an RSA key")
        return key

    def certificate_pem(self) -> str:
        """The certificate as PEM text (what ``kubeseal --fetch-cert`` prints)."""
        return self.cert_path.read_text(encoding="ascii")


def _write_private(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def public_key_of_cert(pem: bytes) -> rsa.RSAPublicKey:
    """The RSA key of a PEM certificate; SealError when it is not one or has expired."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise SealError(f"not a PEM certificate: {exc}") from None
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SealError("the certificate does not hold an RSA public key")
    if cert.not_valid_after_utc < datetime.datetime.now(datetime.UTC):
        raise SealError(f"the certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}")
    return key
