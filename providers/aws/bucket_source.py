"""The boto3 ``BucketReader`` of Flux Bucket sources (``engine/source_bucket``).

One S3 client per call site with the Bucket's own endpoint, region and
credentials (never the environment's: a Bucket without a secretRef is read
anonymously, as source-controller's generic provider does). botocore's errors
become SourceErrors naming the Bucket, the endpoint and, for a read, the key;
the credentials are scrubbed from every message.
"""

from __future__ import annotations

from typing import Any

import boto3
import botocore.exceptions
from botocore import UNSIGNED
from botocore.config import Config

from gitwave.engine.api import BucketObject, BucketRef, redact
from gitwave.engine.errors import SourceError

_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)


class S3BucketReader:
    """Lists and reads a Bucket's objects over the S3 API."""

    def list_objects(self, ref: BucketRef) -> list[BucketObject]:
        """Every object under ``ref.prefix``; SourceError naming the Bucket and endpoint."""
        client = _client(ref)
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
            body: bytes = _client(ref).get_object(Bucket=ref.bucket, Key=key)["Body"].read()
        except _ERRORS as err:
            raise _error(ref, f"cannot read {ref.bucket}/{key}", err) from None
        return body


def _client(ref: BucketRef) -> Any:
    signed = bool(ref.access_key and ref.secret_key) or ref.environment_credentials
    config = Config(
        signature_version=None if signed else UNSIGNED,
        retries={"max_attempts": 2, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
    )
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=ref.endpoint,
        region_name=ref.region or "us-east-1",
        aws_access_key_id=ref.access_key or None,
        aws_secret_access_key=ref.secret_key or None,
        config=config,
    )


def _error(ref: BucketRef, what: str, err: Exception) -> SourceError:
    detail = redact(str(err), (ref.access_key, ref.secret_key))
    return SourceError(f"{ref.subject}: {ref.endpoint}: {what}: {detail}")


__all__ = ["S3BucketReader"]
