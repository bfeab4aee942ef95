"""Connection details: the secret values a composite exposes (endpoint, password).

Values are held as bytes in :class:`ConnectionDetails`, which never prints
them: its repr, str and every error message show key names only. They come
from a composed resource's connection Secret and the ``connectionDetails``
entries of its patch-and-transform template.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from gitwave.compositions.functions import FunctionError
from gitwave.compositions.values import to_json
from gitwave.engine.api import MISSING_FIELD, get_field
from gitwave.engine.model import Manifest, ResourceKey

__all__ = [
    "ConnectionDetails",
    "secret_data",
    "secret_key_of",
    "template_connection_details",
    "value_bytes",
]


@dataclass(frozen=True)
class ConnectionDetails(Mapping[str, bytes]):
    """Key → secret bytes. A Mapping whose repr and str list the keys only."""

    _values: Mapping[str, bytes] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_values", MappingProxyType(dict(sorted(self._values.items()))))

    def __getitem__(self, key: str) -> bytes:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"ConnectionDetails(keys={list(self._values)!r})"

    __str__ = __repr__

    def __hash__(self) -> int:
        return hash(tuple(self._values.items()))

    def filtered(self, keys: tuple[str, ...] | None) -> ConnectionDetails:
        """Only ``keys`` (all when None): an XRD's ``connectionSecretKeys``."""
        if keys is None:
            return self
        return ConnectionDetails({k: v for k, v in self._values.items() if k in keys})

    def merged(self, other: Mapping[str, bytes]) -> ConnectionDetails:
        return ConnectionDetails({**self._values, **other})


def value_bytes(value: Any) -> bytes:
    """A field value as a connection detail: text as UTF-8, anything else as JSON."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return to_json(value).encode()


def secret_key_of(manifest: Mapping[str, Any]) -> ResourceKey | None:
    """The Secret a managed resource writes its connection details to
    (``spec.writeConnectionSecretToRef``), or None when it writes none."""
    ref = get_field(manifest, "spec.writeConnectionSecretToRef")
    if not isinstance(ref, Mapping) or not isinstance(ref.get("name"), str) or not ref["name"]:
        return None
    namespace = ref.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        namespace = get_field(manifest, "metadata.namespace")
        namespace = namespace if isinstance(namespace, str) else ""
    return ResourceKey("", "Secret", namespace, ref["name"])


def secret_data(secret: Manifest | None) -> dict[str, bytes]:
    """The decoded data of a live Secret (``data`` is base64, ``stringData`` text);
    a value that is not valid base64 is skipped rather than guessed."""
    if not isinstance(secret, Mapping):
        return {}
    out: dict[str, bytes] = {}
    data = secret.get("data")
    if isinstance(data, Mapping):
        for key, encoded in data.items():
            if isinstance(encoded, str):
                try:
                    out[str(key)] = base64.b64decode(encoded, validate=True)
                except binascii.Error:
                    continue
            elif isinstance(encoded, bytes):
                out[str(key)] = encoded
    string_data = secret.get("stringData")
    if isinstance(string_data, Mapping):
        for key, text in string_data.items():
            if isinstance(text, str):
                out[str(key)] = text.encode()
    return out


def template_connection_details(
    template: Mapping[str, Any], observed_entry: Mapping[str, Any] | None, where: str
) -> dict[str, bytes]:
    """The connection details a patch-and-transform resource template's
    ``connectionDetails`` take from its observed resource (``observed_entry``:
    the resource and its connection Secret's data); empty when it is not observed.

    Raises FunctionError naming ``where`` and the entry for a malformed entry.
    """
    details = template.get("connectionDetails")
    if not details or observed_entry is None:
        return {}
    if not isinstance(details, list):
        raise FunctionError(f"{where}: connectionDetails must be a list")
    observed = observed_entry.get("resource") or {}
    secret: Mapping[str, bytes] = observed_entry.get("connectionDetails") or {}
    out: dict[str, bytes] = {}
    for number, detail in enumerate(details):
        if not isinstance(detail, Mapping):
            raise FunctionError(f"{where}, connectionDetails[{number}] must be an object")
        kind = detail.get("type") or _detail_type(detail)
        name = detail.get("name")
        if kind == "FromConnectionSecretKey":
            key = detail.get("fromConnectionSecretKey")
            if not isinstance(key, str) or not key:
                raise FunctionError(
                    f"{where}, connectionDetails[{number}]: needs fromConnectionSecretKey"
                )
            if key in secret:
                out[name if isinstance(name, str) and name else key] = secret[key]
            continue
        if not isinstance(name, str) or not name:
            raise FunctionError(f"{where}, connectionDetails[{number}] ({kind}): needs a name")
        if kind == "FromFieldPath":
            path = detail.get("fromFieldPath")
            if not isinstance(path, str) or not path:
                raise FunctionError(f"{where}, connectionDetails[{number}]: needs fromFieldPath")
            value = get_field(observed, path)
            if value is not MISSING_FIELD and value is not None:
                out[name] = value_bytes(value)
        elif kind == "FromValue":
            value = detail.get("value")
            if not isinstance(value, str):
                raise FunctionError(f"{where}, connectionDetails[{number}]: needs a string value")
            out[name] = value.encode()
        else:
            raise FunctionError(
                f"{where}, connectionDetails[{number}]: unknown type {kind!r}; use "
                "FromConnectionSecretKey, FromFieldPath or FromValue"
            )
    return out


def _detail_type(detail: Mapping[str, Any]) -> str:
    if "fromConnectionSecretKey" in detail:
        return "FromConnectionSecretKey"
    if "fromFieldPath" in detail:
        return "FromFieldPath"
    if "value" in detail:
        return "FromValue"
    return "?"
