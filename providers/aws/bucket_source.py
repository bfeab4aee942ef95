"""The boto3 ``BucketReader`` of Flux Bucket sources (``engine/source_bucket``).

One S3 client per call site with the Bucket's own endpoint, region and
credentials (never the environment's: a Bucket without a secretRef is read
anonymously, as source-controller's generic provider does). botocore's errors
become SourceErrors naming the Bucket, the endpoint and, for a read, the key;
the credentials are scrubbed from every message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.exceptions
from botocore import UNSIGNED
from botocore.config import Config

from gitwave.engine.api import BucketObject, BucketRef, TlsFiles, redact
from gitwave.engine.errors import SourceError

_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)


class S3BucketReader:
    """Lists and reads a Bucket's objects over the S3 API."""

    def list_objects(self, ref: BucketRef) -> list[BucketObject]:
        """Every object under ``ref.prefix``; SourceError naming the Bucket and endpoint."""
        with _tls_files(ref) as tls:
            return self._list(ref, _client(ref, tls))

    def _list(self, ref: BucketRef, client: Any) -> list[BucketObject]:
        found: list[BucketObject] = []
        try:
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=ref.bucket, Prefix=ref.prefix
            )
            for page in pages:
                for item in page.get("Contents") or ():
                    found.append(
                        BucketObject(
                            key=str(item["Key"]),
                            etag=str(item.get("ETag", "")),
                            size=int(item.get("Size", 0)),
                        )
                    )
        except _ERRORS as err:
            raise _error(ref, f"cannot list bucket {ref.bucket!r}", err) from None
        return found

    def get_object(self, ref: BucketRef, key: str) -> bytes:
        """The content of ``key``; SourceError naming the Bucket, endpoint and key."""
        try:
            with _tls_files(ref) as tls:
                answer = _client(ref, tls).get_object(Bucket=ref.bucket, Key=key)
                body: bytes = answer["Body"].read()
        except _ERRORS as err:
            raise _error(ref, f"cannot read {ref.bucket}/{key}", err) from None
        return body


@contextlib.contextmanager
def _tls_files(ref: BucketRef) -> Iterator[TlsFiles | None]:
    """The Bucket's certSecretRef as private files while the client runs
    (botocore reads a CA bundle and a client certificate only from files)."""
    if ref.tls is None:
        yield None
        return
    with ref.tls.files() as written:
        yield written


def _client(ref: BucketRef, tls: TlsFiles | None = None) -> Any:
    signed = bool(ref.access_key and ref.secret_key) or ref.environment_credentials
    client_cert = (
        (str(tls.cert_file), str(tls.key_file))
        if tls is not None and tls.cert_file is not None and tls.key_file is not None
        else None
    )
    config = Config(
        signature_version=None if signed else UNSIGNED,
        retries={"max_attempts": 2, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
        client_cert=client_cert,
    )
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=ref.endpoint,
        region_name=ref.region or "us-east-1",
        aws_access_key_id=ref.access_key or None,
        aws_secret_access_key=ref.secret_key or None,
        config=config,
        # A CA bundle of the Bucket's own (botocore then trusts only it), else the system's.
        verify=str(tls.ca_file) if tls is not None and tls.ca_file is not None else None,
    )


def _error(ref: BucketRef, what: str, err: Exception) -> SourceError:
    detail = redact(str(err), (ref.access_key, ref.secret_key))
    return SourceError(f"{ref.subject}: {ref.endpoint}: {what}: {detail}")


__all__ = ["S3BucketReader"]
