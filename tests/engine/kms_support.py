"""moto's KMS as a real HTTP server on 127.0.0.1, with one key, for the SOPS tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import boto3
from moto.server import ThreadedMotoServer


@contextmanager
def moto_kms_key(region: str, description: str) -> Iterator[tuple[str, str]]:
    """A KMS server with one symmetric key made in ``region``: its endpoint URL
    and the key's ARN, until the block ends."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        client = boto3.client(
            "kms",
            endpoint_url=endpoint,
            region_name=region,
            aws_access_key_id="test-admin",
            aws_secret_access_key="test-admin",
        )
        yield endpoint, client.create_key(Description=description)["KeyMetadata"]["Arn"]
    finally:
        server.stop()
