"""Which Secret a managed resource writes its connection details to, apart
from the details themselves (``connection``): the app pipeline asks it of
every object of every app, which must not import the composition engine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitwave.engine.api import get_field
from gitwave.engine.model import ResourceKey

__all__ = ["secret_key_of"]


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
