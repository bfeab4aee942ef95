"""Connection details: the secret values a composite exposes (endpoint, password).

Values are held as bytes in :class:`ConnectionDetails`, which never prints
them: its repr, str and every error message show key names only. They come
from a composed resource's connection Secret and the ``connectionDetails``
entries of its patch-and-transform template.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from gitwave.compositions.functions import FunctionError
from gitwave.compositions.secret_ref import secret_key_of
from gitwave.compositions.values import to_json
from gitwave.engine.api import MISSING_FIELD, get_field
from gitwave.engine.model import Manifest, ResourceKey

__all__ = [
    "ANNOTATION_CONNECTION_DETAILS",
    "SECRET_REFERENCE_SUFFIX",
    "ConnectionDetails",
    "ConnectionSource",
    "SourceKind",
    "connection_sources",
    "fill_connection_details",
    "secret_data",
    "secret_key_of",
    "source_value",
    "template_connection_details",
    "value_bytes",
]

# On a composite's connection Secret: the details still to fill in at sync
# (see gitwave.compositions.connection_secret).
ANNOTATION_CONNECTION_DETAILS = "gitwave.dev/connection-details"
# The suffix of the reference id that stands for a composed resource's own connection Secret.
SECRET_REFERENCE_SUFFIX = ".connection"


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


class SourceKind(enum.Enum):
    """Where one connection detail comes from (Crossplane's ``connectionDetails[].type``)."""

    FROM_CONNECTION_SECRET_KEY = "FromConnectionSecretKey"
    FROM_FIELD_PATH = "FromFieldPath"
    FROM_VALUE = "FromValue"


@dataclass(frozen=True, slots=True)
class ConnectionSource:
    """One ``connectionDetails`` entry of a resource template: the detail ``name``
    and where its value comes from (``argument``: the connection Secret key,
    the field path or the value, by ``kind``)."""

    name: str
    kind: SourceKind
    argument: str = field(repr=False)


def connection_sources(template: Mapping[str, Any], where: str) -> tuple[ConnectionSource, ...]:
    """The ``connectionDetails`` a patch-and-transform resource template declares.

    Raises FunctionError naming ``where`` and the entry for a malformed entry.
    """
    details = template.get("connectionDetails")
    if not details:
        return ()
    if not isinstance(details, list):
        raise FunctionError(f"{where}: connectionDetails must be a list")
    out: list[ConnectionSource] = []
    for number, detail in enumerate(details):
        if not isinstance(detail, Mapping):
            raise FunctionError(f"{where}, connectionDetails[{number}] must be an object")
        raw_kind = detail.get("type") or _detail_type(detail)
        try:
            kind = SourceKind(raw_kind)
        except ValueError:
            raise FunctionError(
                f"{where}, connectionDetails[{number}]: unknown type {raw_kind!r}; use "
                "FromConnectionSecretKey, FromFieldPath or FromValue"
            ) from None
        name = detail.get("name")
        if kind is SourceKind.FROM_CONNECTION_SECRET_KEY:
            key = detail.get("fromConnectionSecretKey")
            if not isinstance(key, str) or not key:
                raise FunctionError(
                    f"{where}, connectionDetails[{number}]: needs fromConnectionSecretKey"
                )
            out.append(ConnectionSource(name if isinstance(name, str) and name else key, kind, key))
            continue
        if not isinstance(name, str) or not name:
            raise FunctionError(
                f"{where}, connectionDetails[{number}] ({kind.value}): needs a name"
            )
        if kind is SourceKind.FROM_FIELD_PATH:
            path = detail.get("fromFieldPath")
            if not isinstance(path, str) or not path:
                raise FunctionError(f"{where}, connectionDetails[{number}]: needs fromFieldPath")
            out.append(ConnectionSource(name, kind, path))
        else:
            value = detail.get("value")
            if not isinstance(value, str):
                raise FunctionError(f"{where}, connectionDetails[{number}]: needs a string value")
            out.append(ConnectionSource(name, kind, value))
    return tuple(out)


def source_value(
    source: ConnectionSource, observed: Mapping[str, Any], secret: Mapping[str, bytes]
) -> bytes | None:
    """The value of ``source`` from the observed resource and its connection
    Secret's data; None when it is not there (yet)."""
    if source.kind is SourceKind.FROM_VALUE:
        return source.argument.encode()
    if source.kind is SourceKind.FROM_CONNECTION_SECRET_KEY:
        return secret.get(source.argument)
    value = get_field(observed, source.argument)
    if value is MISSING_FIELD or value is None:
        return None
    return value_bytes(value)


def template_connection_details(
    template: Mapping[str, Any], observed_entry: Mapping[str, Any] | None, where: str
) -> dict[str, bytes]:
    """The connection details a patch-and-transform resource template's
    ``connectionDetails`` take from its observed resource (``observed_entry``:
    the resource and its connection Secret's data); empty when it is not observed.

    Raises FunctionError naming ``where`` and the entry for a malformed entry.
    """
    sources = connection_sources(template, where)
    if not sources or observed_entry is None:
        return {}
    observed = observed_entry.get("resource") or {}
    secret: Mapping[str, bytes] = observed_entry.get("connectionDetails") or {}
    out: dict[str, bytes] = {}
    for source in sources:
        value = source_value(source, observed, secret)
        if value is not None:
            out[source.name] = value
    return out


def fill_connection_details(
    manifest: Manifest, refs: Mapping[str, ResourceKey], live: Mapping[str, Manifest]
) -> list[str]:
    """Fill, in place, ``data`` of a composite's connection Secret from the live
    objects ``live`` (by reference id) and drop the annotation.

    Returns the ids whose objects are needed and not in ``live``: the caller
    looks them up and calls again (or gives up: the value is not known yet).
    A field or key that is not set is left out, as Crossplane leaves it out.
    Raises ValueError for a malformed annotation or an id ``refs`` does not list.
    """
    annotations = manifest.get("metadata", {}).get("annotations") or {}
    raw = annotations.get(ANNOTATION_CONNECTION_DETAILS)
    if not raw:
        return []
    entries = json.loads(raw)
    if not isinstance(entries, dict):
        raise ValueError("not a JSON object")
    needed: list[str] = []
    values: dict[str, bytes] = {}
    for name, entry in sorted(entries.items()):
        if not isinstance(entry, dict) or not isinstance(entry.get("from"), str):
            raise ValueError(f"entry {name!r} has no 'from'")
        ident = entry["from"] + (SECRET_REFERENCE_SUFFIX if "secretKey" in entry else "")
        if ident not in refs:
            raise ValueError(f"entry {name!r} reads {ident!r}, which is not referenced")
        if ident not in live:
            needed.append(ident)
            continue
        if "secretKey" in entry:
            value = secret_data(live[ident]).get(str(entry["secretKey"]))
        else:
            found = get_field(live[ident], str(entry.get("fieldPath", "")))
            value = None if found is MISSING_FIELD or found is None else value_bytes(found)
        if value is not None:
            values[str(name)] = value
    if needed:
        return sorted(set(needed))
    data = manifest.get("data")
    data = dict(data) if isinstance(data, Mapping) else {}
    data.update({k: base64.b64encode(v).decode() for k, v in values.items()})
    if data:
        manifest["data"] = dict(sorted(data.items()))
    del annotations[ANNOTATION_CONNECTION_DETAILS]
    return []


def _detail_type(detail: Mapping[str, Any]) -> str:
    if "fromConnectionSecretKey" in detail:
        return "FromConnectionSecretKey"
    if "fromFieldPath" in detail:
        return "FromFieldPath"
    if "value" in detail:
        return "FromValue"
    return "?"
