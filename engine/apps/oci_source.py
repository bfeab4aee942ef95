"""An OCIRepository's spec as what ``engine.source_oci`` pulls, for an
ArtifactGenerator source (the repository, and the Secret its ``secretRef``
names, are read from the same directory, as a Bucket's are).

As source-controller: ``spec.secretRef`` names a Secret of type
``kubernetes.io/dockerconfigjson`` in the OCIRepository's namespace whose
``.dockerconfigjson`` ``auths`` hold the registry host's credentials (read,
never applied nor printed); ``layerSelector.operation`` is ``extract`` or
``copy``; ``certSecretRef`` names a Secret beside it with ``ca.crt`` (and
optionally ``tls.crt``/``tls.key``) for a registry with its own CA. Refused
naming the field: ``verify``, ``proxySecretRef`` and a ``provider`` other
than ``generic`` (cloud credentials and signature checks need what gitwave
does not hold).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Any

from gitwave.engine.apps.fields import Reader
from gitwave.engine.images.registry import (
    Credentials,
    ImageName,
    RegistryError,
    credentials_from_docker_config,
)
from gitwave.engine.model import Resource, ResourceKey
from gitwave.engine.source_oci import OciArtifactRef

Find = Callable[[ResourceKey], Resource | None]
DOCKER_CONFIG_TYPE = "kubernetes.io/dockerconfigjson"


def oci_artifact_ref(
    doc: Mapping[str, Any],
    where: str,
    *,
    find: Find = lambda _key: None,
    namespace: str = "default",
) -> OciArtifactRef:
    """An OCIRepository's spec as an OciArtifactRef; ValidationError naming the
    field for one gitwave cannot pull (signature verification, a CA or proxy
    Secret, cloud provider credentials) or a secretRef it cannot read."""
    reader = Reader(where)
    spec = reader.mapping(doc, "spec", required=True)
    url = reader.string(spec, "spec.url", required=True)
    if not url.startswith("oci://"):
        reader.fail(f"spec.url: {url!r} is not an oci:// URL")
    if spec.get("verify"):
        reader.fail(
            "spec.verify is not supported by gitwave (it cannot check cosign or notation "
            "signatures): remove it, and pin the artifact with spec.ref.digest instead"
        )
    if spec.get("proxySecretRef"):
        reader.fail("spec.proxySecretRef is not supported by gitwave for an ArtifactGenerator")
    provider = reader.string(spec, "spec.provider") or "generic"
    if provider != "generic":
        reader.fail(
            f"spec.provider: {provider!r} is not supported by gitwave (cloud workload "
            "identity): use provider generic with a spec.secretRef docker-registry Secret"
        )
    ref = reader.mapping(spec, "spec.ref")
    selector = reader.mapping(spec, "spec.layerSelector")
    operation = reader.string(selector, "spec.layerSelector.operation") or "extract"
    if operation not in ("extract", "copy"):
        reader.fail(f"spec.layerSelector.operation: {operation!r} is not extract or copy")
    credentials = None
    secret_ref = reader.mapping(spec, "spec.secretRef")
    if secret_ref:
        name = reader.string(secret_ref, "spec.secretRef.name", required=True)
        credentials = _credentials(reader, find, namespace, name, url)
    from gitwave.engine.apps.cert_secret import cert_secret_trust

    tls = cert_secret_trust(reader, spec, find, namespace)
    return OciArtifactRef(
        url=url,
        tag=reader.string(ref, "spec.ref.tag"),
        semver=reader.string(ref, "spec.ref.semver"),
        digest=reader.string(ref, "spec.ref.digest"),
        insecure=reader.boolean(spec, "spec.insecure"),
        media_type=reader.string(selector, "spec.layerSelector.mediaType"),
        copy=operation == "copy",
        credentials=credentials,
        tls=tls,
    )


def _credentials(
    reader: Reader, find: Find, namespace: str, name: str, url: str
) -> Credentials | None:
    """The registry host's credentials in the docker-registry Secret; None when
    its auths have none for the host (then the pull is anonymous, as Flux's)."""
    secret = find(ResourceKey("", "Secret", namespace, name))
    label = f"spec.secretRef: Secret {namespace}/{name}"
    if secret is None:
        reader.fail(f"{label} is not defined in this directory")
    kind = secret.manifest.get("type")
    if kind != DOCKER_CONFIG_TYPE:
        reader.fail(f"{label} is of type {kind!r}, not {DOCKER_CONFIG_TYPE}")
    config = _value(reader, secret.manifest, ".dockerconfigjson", label)
    try:
        host = ImageName.parse(url.removeprefix("oci://"), reader.where).host
        return credentials_from_docker_config(config, host, label)
    except RegistryError as err:
        # Its message names the field and the auths key, never a credential.
        reader.fail(str(err))


def _value(reader: Reader, manifest: Mapping[str, Any], key: str, label: str) -> str:
    string_data = manifest.get("stringData")
    if isinstance(string_data, Mapping) and isinstance(string_data.get(key), str):
        return str(string_data[key])
    data = manifest.get("data")
    raw = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(raw, str):
        reader.fail(f"{label} has no {key}")
    try:
        return base64.b64decode(raw, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        reader.fail(f"{label} data.{key} is not base64 text")


__all__ = ["DOCKER_CONFIG_TYPE", "oci_artifact_ref"]
