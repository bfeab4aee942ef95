"""What the history records of a sync's manifests (``Store.begin_sync``,
``Store.manifests``) and the digest of them: Secrets as stubs that name their
entries and hold no value (not even a digest of one), objects a Secret's value
reached masked, a chart CRD's install gate kept for a rollback.

Imported by what records or reads them back, not by ``engine.store`` itself:
`gitwave status` reads the history only.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Sequence
from typing import Any

from gitwave.engine.mask import MASK, redact_value
from gitwave.engine.model import (
    ApplyMode,
    InstallGate,
    Manifest,
    Resource,
    ResourceKey,
    SourceRef,
)

__all__ = ["SECRET_STUB_FIELD", "decode_manifests", "encode_manifests", "manifests_digest"]

# Marks a recorded Secret as a stub: it lists the entry names, never a value.
SECRET_STUB_FIELD = "x-gitwave-secret-entries"
# `kubectl apply` copies a whole Secret, values included, into this annotation.
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _secret_stub(manifest: Manifest) -> Manifest:
    """A Secret without anything that can hold a value (its data and the
    last-applied annotation), with the names of its entries. A stub read back
    from the history is recorded again as it is."""
    stub = {key: value for key, value in manifest.items() if key not in ("data", "stringData")}
    meta = stub.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
        annotations = {k: v for k, v in meta["annotations"].items() if k != _LAST_APPLIED}
        stub["metadata"] = {**meta, "annotations": annotations}
    if "data" in manifest or "stringData" in manifest or SECRET_STUB_FIELD not in manifest:
        names: set[str] = set()
        for field in ("data", "stringData"):
            values = manifest.get(field)
            if isinstance(values, dict):
                names.update(str(name) for name in values)
        stub[SECRET_STUB_FIELD] = sorted(names)
    return stub


def _recordable(resource: Resource) -> dict[str, Any]:
    manifest = _secret_stub(resource.manifest) if resource.is_secret else resource.manifest
    item: dict[str, Any] = {
        "key": str(resource.key),
        "apiVersion": resource.api_version,
        "source": str(resource.source) if resource.source else "",
        "manifest": manifest,
    }
    if resource.install_gate is not None:
        # A rollback applies a chart's CRD as its release's CRD policies say, as the sync did.
        gate = resource.install_gate
        item["gate"] = {
            "labels": [list(pair) for pair in gate.labels],
            "install": gate.on_install.value,
            "upgrade": gate.on_upgrade.value,
            "subject": gate.subject,
        }
    if resource.masked_values:
        # A Secret's value reached this object (Flux postBuild): recorded masked,
        # and so, like a Secret, kept as it is live by a rollback.
        item["manifest"] = redact_value(manifest, resource.masked_values)
        item["masked"] = True
    return item


def manifests_digest(resources: Sequence[Resource]) -> str:
    """``sha256:<hex>`` of what a sync applied, as recorded (Secrets as stubs,
    so not even a digest of a secret value is kept). Tells two syncs of one
    edited work tree apart where the commit is the same."""
    body = json.dumps(
        sorted((_recordable(r) for r in resources), key=lambda item: item["key"]),
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def _gate(recorded: Any) -> InstallGate | None:
    """The InstallGate ``_recordable`` wrote, or None (none, or unreadable)."""
    if not isinstance(recorded, dict):
        return None
    try:
        return InstallGate(
            labels=tuple((str(k), str(v)) for k, v in recorded["labels"]),
            on_install=ApplyMode(recorded["install"]),
            on_upgrade=ApplyMode(recorded["upgrade"]),
            subject=str(recorded.get("subject", "")),
        )
    except (KeyError, TypeError, ValueError):
        return None


def encode_manifests(manifests: Sequence[Resource]) -> bytes:
    """The ``sync_manifests`` body of ``manifests`` as recorded (zlib-compressed JSON)."""
    return zlib.compress(
        json.dumps([_recordable(r) for r in manifests], separators=(",", ":")).encode(), 6
    )


def decode_manifests(body: bytes) -> list[Resource]:
    """The resources an ``encode_manifests`` body recorded, Secrets without their contents."""
    items = json.loads(zlib.decompress(body))
    resources = []
    for item in items:
        source = item.get("source") or ""
        file, _, line = source.rpartition(":")
        ref = SourceRef(file, int(line)) if file and line.isdigit() else SourceRef(source)
        resources.append(
            Resource(
                key=ResourceKey.parse(item["key"]),
                api_version=item["apiVersion"],
                manifest=item["manifest"],
                source=ref if source else None,
                masked_values=(MASK,) if item.get("masked") else (),
                install_gate=_gate(item.get("gate")),
            )
        )
    return resources
