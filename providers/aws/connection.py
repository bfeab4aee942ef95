"""Connection Secrets and master passwords.

A DBInstance with ``writeConnectionSecretToRef`` gets a Secret (``v1``, type
``connection.crossplane.io/v1alpha1``, keys ``endpoint``, ``port``,
``username``, ``password``) written through the ``secret_writer`` the caller
gives — the Kubernetes-side target's apply. The password exists in exactly
three places: AWS, that Secret, and this process while a request is in
flight; while it is, botocore's debug log lines are scrubbed of it.
"""

from __future__ import annotations

import base64
import logging
import secrets
import string
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from gitwave.engine.mask import redact
from gitwave.engine.model import ChangeSetEntry, Resource, ResourceKey

from .managed import SecretRef

# The Kubernetes-side apply: writes one Secret, returns what it did.
SecretWriter = Callable[[Resource], ChangeSetEntry]

CONNECTION_SECRET_TYPE = "connection.crossplane.io/v1alpha1"
ANNOTATION_CONNECTION_SECRET_OF = "gitwave.dev/connection-secret-of"
PASSWORD_KEY = "password"

# RDS refuses / " @ and spaces in a master password; letters and digits are safe everywhere.
_PASSWORD_ALPHABET = string.ascii_letters + string.digits
_PASSWORD_LENGTH = 32

# Loggers that may print request bodies or signed payloads at DEBUG.
_SCRUBBED_LOGGERS = (
    "botocore.endpoint",
    "botocore.auth",
    "botocore.parsers",
    "botocore.hooks",
    "botocore.retryhandler",
    "botocore.httpsession",
    "urllib3.connectionpool",
)


def generate_password() -> str:
    """A random master password (32 letters and digits)."""
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(_PASSWORD_LENGTH))


@dataclass(frozen=True, slots=True)
class PendingSecret:
    """A connection Secret to complete once the instance is available."""

    ref: SecretRef
    username: str
    password: str | None = field(repr=False)


def connection_secret(
    ref: SecretRef,
    *,
    owner: ResourceKey,
    details: Mapping[str, str],
    password: str | None,
) -> Resource:
    """The connection Secret for ``owner``: ``details`` plus the password."""
    data = {k: v for k, v in details.items() if v}
    if password:
        data[PASSWORD_KEY] = password
    return secret_resource(ref, owner=owner, data=data, type_=CONNECTION_SECRET_TYPE)


def secret_resource(
    ref: SecretRef, *, owner: ResourceKey, data: Mapping[str, str], type_: str = "Opaque"
) -> Resource:
    """A Secret written on behalf of ``owner`` (values base64-encoded under ``data``).

    It carries no ``gitwave.dev/app`` label: it is not in Git, so an app that
    tracked it would prune it on the next sync."""
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": ref.name,
            "namespace": ref.namespace,
            "annotations": {ANNOTATION_CONNECTION_SECRET_OF: str(owner)},
        },
        "type": type_,
        "data": {k: base64.b64encode(v.encode()).decode("ascii") for k, v in sorted(data.items())},
    }
    return Resource(ResourceKey("", "Secret", ref.namespace, ref.name), "v1", manifest)


class _Scrubber(logging.Filter):
    """Replaces registered secrets in log records with ``***``."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: dict[str, int] = {}

    def add(self, secret: str) -> None:
        with self._lock:
            self._secrets[secret] = self._secrets.get(secret, 0) + 1

    def discard(self, secret: str) -> None:
        with self._lock:
            count = self._secrets.get(secret, 0) - 1
            if count > 0:
                self._secrets[secret] = count
            else:
                self._secrets.pop(secret, None)

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            hidden = tuple(self._secrets)
        if hidden:
            message = record.getMessage()
            cleaned = redact(message, hidden)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True


_SCRUBBER = _Scrubber()
_installed = False
_install_lock = threading.Lock()


@contextmanager
def scrubbed(secret: str | None) -> Iterator[None]:
    """While the block runs, ``secret`` is replaced in AWS client log lines."""
    global _installed
    if not secret:
        yield
        return
    with _install_lock:
        if not _installed:
            for name in _SCRUBBED_LOGGERS:
                logging.getLogger(name).addFilter(_SCRUBBER)
            _installed = True
    _SCRUBBER.add(secret)
    try:
        yield
    finally:
        _SCRUBBER.discard(secret)
