"""Keys for sops from a Kubernetes Secret, as Flux's kustomize-controller reads
``spec.decryption.secretRef``: every ``*.agekey`` entry holds age identities,
every ``*.asc`` entry an armored PGP private key, and ``sops.aws-kms`` the AWS
credentials (YAML: ``aws_access_key_id``, ``aws_secret_access_key``,
``aws_session_token``) for KMS.

The keys reach the sops subprocess only, through its environment (age:
``SOPS_AGE_KEY``; AWS: the standard credential variables; PGP: a private,
throw-away ``GNUPGHOME`` the keys are imported into), on top of gitwave's own
environment, so ``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_KMS`` and keys
configured there still apply. Nothing from Git is ever put there. The value
never shows its keys in ``repr`` and errors name the Secret, never a value.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from gitwave.engine.errors import ValidationError

AGE_SUFFIX = ".agekey"
PGP_SUFFIX = ".asc"
AWS_KMS_ENTRY = "sops.aws-kms"
_AWS_FIELDS = {
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "aws_session_token": "AWS_SESSION_TOKEN",
}


@dataclass(frozen=True)
class SopsKeys:
    """Decryption keys read from one Secret (``source`` names it in messages)."""

    source: str
    age_identities: tuple[str, ...] = field(default=(), repr=False)
    pgp_keys: tuple[bytes, ...] = field(default=(), repr=False)
    aws: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @staticmethod
    def from_secret(manifest: Mapping[str, Any], *, source: str) -> SopsKeys:
        """The keys in a Secret manifest (``data`` base64, or ``stringData``).
        Raises ValidationError naming ``source`` and the entry, never its value."""
        entries: dict[str, bytes] = {}
        data = manifest.get("data")
        if isinstance(data, Mapping):
            for name, value in data.items():
                try:
                    entries[str(name)] = base64.b64decode(str(value or ""), validate=True)
                except binascii.Error:
                    raise ValidationError(source, f"data.{name} is not valid base64") from None
        string_data = manifest.get("stringData")
        if isinstance(string_data, Mapping):
            for name, value in string_data.items():
                entries[str(name)] = str(value or "").encode()
        age: list[str] = []
        pgp: list[bytes] = []
        aws: dict[str, str] = {}
        for name, value in sorted(entries.items()):
            if name.endswith(AGE_SUFFIX):
                age.extend(
                    line.strip()
                    for line in value.decode("utf-8", "replace").splitlines()
                    if line.strip() and not line.lstrip().startswith("#")
                )
            elif name.endswith(PGP_SUFFIX):
                pgp.append(value)
            elif name == AWS_KMS_ENTRY:
                aws = _aws_credentials(value, source)
        if not (age or pgp or aws):
            raise ValidationError(
                source,
                f"holds no sops key (entries named *{AGE_SUFFIX}, *{PGP_SUFFIX} "
                f"or {AWS_KMS_ENTRY})",
                hint="add the age identity as an entry ending in .agekey "
                "(kubectl create secret generic NAME --from-file=age.agekey=KEYFILE)",
            )
        return SopsKeys(source, tuple(age), tuple(pgp), tuple(sorted(aws.items())))

    def secret_values(self) -> tuple[str, ...]:
        """Every value held, for redaction from a tool's messages."""
        return (*self.age_identities, *(v for _, v in self.aws))

    @contextlib.contextmanager
    def environment(self, base: Mapping[str, str]) -> Iterator[dict[str, str]]:
        """``base`` with these keys added, for one sops run; a PGP keyring made
        for it is removed afterwards."""
        env = dict(base)
        if self.age_identities:
            extra = env.get("SOPS_AGE_KEY", "")
            env["SOPS_AGE_KEY"] = "\n".join(filter(None, [extra, *self.age_identities]))
        for name, value in self.aws:
            env[_AWS_FIELDS[name]] = value
        if self.aws:
            # Credentials from the Secret win over a profile of gitwave's own.
            env.pop("AWS_PROFILE", None)
        if not self.pgp_keys:
            yield env
            return
        home = tempfile.mkdtemp(prefix="gitwave-gnupg-")
        try:
            os.chmod(home, 0o700)
            for key in self.pgp_keys:
                _import_pgp(key, home, self.source)
            env["GNUPGHOME"] = home
            yield env
        finally:
            _stop_agent(home)
            shutil.rmtree(home, ignore_errors=True)


def _aws_credentials(value: bytes, source: str) -> dict[str, str]:
    import yaml  # only for an AWS KMS entry; PyYAML is 20 ms of a start

    try:
        parsed = yaml.safe_load(value.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        parsed = None
    if not isinstance(parsed, Mapping):
        raise ValidationError(
            source, f"{AWS_KMS_ENTRY} is not YAML with aws_access_key_id and aws_secret_access_key"
        )
    found = {k: str(parsed[k]) for k in _AWS_FIELDS if parsed.get(k)}
    if "aws_access_key_id" not in found or "aws_secret_access_key" not in found:
        raise ValidationError(
            source, f"{AWS_KMS_ENTRY} needs aws_access_key_id and aws_secret_access_key"
        )
    return found


def _import_pgp(key: bytes, home: str, source: str) -> None:
    gpg = shutil.which("gpg")
    if gpg is None:
        raise ValidationError(source, "holds a PGP key (*.asc) but gpg is not installed")
    proc = subprocess.run(
        [gpg, "--batch", "--quiet", "--import"],
        input=key,
        capture_output=True,
        env={**os.environ, "GNUPGHOME": home},
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        raise ValidationError(source, "a *.asc entry is not a PGP key gpg can import")


def _stop_agent(home: str) -> None:
    """Stop the gpg-agent gpg started for the throw-away keyring (it would outlive it)."""
    gpgconf = shutil.which("gpgconf")
    if gpgconf is None:
        return
    subprocess.run(
        [gpgconf, "--kill", "gpg-agent"],
        env={**os.environ, "GNUPGHOME": home},
        capture_output=True,
        timeout=30,
        check=False,
    )


# The keys of the render running in this thread (``using``): set around one
# render by the caller that read them from the target, read by ``decrypt_file``.
_CURRENT: ContextVar[SopsKeys | None] = ContextVar("gitwave_sops_keys", default=None)


@contextlib.contextmanager
def using(keys: SopsKeys | None) -> Iterator[None]:
    """Make ``keys`` the ones sops gets for renders in this block (this thread)."""
    token = _CURRENT.set(keys)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current() -> SopsKeys | None:
    """The keys set by ``using`` around this render, or None."""
    return _CURRENT.get()


__all__ = ["AGE_SUFFIX", "AWS_KMS_ENTRY", "PGP_SUFFIX", "SopsKeys", "current", "using"]
