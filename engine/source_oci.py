"""A Flux ``OCIRepository``'s artifact, pulled as source-controller pulls it:
the manifest of ``spec.ref`` (digest, else the newest tag ``semver`` allows,
else ``tag``, else ``latest``), its first layer (or the first of
``layerSelector.mediaType``), checked against its digest and extracted (or,
with ``layerSelector.operation: copy``, kept as one file, named by the layer's
``org.opencontainers.image.title`` annotation when that is a plain file name,
else ``layer``). Credentials (``spec.secretRef``) answer a basic or bearer
challenge; they never appear in a message.

What ``flux push artifact`` pushes (a tar+gzip layer) and any single-layer
image both work. Over the OCI distribution API with the standard library and
the image scanner's session (``images.registry``: bearer and basic auth
challenges); plain HTTP with ``spec.insecure`` or for a registry on this host,
as ``helm pull`` does in ``render.charts``. The extracted files are kept under
the layer's digest in the cache, so an unchanged artifact is pulled once and
keeps its directory. Every failure is a RegistryError naming the subject
(``OCIRepository/ns/name``) and the URL.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import ssl
import tarfile
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitwave.engine.images.registry import (
    Credentials,
    ImageName,
    RegistryError,
    RegistrySession,
    list_tags,
)
from gitwave.engine.tls_trust import TlsTrust

MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
_INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
# An artifact is sources; a layer larger than this is refused.
MAX_LAYER_BYTES = 256 * 1024 * 1024
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# A copied layer's file name from its title annotation: one plain path part.
_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,254}$")
_TITLE = "org.opencontainers.image.title"


@dataclass(frozen=True)
class OciArtifactRef:
    """What an OCIRepository's spec names: ``url`` is ``oci://host[:port]/path``;
    at most one of ``digest``, ``semver``, ``tag`` decides the version."""

    url: str
    tag: str = ""
    semver: str = ""
    digest: str = ""
    insecure: bool = False
    media_type: str = ""  # spec.layerSelector.mediaType ("": the first layer)
    copy: bool = False  # spec.layerSelector.operation: copy (the layer kept as a file)
    credentials: Credentials | None = field(default=None, repr=False)
    # spec.certSecretRef: a CA to trust (and a client certificate); HTTPS even on this host.
    tls: TlsTrust | None = None


@dataclass(frozen=True)
class PulledArtifact:
    """The artifact's files (``directory``) and Flux's revision of it
    (``tag@sha256:<manifest digest>``, or the digest alone)."""

    directory: Path
    revision: str


def pull_artifact(ref: OciArtifactRef, *, subject: str, cache_dir: Path) -> PulledArtifact:
    """Pull ``ref``'s artifact into ``cache_dir`` (nothing is fetched for a layer
    already there). RegistryError naming ``subject`` and the URL when the
    registry cannot be read, no tag matches, a digest differs or the layer is
    no tar+gzip archive."""
    image = _image(ref.url, subject)
    # A registry on this host is plain HTTP (as Docker assumes) unless TLS material is given.
    plain = ref.insecure or (_is_loopback(image.host) and ref.tls is None)
    scheme = "http" if plain else "https"
    base = f"{scheme}://{image.api_host}/v2/{image.path}"
    context = _context(ref, subject)
    session = RegistrySession(
        subject=subject, credentials=ref.credentials, timeout_s=60.0, context=context
    )
    tag = _tag(ref, image, subject, insecure=scheme == "http", context=context)
    reference = ref.digest or tag
    body, _ = session.get(f"{base}/manifests/{reference}", accept=MANIFEST_TYPES)
    manifest_digest = "sha256:" + hashlib.sha256(body).hexdigest()
    if ref.digest and manifest_digest != ref.digest:
        raise RegistryError(
            f"{subject}: {base}/manifests/{reference} has digest {manifest_digest}, "
            f"not {ref.digest}"
        )
    layer, title = _layer(_json(body, f"{base}/manifests/{reference}", subject), ref, subject, base)
    # A copied layer and an extracted one are different trees of the same blob.
    name = layer.removeprefix("sha256:") + (f"-copy-{title}" if ref.copy else "")
    directory = cache_dir / name
    if not directory.is_dir():
        blob, _ = session.get(
            f"{base}/blobs/{layer}", accept="application/octet-stream", max_body=MAX_LAYER_BYTES
        )
        if "sha256:" + hashlib.sha256(blob).hexdigest() != layer:
            raise RegistryError(
                f"{subject}: {base}/blobs/{layer}: the content differs from its digest"
            )
        if ref.copy:
            _keep(blob, directory, title)
        else:
            _extract(blob, directory, f"{base}/blobs/{layer}", subject)
    revision = manifest_digest if ref.digest else f"{tag}@{manifest_digest}"
    return PulledArtifact(directory, revision)


def _context(ref: OciArtifactRef, subject: str) -> ssl.SSLContext | None:
    if ref.tls is None:
        return None
    try:
        return ref.tls.ssl_context()
    except (ssl.SSLError, ValueError) as err:
        raise RegistryError(
            f"{subject}: spec.certSecretRef: the certificate or key cannot be loaded: {err}"
        ) from None


def _image(url: str, subject: str) -> ImageName:
    if not url.startswith("oci://"):
        raise RegistryError(f"{subject}: spec.url {url!r} is not an oci:// URL")
    return ImageName.parse(url.removeprefix("oci://"), subject)


def _is_loopback(host: str) -> bool:
    name = urllib.parse.urlsplit(f"//{host}").hostname or ""
    return name in ("localhost", "127.0.0.1", "::1")


def _tag(
    ref: OciArtifactRef,
    image: ImageName,
    subject: str,
    *,
    insecure: bool,
    context: ssl.SSLContext | None = None,
) -> str:
    if ref.digest:
        if not _DIGEST.match(ref.digest):
            raise RegistryError(f"{subject}: spec.ref.digest {ref.digest!r} is not sha256:<hex>")
        return ""
    if ref.semver:
        # Imported here: ``engine.apps`` imports the source stage (a cycle at import time).
        from gitwave.engine.apps.semver import pick_semver

        tags = list_tags(
            image,
            subject=subject,
            insecure=insecure,
            credentials=ref.credentials,
            context=context,
        )
        try:
            chosen = pick_semver(ref.semver, tags)
        except ValueError as err:
            raise RegistryError(f"{subject}: spec.ref.semver {ref.semver!r}: {err}") from None
        if chosen is None:
            raise RegistryError(
                f"{subject}: no tag of {ref.url} matches spec.ref.semver {ref.semver!r} "
                f"(tags: {', '.join(sorted(tags)) or 'none'})"
            )
        return chosen
    tag = ref.tag or "latest"
    if not _TAG.match(tag):
        raise RegistryError(f"{subject}: spec.ref.tag {tag!r} is not an OCI tag")
    return tag


def _json(body: bytes, url: str, subject: str) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RegistryError(f"{subject}: {url} did not answer a JSON manifest") from None
    if not isinstance(doc, dict):
        raise RegistryError(f"{subject}: {url} did not answer a manifest")
    return doc


def _layer(
    manifest: dict[str, Any], ref: OciArtifactRef, subject: str, base: str
) -> tuple[str, str]:
    """The chosen layer's digest and the file name a copy of it gets."""
    if manifest.get("mediaType") in _INDEX_TYPES or "manifests" in manifest:
        raise RegistryError(
            f"{subject}: {ref.url} is an image index (several platforms), not an artifact",
            hint="point spec.ref at a single manifest, as `flux push artifact` makes",
        )
    layers = manifest.get("layers")
    if not isinstance(layers, list):
        raise RegistryError(f"{subject}: the manifest of {ref.url} lists no layers")
    for layer in layers:
        if not isinstance(layer, dict):
            continue
        if ref.media_type and layer.get("mediaType") != ref.media_type:
            continue
        digest = layer.get("digest")
        if isinstance(digest, str) and _DIGEST.match(digest):
            annotations = layer.get("annotations")
            title = annotations.get(_TITLE) if isinstance(annotations, dict) else None
            plain = isinstance(title, str) and _FILE_NAME.match(title) and ".." not in title
            return digest, title if plain and isinstance(title, str) else "layer"
        raise RegistryError(f"{subject}: {base}: a layer digest {digest!r} is not sha256:<hex>")
    wanted = f" of media type {ref.media_type!r}" if ref.media_type else ""
    raise RegistryError(f"{subject}: the manifest of {ref.url} has no layer{wanted}")


def _keep(blob: bytes, directory: Path, name: str) -> None:
    """``blob`` as the one file ``directory/name``, atomically."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".pulling-", dir=directory.parent))
    (staging / name).write_bytes(blob)
    try:
        staging.rename(directory)
    except OSError:  # another process pulled the same layer first
        shutil.rmtree(staging, ignore_errors=True)


def _extract(blob: bytes, directory: Path, url: str, subject: str) -> None:
    """``blob`` (a tar+gzip layer) unpacked into ``directory``, atomically; the
    ``data`` filter refuses absolute paths, ``..``, links out and devices."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".pulling-", dir=directory.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:*") as archive:
            archive.extractall(staging, filter="data")
    except (tarfile.TarError, OSError, EOFError) as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise RegistryError(f"{subject}: {url} is no tar+gzip archive: {err}") from None
    try:
        staging.rename(directory)
    except OSError:  # another process pulled the same layer first
        shutil.rmtree(staging, ignore_errors=True)


__all__ = ["OciArtifactRef", "PulledArtifact", "pull_artifact"]
