"""A Flux ``Bucket`` (source.toolkit.fluxcd.io/v1) read as a source: its spec
and the Secret its ``secretRef`` names (defined in the same directory) as a
``BucketRef``, fetched by ``engine.source_bucket``.

Supported: ``provider: generic`` and ``aws`` (S3 API; ``aws`` without a
secretRef uses the environment's AWS credentials, as source-controller uses
the pod's), ``bucketName``, ``endpoint`` (``host[:port]``; HTTPS unless
``insecure: true``), ``prefix``, ``region``, ``ignore`` and a secretRef whose
Secret holds ``accesskey`` and ``secretkey``, and a ``certSecretRef`` whose
Secret holds ``ca.crt`` (and optionally ``tls.crt``/``tls.key``) for an HTTPS
endpoint with its own CA. Refused with the field named: ``gcp``/``azure``,
``sts``, ``proxySecretRef``. A credential value is never part of a message.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gitwave.engine.apps.fields import Reader
from gitwave.engine.apps.flux import FluxSource
from gitwave.engine.apps.model import FLUX_SOURCE_GROUP
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.model import Resource, ResourceKey
from gitwave.engine.source_bucket import BucketRef, FetchedBucket, fetch_bucket

# host or IPv4, or [IPv6], then an optional port: never a scheme, path or flag.
_ENDPOINT = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

Find = Callable[[ResourceKey], Resource | None]


def bucket_ref(source: Resource, find: Find) -> BucketRef:
    """The Bucket ``source`` as a BucketRef; ValidationError naming the Bucket and
    the field for one gitwave cannot read, or a secretRef that is not defined
    beside it or lacks ``accesskey``/``secretkey``."""
    key = source.key
    subject = f"Bucket/{key.namespace}/{key.name}"
    reader = Reader(f"{source.source} ({subject})")
    spec = reader.mapping(source.manifest, "spec", required=True)
    provider = reader.string(spec, "spec.provider") or "generic"
    if provider not in ("generic", "aws"):
        reader.fail(f"spec.provider: {provider!r} is not supported by gitwave (generic, aws)")
    for unsupported in ("sts", "proxySecretRef", "serviceAccountName"):
        if spec.get(unsupported):
            reader.fail(f"spec.{unsupported} is not supported by gitwave for a Bucket")
    bucket = reader.string(spec, "spec.bucketName", required=True)
    if not _BUCKET_NAME.match(bucket):
        reader.fail(f"spec.bucketName {bucket!r} is not an S3 bucket name")
    endpoint = reader.string(spec, "spec.endpoint", required=True)
    if not _ENDPOINT.match(endpoint):
        reader.fail(f"spec.endpoint {endpoint!r}: give host[:port], without a scheme or path")
    scheme = "http" if reader.boolean(spec, "spec.insecure") else "https"
    reader = Reader(f"{source.source} ({subject}, endpoint {scheme}://{endpoint})")
    ignore = spec.get("ignore")
    if ignore is not None and not isinstance(ignore, str):
        reader.fail("spec.ignore must be a string (.gitignore lines)")
    patterns = tuple(
        line.strip()
        for line in (ignore or "").splitlines()
        if line.strip() and not line.strip().startswith("#")
    )
    access_key = secret_key = ""
    secret_ref = reader.mapping(spec, "spec.secretRef")
    if secret_ref:
        name = reader.string(secret_ref, "spec.secretRef.name", required=True)
        access_key, secret_key = _credentials(reader, find, key.namespace, name)
    from gitwave.engine.apps.cert_secret import cert_secret_trust

    tls = cert_secret_trust(reader, spec, find, key.namespace)
    if tls is not None and scheme == "http":
        reader.fail("spec.certSecretRef is for an HTTPS endpoint; remove spec.insecure")
    return BucketRef(
        subject=f"{subject} ({source.source})",
        endpoint=f"{scheme}://{endpoint}",
        bucket=bucket,
        prefix=reader.string(spec, "spec.prefix"),
        region=reader.string(spec, "spec.region"),
        ignore=patterns,
        access_key=access_key,
        secret_key=secret_key,
        environment_credentials=provider == "aws" and not secret_ref,
        tls=tls,
    )


def _credentials(reader: Reader, find: Find, namespace: str, name: str) -> tuple[str, str]:
    secret = find(ResourceKey("", "Secret", namespace, name))
    if secret is None:
        reader.fail(f"spec.secretRef: Secret {namespace}/{name} is not defined in this directory")
    values = {**_decoded(reader, secret, name), **_strings(secret.manifest.get("stringData"))}
    missing = [k for k in ("accesskey", "secretkey") if not values.get(k)]
    if missing:
        reader.fail(f"spec.secretRef: Secret {namespace}/{name} has no {' or '.join(missing)}")
    return values["accesskey"], values["secretkey"]


def _decoded(reader: Reader, secret: Resource, name: str) -> dict[str, str]:
    decoded = {}
    for field, value in _strings(secret.manifest.get("data")).items():
        try:
            decoded[field] = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            reader.fail(f"spec.secretRef: Secret {name} data.{field} is not base64 text")
    return decoded


def _strings(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, str)}


def fetch_named_bucket(
    namespace: str, name: str, *, where: str, alias: str, find: Find, cache_dir: Path
) -> FetchedBucket:
    """The files of the Bucket ``namespace/name`` defined beside ``where``."""
    source = find(ResourceKey(FLUX_SOURCE_GROUP, "Bucket", namespace, name))
    if source is None:
        raise ValidationError(
            where,
            f"spec.sources: Bucket {namespace}/{name} ({alias}) is not defined in this directory",
        )
    return fetch_bucket(bucket_ref(source, find), cache_dir=cache_dir)


def bucket_sources(
    kustomizations: Sequence[Any], find: Find, cache_dir: Path
) -> tuple[list[FluxSource], dict[str, GitwaveError]]:
    """The Buckets (defined beside them) that ``kustomizations`` name in their
    ``sourceRef``, each fetched once, as sources; and the error of each that
    cannot be read, by name (its Kustomizations fail with it)."""
    found: list[FluxSource] = []
    failed: dict[str, GitwaveError] = {}
    seen: set[ResourceKey] = set()
    for doc in kustomizations:
        spec = doc.get("spec") if isinstance(doc, Mapping) else None
        ref = spec.get("sourceRef") if isinstance(spec, Mapping) else None
        meta = doc.get("metadata") if isinstance(doc, Mapping) else None
        if not isinstance(ref, Mapping) or ref.get("kind") != "Bucket":
            continue
        name = ref.get("name")
        own = meta.get("namespace") if isinstance(meta, Mapping) else None
        namespace = ref.get("namespace") or own or "default"
        if not isinstance(name, str) or not isinstance(namespace, str):
            continue  # parse_flux names the field
        key = ResourceKey(FLUX_SOURCE_GROUP, "Bucket", namespace, name)
        source = find(key)
        if source is None or key in seen:
            continue  # parse_flux reports one not defined here
        seen.add(key)
        try:
            fetched = fetch_bucket(bucket_ref(source, find), cache_dir=cache_dir)
        except GitwaveError as exc:
            failed[name] = exc
            continue
        found.append(
            FluxSource(
                namespace=namespace,
                name=name,
                url=str(fetched.directory),
                revision="HEAD",
                where=f"{source.source}: Bucket {name} ({fetched.revision})",
                kind="Bucket",
            )
        )
    return found, failed


def bucket_store(cache_dir: Path | None) -> Path:
    """Where fetched Buckets live: ``buckets/`` in the source cache."""
    from gitwave.engine.source import default_cache_dir

    return (cache_dir if cache_dir is not None else default_cache_dir()) / "buckets"


__all__ = ["bucket_ref", "bucket_sources", "bucket_store", "fetch_named_bucket"]
