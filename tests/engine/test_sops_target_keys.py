"""SOPS with AWS KMS (moto's KMS server) and PGP, and Flux's
``spec.decryption.secretRef`` read from the target (issue 14 item 6).

The repositories hold only what the real ``sops --encrypt`` wrote. gitwave's
own environment holds no key unless a test says so: HOME is a fresh
directory, no sops key variable is set, AWS credentials are unset and the
instance metadata service is turned off, so a key can only come from where
the test put it (gitwave's environment, or the Secret on the sandbox).
Nothing talks beyond 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git
import pytest
import yaml

from gitwave.engine.model import Resource, ResourceKey
from gitwave.engine.render.sops import sops_command
from gitwave.providers.sandbox import SandboxProvider
from gitwave.tui.cli import main
from tests.engine.kms_support import moto_kms_key
from tests.engine.test_sops import _KEY_VARIABLES, AgeKey, flux_docs, make_key

# Seconds each (moto, sops, gpg): `make test` runs them, test-fast does not.
pytestmark = pytest.mark.slow

REGION = "eu-west-1"
# Distinctive values: item 7's masking test greps every channel for them.
KMS_PASSWORD = "kms-plain-Vb82-distinct"
AGE_PASSWORD = "age-plain-Hw31-distinct"
PGP_PASSWORD = "pgp-plain-Qe57-distinct"
AWS_SECRET_KEY = "aws-secret-from-secretref-Lm04"
_AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_KMS",
)


@dataclass(frozen=True)
class Kms:
    endpoint: str
    key_arn: str


@pytest.fixture(scope="module")
def kms() -> Iterator[Kms]:
    with moto_kms_key(REGION, "gitwave sops test") as (endpoint, arn):
        yield Kms(endpoint, arn)


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for variable in (*_KEY_VARIABLES, *_AWS_VARIABLES):
        monkeypatch.delenv(variable, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GNUPGHOME", str(home / "no-gnupg"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "no-config"))
    monkeypatch.setenv("AWS_REGION", REGION)
    state = tmp_path / "state"
    monkeypatch.setenv("GITWAVE_STATE", str(state))
    monkeypatch.setenv("GITWAVE_SANDBOX_ROLLOUT", "0.05")
    monkeypatch.setenv("NO_COLOR", "1")
    return state


def secret_manifest(password: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "shop"},
        "type": "Opaque",
        "stringData": {"password": password},
    }


def sops_encrypt(path: Path, *key_flags: str, env: dict[str, str]) -> None:
    """Encrypt ``path`` in place with the real sops, as a user would before committing."""
    binary = sops_command()
    assert binary is not None
    proc = subprocess.run(
        [
            binary,
            "--disable-version-check",
            "--encrypt",
            *key_flags,
            "--encrypted-regex",
            "^(data|stringData)$",
            "--input-type",
            "yaml",
            "--output-type",
            "yaml",
            str(path),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    path.write_text(proc.stdout, encoding="utf-8")


def flux_repo(root: Path, password: str, *, secret_ref: str | None) -> Path:
    """A Flux layout: clusters/flux.yaml (GitRepository + Kustomization) and
    manifests/ with a Namespace and the Secret to encrypt."""
    manifests = root / "manifests"
    manifests.mkdir(parents=True)
    (manifests / "namespace.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    )
    (manifests / "secret.yaml").write_text(yaml.safe_dump(secret_manifest(password)))
    decryption = {"provider": "sops"}
    if secret_ref:
        decryption["secretRef"] = {"name": secret_ref}  # type: ignore[assignment]
    (root / "clusters").mkdir()
    (root / "clusters" / "flux.yaml").write_text(
        yaml.safe_dump_all(flux_docs(decryption), sort_keys=False)
    )
    git.Repo.init(root, initial_branch="main").close()
    return root


def put_key_secret(state: Path, name: str, entries: dict[str, bytes]) -> None:
    """The key Secret on the sandbox, as `kubectl create secret generic` makes it."""
    with SandboxProvider(state) as sandbox:
        for manifest in (
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}},
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "namespace": "flux-system"},
                "data": {k: base64.b64encode(v).decode() for k, v in entries.items()},
            },
        ):
            sandbox.apply(Resource(ResourceKey.of(manifest), "v1", manifest))


def synced_password(state: Path) -> str:
    with SandboxProvider(state) as sandbox:
        live = sandbox.observe(ResourceKey("", "Secret", "shop", "db"))
    assert live is not None
    return base64.b64decode(live.manifest["data"]["password"]).decode()


def sync(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, str, str]:
    code = main(["sync", str(path), "-o", "json"])
    out, err = capsys.readouterr()
    return code, out, err


def kms_encrypted_repo(tmp_path: Path, kms: Kms, *, secret_ref: str | None) -> Path:
    root = flux_repo(tmp_path / "repo", KMS_PASSWORD, secret_ref=secret_ref)
    sops_encrypt(
        root / "manifests" / "secret.yaml",
        "--kms",
        kms.key_arn,
        env={
            "AWS_ENDPOINT_URL": kms.endpoint,
            "AWS_ACCESS_KEY_ID": "test-admin",
            "AWS_SECRET_ACCESS_KEY": "test-admin",
        },
    )
    assert KMS_PASSWORD not in (root / "manifests" / "secret.yaml").read_text()
    return root


def test_kms_file_decrypts_with_gitwaves_own_endpoint_and_credentials(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    kms: Kms,
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = kms_encrypted_repo(tmp_path, kms, secret_ref=None)
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", kms.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "gitwave-own")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "gitwave-own-secret")

    code, out, err = sync(capsys, repo / "clusters")

    assert code == 0, err
    assert synced_password(clean_env) == KMS_PASSWORD
    assert KMS_PASSWORD not in out + err


def test_kms_credentials_come_from_the_secret_the_kustomization_names(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    kms: Kms,
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = kms_encrypted_repo(tmp_path, kms, secret_ref="sops-keys")
    monkeypatch.setenv("AWS_ENDPOINT_URL", kms.endpoint)  # where, from gitwave's config
    # Without the Secret's credentials sops finds none: the proof they are used.
    code, _, err = sync(capsys, repo / "clusters")
    assert code != 0
    assert "Kustomization/flux-system/app" in err and "Secret/flux-system/sops-keys" in err
    put_key_secret(
        clean_env,
        "sops-keys",
        {
            "sops.aws-kms": yaml.safe_dump(
                {"aws_access_key_id": "from-secret", "aws_secret_access_key": AWS_SECRET_KEY}
            ).encode()
        },
    )

    code, out, err = sync(capsys, repo / "clusters")

    assert code == 0, err
    assert synced_password(clean_env) == KMS_PASSWORD
    for value in (KMS_PASSWORD, AWS_SECRET_KEY):
        assert value not in out + err


def age_encrypted_repo(tmp_path: Path) -> tuple[Path, AgeKey]:
    """flux_repo holding AGE_PASSWORD, its Kustomization naming the Secret sops-age,
    encrypted for a fresh age key (held by no one but the test): the repo and key."""
    root = flux_repo(tmp_path / "repo", AGE_PASSWORD, secret_ref="sops-age")
    key = make_key(tmp_path, "flux")
    sops_encrypt(root / "manifests" / "secret.yaml", "--age", key.recipient, env={})
    return root, key


def test_a_missing_key_secret_is_a_clear_error_and_nothing_is_applied(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, clean_env: Path
) -> None:
    root, _key = age_encrypted_repo(tmp_path)

    code, out, err = sync(capsys, root / "clusters")

    assert code != 0
    assert "Kustomization/flux-system/app" in err
    assert "Secret/flux-system/sops-age is not on the target" in err
    assert "kubectl -n flux-system create secret generic sops-age" in err
    with SandboxProvider(clean_env) as sandbox:
        assert sandbox.observe(ResourceKey("", "Namespace", "", "shop")) is None
    assert AGE_PASSWORD not in out + err


def test_age_identity_comes_from_the_secret_the_kustomization_names(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, clean_env: Path
) -> None:
    root, key = age_encrypted_repo(tmp_path)
    put_key_secret(clean_env, "sops-age", {"age.agekey": key.key_file.read_bytes()})

    code, out, err = sync(capsys, root / "clusters")

    assert code == 0, err
    assert json.loads(out)[0]["health"] == "Healthy"
    assert synced_password(clean_env) == AGE_PASSWORD
    identity = key.key_file.read_text().strip()
    for value in (AGE_PASSWORD, identity):
        assert value not in out + err


def test_a_key_secret_without_sops_keys_is_refused_naming_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, clean_env: Path
) -> None:
    root, key = age_encrypted_repo(tmp_path)
    put_key_secret(clean_env, "sops-age", {"age.txt": key.key_file.read_bytes()})

    code, _, err = sync(capsys, root / "clusters")

    assert code != 0
    assert "Secret/flux-system/sops-age" in err and "holds no sops key" in err


def _gpg_key(home: Path) -> tuple[str, bytes]:
    """A fresh PGP key without a passphrase: its fingerprint and armored secret key."""
    gpg = shutil.which("gpg")
    assert gpg is not None, "gpg is needed for the PGP test (apt-get install gnupg)"
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(
        [
            gpg,
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            "gitwave-test",
            "default",
            "default",
            "never",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    listing = subprocess.run(
        [gpg, "--batch", "--with-colons", "--list-secret-keys"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    fingerprint = next(
        line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr")
    )
    armored = subprocess.run(
        [gpg, "--batch", "--armor", "--export-secret-keys", fingerprint],
        env=env,
        check=True,
        capture_output=True,
    ).stdout
    return fingerprint, armored


def test_pgp_key_comes_from_the_secret_the_kustomization_names(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, clean_env: Path
) -> None:
    root = flux_repo(tmp_path / "repo", PGP_PASSWORD, secret_ref="sops-gpg")
    owner_home = tmp_path / "owner-gnupg"
    fingerprint, armored = _gpg_key(owner_home)
    sops_encrypt(
        root / "manifests" / "secret.yaml",
        "--pgp",
        fingerprint,
        env={"GNUPGHOME": str(owner_home)},
    )
    subprocess.run(
        ["gpgconf", "--kill", "gpg-agent"],
        env={**os.environ, "GNUPGHOME": str(owner_home)},
        check=False,
        capture_output=True,
    )
    shutil.rmtree(owner_home, ignore_errors=True)  # the key now lives only in the Secret
    put_key_secret(clean_env, "sops-gpg", {"sops.asc": armored})

    code, out, err = sync(capsys, root / "clusters")

    assert code == 0, err
    assert synced_password(clean_env) == PGP_PASSWORD
    assert PGP_PASSWORD not in out + err
