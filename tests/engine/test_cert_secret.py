"""``spec.certSecretRef`` read from a Secret beside the source (engine/apps/cert_secret.py):
what is accepted, and the errors a user sees for what is not."""

from __future__ import annotations

import base64
import os
import stat
from dataclasses import dataclass
from typing import Any

import pytest

from gitwave.engine.apps.cert_secret import cert_secret_trust
from gitwave.engine.apps.fields import Reader
from gitwave.engine.errors import ValidationError
from gitwave.engine.model import Resource, ResourceKey
from gitwave.engine.tls_trust import TlsTrust

CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nsecret-key-material-Xy\n-----END PRIVATE KEY-----\n"
SPEC = {"certSecretRef": {"name": "tls"}}


def secret(**values: Any) -> Resource:
    manifest = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tls"}, **values}
    return Resource(ResourceKey("", "Secret", "apps", "tls"), "v1", manifest)


def read(found: Resource | None) -> TlsTrust | None:
    reader = Reader("flux.yaml:1 (Bucket/apps/store)")
    return cert_secret_trust(reader, SPEC, lambda _k: found, "apps")


def test_ca_from_data_and_client_pair_from_string_data() -> None:
    given = secret(
        data={"ca.crt": base64.b64encode(CERT.encode()).decode()},
        stringData={"tls.crt": CERT, "tls.key": KEY},
    )
    assert read(given) == TlsTrust(ca=CERT, cert=CERT, key=KEY)
    assert "secret-key-material" not in repr(read(given))


def test_no_cert_secret_ref_is_none() -> None:
    assert cert_secret_trust(Reader("x"), {}, lambda _k: None, "apps") is None


@dataclass(frozen=True)
class Case:
    reason: str
    given: Resource | None
    want: str


CASES = [
    Case("missing", None, "spec.certSecretRef: Secret apps/tls is not defined in this directory"),
    Case("empty", secret(stringData={}), "Secret apps/tls has no ca.crt (nor tls.crt and tls.key)"),
    Case("not PEM", secret(stringData={"ca.crt": "hello"}), "ca.crt is not PEM"),
    Case(
        "half a pair",
        secret(stringData={"ca.crt": CERT, "tls.crt": CERT}),
        "tls.crt and tls.key go together (one is missing)",
    ),
    Case("bad base64", secret(data={"ca.crt": "!!"}), "data.ca.crt is not base64 text"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.reason)
def test_errors_name_the_source_and_the_field(case: Case) -> None:
    with pytest.raises(ValidationError) as raised:
        read(case.given)
    message = str(raised.value)
    assert "Bucket/apps/store" in message
    assert case.want in message


def test_files_are_private_and_gone_after_the_block() -> None:
    trust = TlsTrust(ca=CERT, cert=CERT, key=KEY)
    with trust.files() as written:
        assert written.key_file is not None and written.ca_file is not None
        assert written.key_file.read_text() == KEY
        assert stat.S_IMODE(os.stat(written.key_file).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(written.key_file.parent).st_mode) == 0o700
        where = written.key_file.parent
    assert not where.exists()
