"""A HelmRelease's releases in Helm's own storage, as helm-controller keeps them.

Helm's ``secrets`` driver (helm/helm ``pkg/storage/driver/secrets.go``,
``util.go``): one Secret ``sh.helm.release.v1.<release>.v<revision>`` per
revision, of type ``helm.sh/release.v1``, labelled ``name``, ``owner=helm``,
``status`` and ``version``, whose ``data.release`` is the base64 text of the
gzipped release JSON (base64 once more on the wire, as any Secret's data).
Written here, ``helm list`` / ``helm history`` / ``helm get manifest`` show
gitwave's releases, and any replica reads the last deployed release's
manifest back (issue 16: the state is in the cluster, not in one replica's
``--state``).

The release JSON holds the rendered manifest, Secrets' data included: it is
kept in a Secret (as Helm does) and never logged; ``StoredRelease`` keeps the
body out of its repr. Pure: ``release_store.py`` reads and writes the Secrets.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

RELEASE_TYPE = "helm.sh/release.v1"
_PREFIX = "sh.helm.release.v1."
# A Secret holds at most 1 MiB; gzipped JSON unzips to far less than 16 times that.
MAX_UNZIPPED_BYTES = 16 * 1024 * 1024


@runtime_checkable
class ReleaseSecrets(Protocol):
    """Helm release Secrets of one cluster (the one the controller reaches)."""

    def list_release_secrets(self, namespace: str, release: str) -> list[tuple[str, str]]:
        """``(Secret name, data.release text)`` of every ``owner=helm`` Secret
        labelled ``name=<release>`` in ``namespace``."""
        ...

    def put_release_secret(
        self, namespace: str, name: str, *, labels: Mapping[str, str], release: str
    ) -> None:
        """Create the Secret ``name`` holding ``release`` (the encoded text), or
        replace it when it is there."""
        ...

    def delete_release_secret(self, namespace: str, name: str) -> None:
        """Delete the Secret ``name`` (gone already: nothing to do)."""
        ...


@dataclass(frozen=True)
class StoredRelease:
    """One revision of a Helm release, as its storage Secret holds it."""

    name: str
    namespace: str
    version: int
    status: str
    # The whole release JSON: its manifest and config may hold Secrets' values.
    body: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def secret_name(self) -> str:
        return secret_name(self.name, self.version)

    @property
    def manifest(self) -> str:
        return str(self.body.get("manifest") or "")

    def with_status(self, status: str) -> StoredRelease:
        """This revision with another ``info.status`` (``superseded``)."""
        info = {**(self.body.get("info") or {}), "status": status}
        return StoredRelease(
            self.name, self.namespace, self.version, status, {**self.body, "info": info}
        )


def secret_name(release: str, version: int) -> str:
    """``sh.helm.release.v1.<release>.v<version>``, as Helm names it."""
    return f"{_PREFIX}{release}.v{version}"


def labels_of(stored: StoredRelease) -> dict[str, str]:
    """The labels Helm's secrets driver selects on (``owner=helm``, ``name=...``)."""
    return {
        "name": stored.name,
        "owner": "helm",
        "status": stored.status,
        "version": str(stored.version),
    }


def encode_release(body: Mapping[str, Any]) -> str:
    """Helm's ``encodeRelease``: JSON, gzip (best compression), base64."""
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0)).decode()


def decode_release(text: str, *, where: str) -> StoredRelease:
    """Helm's ``decodeRelease``: base64, gunzip when gzipped (Helm writes
    gzip; older ones plain JSON), JSON. ValueError naming ``where`` (the
    Secret, never its content) for one that is not a Helm release."""
    try:
        data = base64.b64decode(text, validate=True)
        if data[:3] == b"\x1f\x8b\x08":
            # Bounded: a Secret from the cluster is not trusted to be small once unzipped.
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
                data = stream.read(MAX_UNZIPPED_BYTES + 1)
            if len(data) > MAX_UNZIPPED_BYTES:
                raise ValueError("too big once unzipped")
        body = json.loads(data)
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"Secret {where}: data.release is not a Helm release") from error
    if not isinstance(body, dict):
        raise ValueError(f"Secret {where}: data.release is not a Helm release")
    version = body.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValueError(f"Secret {where}: the Helm release has no version")
    return StoredRelease(
        name=str(body.get("name") or ""),
        namespace=str(body.get("namespace") or ""),
        version=version,
        status=str((body.get("info") or {}).get("status") or ""),
        body=body,
    )


def release_body(
    *,
    name: str,
    namespace: str,
    version: int,
    status: str,
    chart: tuple[str, str],
    values: Mapping[str, Any],
    manifest: str,
    first_deployed: str,
    last_deployed: str,
    description: str,
) -> dict[str, Any]:
    """The release JSON Helm reads (``pkg/release``), with what gitwave knows
    of the chart (its name and version; no templates or files)."""
    return {
        "name": name,
        "namespace": namespace,
        "version": version,
        "info": {
            "status": status,
            "first_deployed": first_deployed,
            "last_deployed": last_deployed,
            "deleted": "",
            "description": description,
        },
        "chart": {
            "metadata": {"apiVersion": "v2", "name": chart[0], "version": chart[1]},
            "templates": [],
            "values": {},
            "files": [],
        },
        "config": dict(values),
        "manifest": manifest,
    }


@dataclass(frozen=True)
class StorageChange:
    """The Secrets to write (new revision, superseded ones) and to delete (beyond maxHistory)."""

    writes: tuple[StoredRelease, ...]
    deletes: tuple[str, ...]


def stored_after(
    existing: Sequence[StoredRelease], new: StoredRelease, *, keep: int
) -> StorageChange:
    """What Helm's storage becomes once ``new`` is recorded: ``new`` written
    (unless the same revision, with the same status, manifest and config, is
    there); when ``new`` is deployed, every other ``deployed`` revision
    ``superseded`` (a ``failed`` one leaves the deployed one as it is, as
    helm's failed upgrade does); and only the newest ``keep`` revisions kept
    (0: all), as helm-controller's maxHistory, but never the last that
    worked (Helm keeps it when it prunes: it is what a rollback goes to)."""
    writes: list[StoredRelease] = []
    same = next((s for s in existing if s.version == new.version), None)
    if not (
        same is not None
        and same.status == new.status
        and same.manifest == new.manifest
        and same.body.get("config") == new.body.get("config")
    ):
        writes.append(new)
    for stored in existing:
        if (
            new.status == "deployed"
            and stored.version != new.version
            and stored.status == "deployed"
        ):
            writes.append(stored.with_status("superseded"))
    versions = sorted({s.version for s in existing} | {new.version}, reverse=True)
    dropped = set(versions[keep:]) if keep > 0 else set()
    good = last_deployed([*(s for s in existing if s.version != new.version), new])
    dropped.discard(good.version if good is not None else -1)
    deletes = tuple(secret_name(new.name, v) for v in sorted(dropped))
    return StorageChange(
        writes=tuple(w for w in writes if w.version not in dropped), deletes=deletes
    )


def last_deployed(stored: Sequence[StoredRelease]) -> StoredRelease | None:
    """The newest revision that is (or was, before a later one) deployed: what
    a rollback goes back to."""
    good = [s for s in stored if s.status in ("deployed", "superseded")]
    return max(good, key=lambda s: s.version) if good else None


__all__ = [
    "RELEASE_TYPE",
    "ReleaseSecrets",
    "StorageChange",
    "StoredRelease",
    "decode_release",
    "encode_release",
    "labels_of",
    "last_deployed",
    "release_body",
    "secret_name",
    "stored_after",
]
