"""Connection Secrets and master passwords.

A DBInstance with ``writeConnectionSecretToRef`` gets a Secret (``v1``, type
``connection.crossplane.io/v1alpha1``, keys ``endpoint``, ``port``,
``username``, ``password``) written through the ``secret_writer`` the caller
gives — the Kubernetes-side target's apply. The password exists in exactly
three places: AWS, that Secret, and this process while a request is in
flight; while it is, botocore's debug log lines are scrubbed of it.

``ConnectionSecrets`` is the AWS provider's side of this: it finds or makes a
master password, writes the connection Secret, and completes one that waited
for its instance to become available.
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

from gitwave.engine.api import redact
from gitwave.engine.errors import ProviderError
from gitwave.engine.model import ChangeAction, ChangeSetEntry, Resource, ResourceKey

from .config import SecretReader
from .kinds import KindHandler, Observed
from .managed import Managed, SecretRef, secret_key_ref

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


class ConnectionSecrets:
    """Master passwords and connection Secrets of the objects one AWS provider
    manages. Thread-safe.

    ``writer`` is the Kubernetes-side apply, ``reader`` reads one Secret key
    from there; either may be None when the caller has no Kubernetes side, and
    then an object that needs it is refused with a ProviderError.
    """

    def __init__(self, *, writer: SecretWriter | None, reader: SecretReader | None) -> None:
        self.writer = writer
        self.reader = reader
        self._lock = threading.Lock()
        self._pending: dict[ResourceKey, PendingSecret] = {}

    def create_password(self, handler: KindHandler, managed: Managed) -> str | None:
        """The master password a create uses (None for kinds without one): the
        referenced Secret's, else a generated one. ProviderError when neither is
        possible."""
        if not handler.needs_password:
            return None
        key, fp = managed.key, managed.for_provider
        ref_field, generate_field = handler.password_ref_field, handler.autogenerate_field
        ref_value = fp.get(ref_field)
        if ref_value is not None:
            ref = secret_key_ref(key, f"spec.forProvider.{ref_field}", ref_value)
            found = self._read(key, ref.namespace, ref.name, ref.key)
            if found:
                return found
            if fp.get(generate_field) is True:
                # Crossplane stores a generated password where the ref points.
                password = generate_password()
                self._write(
                    secret_resource(
                        SecretRef(ref.namespace, ref.name), owner=key, data={ref.key: password}
                    )
                )
                return password
            raise ProviderError(
                key,
                f"spec.forProvider.{ref_field}: Secret {ref.namespace}/"
                f"{ref.name} has no key {ref.key!r}",
            )
        if fp.get(generate_field) is True:
            return generate_password()
        raise ProviderError(
            key,
            f"a DB instance needs a master password: set spec.forProvider.{ref_field} or "
            f"{generate_field}: true",
        )

    def write(
        self, handler: KindHandler, managed: Managed, observed: Observed, password: str | None
    ) -> list[str]:
        """Write (or start) the connection Secret; the messages to report."""
        ref = managed.connection_secret
        if ref is None or not handler.needs_password:
            return []
        key = managed.key
        if password is None:
            password = self._known_password(handler, managed)
            if password is None:
                # Writing without it would drop the password the Secret holds.
                return [f"connection secret {ref} left as it is: the password is not known"]
        details = handler.connection(observed)
        if observed.readiness.ready:
            written = self._write(
                connection_secret(ref, owner=key, details=details, password=password)
            )
            with self._lock:
                self._pending.pop(key, None)
            if written.action is ChangeAction.UNCHANGED:
                return [f"connection secret {ref} up to date"]
            return [f"connection secret {ref} written"]
        username = details.get("username", "")
        self._write(
            connection_secret(ref, owner=key, details={"username": username}, password=password)
        )
        with self._lock:
            self._pending[key] = PendingSecret(ref, username, password)
        return [f"connection secret {ref} waits for the instance to become available"]

    def complete_pending(self, handler: KindHandler, key: ResourceKey, observed: Observed) -> None:
        """Finish the connection Secret that waited for ``key`` to become ready."""
        with self._lock:
            pending = self._pending.get(key) if observed.readiness.ready else None
        if pending is None:
            return
        self._write(
            connection_secret(
                pending.ref,
                owner=key,
                details=handler.connection(observed),
                password=pending.password,
            )
        )
        with self._lock:
            self._pending.pop(key, None)

    def forget(self, key: ResourceKey) -> None:
        """Drop the Secret waiting for ``key`` (the object is gone or left alone)."""
        with self._lock:
            self._pending.pop(key, None)

    def _known_password(self, handler: KindHandler, managed: Managed) -> str | None:
        """The password as the referenced Secret or the connection Secret has it."""
        key = managed.key
        ref_field = handler.password_ref_field
        ref_value = managed.for_provider.get(ref_field)
        if ref_value is not None:
            ref = secret_key_ref(key, f"spec.forProvider.{ref_field}", ref_value)
            found = self._read(key, ref.namespace, ref.name, ref.key)
            if found:
                return found
        if managed.connection_secret is not None and self.reader is not None:
            secret = managed.connection_secret
            return self._read(key, secret.namespace, secret.name, PASSWORD_KEY)
        return None

    def _read(self, key: ResourceKey, namespace: str, name: str, field: str) -> str | None:
        if self.reader is None:
            raise ProviderError(
                key, f"reading Secret {namespace}/{name} needs a secret reader, and none was given"
            )
        return self.reader(namespace, name, field)

    def _write(self, secret: Resource) -> ChangeSetEntry:
        if self.writer is None:
            raise ProviderError(
                secret.key,
                "writing connection details needs a secret writer (the Kubernetes-side "
                "target), and none was given",
            )
        entry = self.writer(secret)
        if entry.action.is_failure:
            raise ProviderError(secret.key, f"connection secret not written: {entry.message}")
        return entry


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
