"""gitwave's SealedSecrets against the real kubeseal v0.40.0, both ways (issue 14 item 5).

kubeseal is built from the Go module proxy (``peers.py``, fixture
``sealed_secrets_peers``); it never talks to a cluster here: ``--cert`` and
``--recovery-private-key`` are files, and KUBECONFIG names no file.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitwave.providers.sealed_secrets import CERT_FILE, KEY_FILE
from tests.sealedsecrets.helpers import (
    PASSWORD,
    SECRET_VALUES,
    TOKEN,
    decoded,
    live_secret,
    run,
    secret_doc,
    write_repo,
)

# Seconds each (the real kubeseal, built from Go): `make test` runs them, test-fast does not.
pytestmark = pytest.mark.slow


def kubeseal(peers: Path, tmp_path: Path, *args: str, stdin: str) -> str:
    proc = subprocess.run(
        [str(peers / "kubeseal"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECONFIG": str(tmp_path / "no-kubeconfig")},
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def without_ciphertext(sealed: dict[str, Any]) -> dict[str, Any]:
    """``sealed`` with each ciphertext replaced by its key: they are random per seal."""
    copy = json.loads(json.dumps(sealed))
    copy["spec"]["encryptedData"] = {k: "…" for k in copy["spec"]["encryptedData"]}
    return copy


@dataclass(frozen=True)
class Scope:
    flags: tuple[str, ...]
    moved_to: tuple[str, str]


SCOPES = {
    "strict": Scope((), ("shop", "db")),
    "namespace-wide": Scope(("--scope", "namespace-wide"), ("shop", "renamed")),
    "cluster-wide": Scope(("--scope", "cluster-wide"), ("bank", "renamed")),
}


@pytest.mark.parametrize("scope", sorted(SCOPES))
def test_kubeseal_seals_with_the_sandbox_certificate_and_gitwave_unseals_on_sync(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    state: Path,
    sealed_secrets_peers: Path,
    scope: str,
) -> None:
    code, cert, _ = run(capsys, "seal", "--fetch-cert")
    assert code == 0
    (tmp_path / "cert.pem").write_text(cert)
    case = SCOPES[scope]
    sealed = yaml.safe_load(
        kubeseal(
            sealed_secrets_peers,
            tmp_path,
            "--cert",
            str(tmp_path / "cert.pem"),
            "-o",
            "yaml",
            *case.flags,
            stdin=yaml.safe_dump(secret_doc()),
        )
    )
    namespace, name = case.moved_to
    sealed["metadata"].update(namespace=namespace, name=name)
    repo = write_repo(tmp_path / "repo", yaml.safe_dump(sealed), namespace=namespace)

    code, out, err = run(capsys, "sync", str(repo), "-o", "json")

    assert code == 0, err
    assert json.loads(out)[0]["health"] == "Healthy"
    secret = live_secret(state, namespace, name)
    assert secret is not None
    assert decoded(secret) == {"password": PASSWORD, "token": TOKEN}
    for value in SECRET_VALUES:
        assert value not in out + err


@pytest.mark.parametrize("scope", sorted(SCOPES))
def test_kubeseal_recovery_unseal_opens_what_gitwave_sealed(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    state: Path,
    sealed_secrets_peers: Path,
    scope: str,
) -> None:
    source = tmp_path / "secret.yaml"
    source.write_text(yaml.safe_dump(secret_doc()))
    code, sealed_json, err = run(capsys, "seal", "-f", str(source), *SCOPES[scope].flags)
    assert code == 0, err

    opened = yaml.safe_load(
        kubeseal(
            sealed_secrets_peers,
            tmp_path,
            "--recovery-unseal",
            "--recovery-private-key",
            str(state / KEY_FILE),
            "-o",
            "yaml",
            stdin=sealed_json,
        )
    )

    assert opened["kind"] == "Secret"
    assert opened["metadata"]["labels"] == {"team": "payments"}
    assert {k: base64.b64decode(v).decode() for k, v in opened["data"].items()} == {
        "password": PASSWORD,
        "token": TOKEN,
    }


@pytest.mark.parametrize("output", ["json", "yaml"])
@pytest.mark.parametrize("scope", sorted(SCOPES))
def test_gitwave_seal_prints_what_kubeseal_prints_but_the_ciphertext(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    state: Path,
    sealed_secrets_peers: Path,
    scope: str,
    output: str,
) -> None:
    source = tmp_path / "secret.yaml"
    doc = secret_doc(annotations={"reloader.example/match": "true"})
    source.write_text(yaml.safe_dump(doc))
    flags = SCOPES[scope].flags
    code, ours, err = run(capsys, "seal", "-f", str(source), "-o", output, *flags)
    assert code == 0, err
    theirs = kubeseal(
        sealed_secrets_peers,
        tmp_path,
        "--cert",
        str(state / CERT_FILE),
        "-o",
        output,
        *flags,
        stdin=source.read_text(),
    )

    parse = json.loads if output == "json" else yaml.safe_load
    assert without_ciphertext(parse(ours)) == without_ciphertext(parse(theirs))
    # Byte for byte, once each ciphertext (random per seal) is set aside.
    mine, kubeseals = ours, theirs
    for text_value in parse(ours)["spec"]["encryptedData"].values():
        mine = mine.replace(text_value, "CIPHERTEXT")
    for text_value in parse(theirs)["spec"]["encryptedData"].values():
        kubeseals = kubeseals.replace(text_value, "CIPHERTEXT")
    assert mine == kubeseals
