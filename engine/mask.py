"""Secret masking: what the CLI, the TUI, the store and the diff use before a
Secret's content is shown, stored or put in a message.

A masked value is always the same three characters, whatever the value, so not
even its length is revealed.
"""

from __future__ import annotations

import base64
import binascii
import copy
from collections.abc import Iterable, Mapping
from typing import Any

from gitwave.engine.model import FieldChange, Manifest, ResourceKey

__all__ = [
    "LAST_APPLIED_ANNOTATION",
    "MASK",
    "SECRET_DATA_FIELDS",
    "is_secret_key",
    "is_secret_manifest",
    "is_secret_path",
    "mask_change",
    "mask_secret_manifest",
    "redact",
    "secret_values",
]

MASK = "***"
SECRET_DATA_FIELDS = ("data", "stringData")
# `kubectl apply` copies the whole object, values included, into this annotation.
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
# A change reported at one of these paths carries a whole map that may hold a
# last-applied annotation, and so a Secret's values.
_WHOLE_METADATA = frozenset({"metadata", "metadata.annotations"})


def is_secret_key(key: ResourceKey) -> bool:
    """True for a core Secret, whose data must never be shown."""
    return key.group == "" and key.kind == "Secret"


def is_secret_manifest(manifest: Mapping[str, Any]) -> bool:
    """True for a manifest of a core ``v1`` Secret."""
    return manifest.get("kind") == "Secret" and manifest.get("apiVersion") == "v1"


def is_secret_path(path: str) -> bool:
    """True when a FieldChange path (``data.password``, ``stringData["tls.key"]``)
    or the last-applied annotation of a Secret can hold a secret value."""
    for field in SECRET_DATA_FIELDS:
        if path == field or path.startswith((f"{field}.", f"{field}[")):
            return True
    return LAST_APPLIED_ANNOTATION in path


def mask_change(change: FieldChange, *, is_secret: bool) -> FieldChange:
    """``change`` with its live and desired values shown as ``***`` when it is a
    change of a Secret (``is_secret``) at a path that can hold a secret value:
    ``data``/``stringData``, the last-applied annotation, or all of
    ``metadata``/``metadata.annotations``. An unset side stays None, so a reader
    still sees an add or a remove. Any other change is returned as it is.

    The diff stage masks with it, and so does everything that shows a change
    (plan text, ``-o json``, the TUI), in case a plan was built elsewhere.
    """
    if not is_secret or not (is_secret_path(change.path) or change.path in _WHOLE_METADATA):
        return change
    return FieldChange(
        change.path,
        change.op,
        None if change.live is None else MASK,
        None if change.desired is None else MASK,
    )


def mask_secret_manifest(manifest: Mapping[str, Any]) -> Manifest:
    """A deep copy of a Secret manifest whose ``data`` and ``stringData`` values
    (and a kubectl last-applied annotation) read ``***``; the keys stay, so a
    reader still sees which entries exist. The input is not changed."""
    masked: Manifest = copy.deepcopy(dict(manifest))
    for field in SECRET_DATA_FIELDS:
        values = masked.get(field)
        if isinstance(values, dict):
            masked[field] = dict.fromkeys(values, MASK)
        elif values is not None:
            masked[field] = MASK
    metadata = masked.get("metadata")
    if isinstance(metadata, dict):
        annotations = metadata.get("annotations")
        if isinstance(annotations, dict) and LAST_APPLIED_ANNOTATION in annotations:
            annotations[LAST_APPLIED_ANNOTATION] = MASK
    return masked


def secret_values(manifest: Mapping[str, Any]) -> tuple[str, ...]:
    """Every form in which a Secret's values may show up in text: each ``data``
    value as written (base64) and decoded, each ``stringData`` value as written
    and base64-encoded. Feed the result to :func:`redact`."""
    found: set[str] = set()
    data = manifest.get("data")
    if isinstance(data, dict):
        for value in data.values():
            text = str(value)
            found.add(text)
            decoded = decode_base64(text)
            if decoded is not None:
                found.add(decoded.decode("utf-8", errors="replace"))
    string_data = manifest.get("stringData")
    if isinstance(string_data, dict):
        for value in string_data.values():
            text = str(value)
            found.add(text)
            found.add(base64.b64encode(text.encode()).decode("ascii"))
    found.discard("")
    return tuple(sorted(found))


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of every non-empty secret replaced by ``***``.

    Longer secrets are replaced first, so a secret that contains another is not
    left half visible. Even a one-character secret is replaced: a mangled error
    message is better than a leaked value.
    """
    for secret in sorted({s for s in secrets if s}, key=lambda s: (-len(s), s)):
        text = text.replace(secret, MASK)
    return text


def decode_base64(text: str) -> bytes | None:
    """The bytes of a base64 string; None when it is not valid base64.

    Line breaks and spaces are skipped, as the API server's decoder skips them.
    """
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
