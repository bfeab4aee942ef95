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

from gitwave.engine.model import FieldChange, Manifest, Resource, ResourceKey

__all__ = [
    "LAST_APPLIED_ANNOTATION",
    "MASK",
    "SECRET_DATA_FIELDS",
    "is_secret_key",
    "is_secret_manifest",
    "is_secret_path",
    "mask_change",
    "mask_like",
    "mask_secret_manifest",
    "mask_values",
    "redact",
    "redact_value",
    "secret_values",
    "shown_manifest",
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


def redact_value(value: Any, secrets: Iterable[str]) -> Any:
    """``value`` (a JSON-like tree) with every secret masked in every string,
    key or scalar; a number or boolean whose text is a secret reads ``***``
    too (``replicas: ${count}`` makes one). The input is not changed."""
    hidden = tuple(sorted({s for s in secrets if s}, key=lambda s: (-len(s), s)))
    if not hidden:
        return value
    return _redact_tree(value, hidden, frozenset(hidden))


def _redact_tree(value: Any, hidden: tuple[str, ...], exact: frozenset[str]) -> Any:
    if isinstance(value, str):
        return redact(value, hidden) if any(s in value for s in hidden) else value
    if isinstance(value, dict):
        return {
            _redact_tree(k, hidden, exact): _redact_tree(v, hidden, exact) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact_tree(v, hidden, exact) for v in value]
    if isinstance(value, bool) or value is None:
        return MASK if value is not None and str(value).lower() in exact else value
    if isinstance(value, int | float) and str(value) in exact:
        return MASK
    return value


def mask_values(change: FieldChange, secrets: Iterable[str]) -> FieldChange:
    """``change`` with ``secrets`` masked in its live and desired values (and
    path: a map key may hold one); an unset side stays None. Where the desired
    value holds a secret, or the field goes, the live value is masked whole:
    it may hold the secret's previous value, which no longer matches."""
    hidden = tuple(secrets)
    if not hidden:
        return change
    desired = redact_value(change.desired, hidden)
    live = change.live
    if live is not None and (change.desired is None or desired != change.desired):
        live = MASK
    return FieldChange(redact(change.path, hidden), change.op, redact_value(live, hidden), desired)


def mask_like(live: Any, desired: Any, secrets: Iterable[str]) -> Any:
    """``live`` with the secrets masked, and masked whole at every path where
    ``desired`` holds one (the live value there may be an older secret)."""
    hidden = tuple(secrets)
    if not hidden:
        return live
    return _mask_like(redact_value(live, hidden), desired, hidden)


def _mask_like(live: Any, desired: Any, hidden: tuple[str, ...]) -> Any:
    if isinstance(desired, str):
        return MASK if live is not None and any(s in desired for s in hidden) else live
    if isinstance(desired, dict) and isinstance(live, dict):
        return {k: _mask_like(v, desired.get(k), hidden) for k, v in live.items()}
    if isinstance(desired, list) and isinstance(live, list):
        return [
            _mask_like(v, desired[i] if i < len(desired) else None, hidden)
            for i, v in enumerate(live)
        ]
    return live


def shown_manifest(resource: Resource) -> Manifest:
    """The manifest of ``resource`` as any output may show it: a Secret's values
    masked, and the text secret values became in another object (Flux
    postBuild ``substituteFrom`` a Secret, ``Resource.masked_values``) too."""
    manifest: Manifest = dict(resource.manifest)
    if resource.is_secret:
        manifest = mask_secret_manifest(manifest)
    if resource.masked_values:
        manifest = redact_value(manifest, resource.masked_values)
    return manifest
