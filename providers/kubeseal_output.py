"""A SealedSecret printed as kubeseal prints it (JSON by default, ``-o yaml``),
byte for byte: Go's field order and Go's YAML quoting."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml


def kubeseal_json(sealed: Mapping[str, Any]) -> str:
    """``sealed`` as kubeseal prints it by default: indented JSON, one newline after."""
    return json.dumps(_go_order(sealed), indent=2) + "\n"


def kubeseal_yaml(sealed: Mapping[str, Any]) -> str:
    """``sealed`` as ``kubeseal -o yaml`` prints it: ``---`` and block YAML, keys sorted."""
    return "---\n" + yaml.dump(
        _go_order(sealed),
        Dumper=_GoYamlDumper,
        sort_keys=True,
        default_flow_style=False,
        width=1 << 30,
    )


class _GoYamlDumper(yaml.SafeDumper):
    """Quotes as Go's YAML encoder does: a string that cannot stay plain (``"true"``)
    is double-quoted, where PyYAML would single-quote it."""

    def choose_scalar_style(self) -> str:
        style = str(super().choose_scalar_style())
        return '"' if style == "'" else style


def _go_order(sealed: Mapping[str, Any]) -> dict[str, Any]:
    """Fields in the order Go's encoder writes the SealedSecret struct (maps sorted)."""

    def meta(m: Mapping[str, Any]) -> dict[str, Any]:
        order = ("name", "namespace", "labels", "annotations")
        out = {k: m[k] for k in order if k in m}
        for field in ("labels", "annotations"):
            if field in out:
                out[field] = dict(sorted(out[field].items()))
        return out

    spec = sealed.get("spec") or {}
    template = spec.get("template") or {}
    ordered_template = {"metadata": meta(template.get("metadata") or {})}
    for field in ("type", "immutable", "data"):
        if field in template:
            ordered_template[field] = template[field]
    return {
        "kind": sealed.get("kind"),
        "apiVersion": sealed.get("apiVersion"),
        "metadata": meta(sealed.get("metadata") or {}),
        "spec": {
            "template": ordered_template,
            "encryptedData": dict(sorted((spec.get("encryptedData") or {}).items())),
        },
    }
