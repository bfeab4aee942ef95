"""A Flux source's ``spec.certSecretRef``: the Secret (defined beside the
source, in its namespace) holding ``ca.crt`` and optionally ``tls.crt`` and
``tls.key``, as source-controller reads it, into a ``TlsTrust``. The Secret
is read, never applied; its values never appear in a message."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Any

from gitwave.engine.apps.fields import Reader
from gitwave.engine.model import Resource, ResourceKey
from gitwave.engine.tls_trust import TlsTrust

Find = Callable[[ResourceKey], Resource | None]
_PEM = {
    "ca.crt": "-----BEGIN CERTIFICATE-----",
    "tls.crt": "-----BEGIN CERTIFICATE-----",
    "tls.key": "-----BEGIN ",
}


def cert_secret_trust(
    reader: Reader, spec: Mapping[str, Any], find: Find, namespace: str
) -> TlsTrust | None:
    """The TLS material ``spec.certSecretRef`` names; None without one.
    ValidationError (through ``reader``) naming the field when the Secret is
    not defined beside the source, holds neither ``ca.crt`` nor both
    ``tls.crt`` and ``tls.key``, or a value is not PEM."""
    ref = reader.mapping(spec, "spec.certSecretRef")
    if not ref:
        return None
    name = reader.string(ref, "spec.certSecretRef.name", required=True)
    label = f"spec.certSecretRef: Secret {namespace}/{name}"
    secret = find(ResourceKey("", "Secret", namespace, name))
    if secret is None:
        reader.fail(f"{label} is not defined in this directory")
    values = {key: _value(reader, secret.manifest, key, label) for key in _PEM}
    for key, header in _PEM.items():
        if values[key] and header not in values[key]:
            reader.fail(f"{label}: {key} is not PEM ({header.strip('-')} missing)")
    if bool(values["tls.crt"]) != bool(values["tls.key"]):
        reader.fail(f"{label}: tls.crt and tls.key go together (one is missing)")
    if not values["ca.crt"] and not values["tls.crt"]:
        reader.fail(f"{label} has no ca.crt (nor tls.crt and tls.key)")
    return TlsTrust(ca=values["ca.crt"], cert=values["tls.crt"], key=values["tls.key"])


def _value(reader: Reader, manifest: Mapping[str, Any], key: str, label: str) -> str:
    string_data = manifest.get("stringData")
    if isinstance(string_data, Mapping) and isinstance(string_data.get(key), str):
        return str(string_data[key])
    data = manifest.get("data")
    raw = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(raw, str):
        return ""
    try:
        return base64.b64decode(raw, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        reader.fail(f"{label} data.{key} is not base64 text")


__all__ = ["cert_secret_trust"]
