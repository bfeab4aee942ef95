"""A HelmRelease's values, merged as Flux merges them: each ``valuesFrom``
entry in order (a ConfigMap or Secret key read from the target, ``targetPath``
setting one value, ``optional`` allowing absence), then ``spec.values``. The
strings a Secret gave are returned too, for masking."""

from __future__ import annotations

import base64
import copy
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from gitwave.engine.apps.fields import Reader
from gitwave.engine.errors import ValidationError
from gitwave.engine.render.postbuild import ObjectReader


def release_values(
    *,
    values: Mapping[str, Any],
    values_from: Sequence[Mapping[str, Any]],
    read: ObjectReader | None,
    namespace: str,
    where: str,
) -> tuple[dict[str, Any], set[str]]:
    """The merged values and the secret strings among them (``read`` reads the
    objects from the target in ``namespace``; None: none can be read).
    ValidationError naming ``where`` and the entry for a missing required
    object or key, or a key that is no YAML mapping (never quoting it)."""
    merged: dict[str, Any] = {}
    secrets: set[str] = set()
    reader = Reader(where)
    for i, entry in enumerate(values_from):
        field_name = f"spec.valuesFrom[{i}]"
        kind = reader.string(entry, f"{field_name}.kind")
        name = reader.string(entry, f"{field_name}.name")
        key = reader.string(entry, f"{field_name}.valuesKey") or "values.yaml"
        target_path = reader.string(entry, f"{field_name}.targetPath")
        optional = reader.boolean(entry, f"{field_name}.optional")
        subject = f"{kind}/{namespace}/{name}"
        live = None if read is None else read(kind, namespace, name)
        text = _data_value(live, kind, key) if live is not None else None
        if text is None:
            if optional:
                continue
            missing = "does not exist" if live is None else f"has no key {key!r}"
            raise ValidationError(
                where,
                f"{field_name}: {subject} {missing}",
                hint="create it on the target, or mark the entry optional: true",
            )
        if kind == "Secret":
            secrets.update(_leaves(text) if not target_path else {text})
        if target_path:
            _set_path(merged, target_path, yaml.safe_load(text) if text else "")
            continue
        try:
            loaded = yaml.safe_load(text) if text.strip() else {}
        except yaml.YAMLError:
            # Never quote a Secret's text; the key names the problem.
            raise ValidationError(
                where, f"{field_name}: {subject} key {key!r} is not YAML"
            ) from None
        if not isinstance(loaded, dict):
            raise ValidationError(
                where, f"{field_name}: {subject} key {key!r} is not a YAML mapping"
            )
        _merge(merged, loaded)
    _merge(merged, copy.deepcopy(dict(values)))
    return merged, {s for s in secrets if len(s) >= 4}


def _data_value(live: Mapping[str, Any], kind: str, key: str) -> str | None:
    if kind == "Secret":
        string_data = live.get("stringData")
        if isinstance(string_data, dict) and isinstance(string_data.get(key), str):
            return str(string_data[key])
        data = live.get("data")
        raw = data.get(key) if isinstance(data, dict) else None
        if not isinstance(raw, str):
            return None
        try:
            return base64.b64decode(raw).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
    data = live.get("data")
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def _leaves(text: str) -> set[str]:
    """Every scalar of a YAML text (the values a Secret gives), and the text itself."""
    found = {text.strip()}
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        return found

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif node is not None and not isinstance(node, bool):
            found.add(str(node))

    walk(loaded)
    return found


def _merge(into: dict[str, Any], other: Mapping[str, Any]) -> None:
    """Helm's merge: mappings merge key by key, anything else replaces."""
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _set_path(into: dict[str, Any], path: str, value: Any) -> None:
    """``a.b.c`` → into[a][b][c] = value (Helm's ``--set`` path, dots only)."""
    parts = [p for p in path.split(".") if p]
    node = into
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    if parts:
        node[parts[-1]] = value


__all__ = ["release_values"]
