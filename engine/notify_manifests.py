"""The manifests notifications are read from: where each was found (``file:line``),
its name and namespace, its spec, and a Secret's data."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitwave.engine.errors import ValidationError
from gitwave.engine.mask import decode_base64
from gitwave.engine.notify_config import NotificationConfigError

__all__ = ["Found", "encode_secret_value", "meta_of", "secret_data", "spec_of"]


@dataclass(frozen=True, slots=True)
class Found:
    """One manifest read from the checkout, and where (for error messages)."""

    manifest: Mapping[str, Any]
    where: str  # file:line

    @property
    def ident(self) -> str:
        meta = self.manifest.get("metadata") or {}
        return (
            f"{self.manifest.get('kind')}/{meta.get('namespace') or 'default'}/{meta.get('name')}"
        )


def meta_of(f: Found) -> dict[str, str]:
    """``name`` and ``namespace`` (``default`` when unset) of ``f``."""
    meta = f.manifest.get("metadata")
    if not isinstance(meta, dict) or not meta.get("name"):
        raise ValidationError(f.where, f"{f.manifest.get('kind')} without metadata.name")
    return {
        "name": str(meta["name"]),
        "namespace": str(meta.get("namespace") or "default"),
    }


def spec_of(f: Found) -> Mapping[str, Any]:
    """The ``spec`` of ``f`` ({} when unset); ValidationError when it is no map."""
    spec = f.manifest.get("spec") or {}
    if not isinstance(spec, dict):
        raise ValidationError(f"{f.where}: {f.ident}", "spec must be a map")
    return spec


def secret_data(secret: Found) -> dict[str, str]:
    """A Secret's ``data`` (decoded) and ``stringData``, by key."""
    out: dict[str, str] = {}
    data = secret.manifest.get("data") or {}
    if isinstance(data, dict):
        for key, value in data.items():
            raw = decode_base64(str(value))
            if raw is None:
                raise NotificationConfigError(
                    f"{secret.where}: {secret.ident}: data.{key} is not base64"
                )
            out[str(key)] = raw.decode("utf-8", errors="replace")
    string_data = secret.manifest.get("stringData") or {}
    if isinstance(string_data, dict):
        out.update({str(k): str(v) for k, v in string_data.items()})
    return out


def encode_secret_value(text: str) -> str:
    """Base64 as a Secret's ``data`` holds it (for tests and docs examples)."""
    return base64.b64encode(text.encode()).decode("ascii")
