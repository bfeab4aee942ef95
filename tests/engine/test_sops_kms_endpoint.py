"""SOPS with AWS KMS at the AWS endpoint gitwave itself uses (issue 14 item 6):
the sandbox's embedded emulator, or a ProviderConfig's endpoint (a moto server).

Every step is a fresh ``gitwave`` process with the real sops binary, in an
environment holding no AWS endpoint or credential: sops can only reach KMS
through what gitwave hands it. Nothing talks beyond 127.0.0.1.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import git
import pytest
import yaml

from gitwave.engine.model import Resource, ResourceKey
from gitwave.providers.sandbox import SandboxProvider
from tests.engine.kms_support import moto_kms_key

# Fresh processes that start moto and sops: `make test` runs them, test-fast does not.
pytestmark = pytest.mark.slow

GITWAVE = Path(sys.executable).parent / "gitwave"
REGION = "eu-west-1"
# Distinctive values, grepped for in every output.
PASSWORD = "kms-endpoint-plain-Zt63-distinct"
PROVIDER_SECRET_KEY = "providerconfig-secret-Pq19"
_AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_KMS",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "SOPS_AGE_KEY",
    "SOPS_AGE_KEY_FILE",
    "SOPS_KMS_ARN",
)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    clean = {k: v for k, v in os.environ.items() if k not in _AWS_VARIABLES}
    return {
        **clean,
        "HOME": str(home),
        "GNUPGHOME": str(home / "no-gnupg"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
        "AWS_CONFIG_FILE": str(home / "no-config"),
        "GITWAVE_STATE": str(tmp_path / "state"),
        "GITWAVE_SANDBOX_ROLLOUT": "0.05",
        "NO_COLOR": "1",
    }


def gitwave(
    env: dict[str, str], *argv: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(GITWAVE), *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
        timeout=240,
    )


def secret_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "db", "namespace": "default"},
                "type": "Opaque",
                "stringData": {"password": PASSWORD},
            }
        )
    )


def commit(root: Path) -> None:
    repo = git.Repo.init(root, initial_branch="main")
    repo.git.add(A=True)
    repo.index.commit("secrets")
    repo.close()


def live_password(state: Path) -> str:
    with SandboxProvider(state) as sandbox:
        live = sandbox.observe(ResourceKey("", "Secret", "default", "db"))
    assert live is not None
    return base64.b64decode(live.manifest["data"]["password"]).decode()


def test_a_key_made_in_the_sandbox_emulator_decrypts_on_sync(
    tmp_path: Path, env: dict[str, str]
) -> None:
    created = gitwave(env, "sandbox", "kms", "create-key", "--alias", "sops")
    assert created.returncode == 0, created.stderr
    arn = created.stdout.strip()
    assert arn.startswith("arn:aws:kms:us-east-1:") and ":key/" in arn

    repo = tmp_path / "repo"
    secret_file(repo / "secret.yaml")
    # A later process: the key must have survived in the emulator's snapshot.
    encrypted = gitwave(
        env,
        "sandbox",
        "aws-exec",
        "--",
        "sops",
        "--encrypt",
        "--in-place",
        "--kms",
        arn,
        "--encrypted-regex",
        "^(data|stringData)$",
        "secret.yaml",
        cwd=repo,
    )
    assert encrypted.returncode == 0, encrypted.stderr
    assert PASSWORD not in (repo / "secret.yaml").read_text()
    assert arn in (repo / "secret.yaml").read_text()
    commit(repo)

    synced = gitwave(env, "sync", str(repo))
    planned = gitwave(env, "plan", str(repo))

    assert synced.returncode == 0, synced.stderr
    assert "created    Secret/default/db" in synced.stdout
    assert live_password(Path(env["GITWAVE_STATE"])) == PASSWORD
    assert planned.returncode == 0, planned.stdout + planned.stderr
    for result in (created, encrypted, synced, planned):
        assert PASSWORD not in result.stdout + result.stderr


def test_without_the_emulator_key_sync_fails_naming_the_file_and_applies_nothing(
    tmp_path: Path, env: dict[str, str]
) -> None:
    # A key of another emulator (another state directory): this sandbox's has none.
    other = {**env, "GITWAVE_STATE": str(tmp_path / "other-state")}
    arn = gitwave(other, "sandbox", "kms", "create-key").stdout.strip()
    repo = tmp_path / "repo"
    secret_file(repo / "secret.yaml")
    encrypted = gitwave(
        other,
        "sandbox",
        "aws-exec",
        "--",
        "sops",
        "-e",
        "-i",
        "--kms",
        arn,
        "secret.yaml",
        cwd=repo,
    )
    assert encrypted.returncode == 0, encrypted.stderr
    commit(repo)

    synced = gitwave(env, "sync", str(repo))

    assert synced.returncode != 0
    assert "secret.yaml" in synced.stderr and "sops could not decrypt" in synced.stderr
    with SandboxProvider(Path(env["GITWAVE_STATE"])) as sandbox:
        assert sandbox.observe(ResourceKey("", "Secret", "default", "db")) is None
    assert PASSWORD not in synced.stdout + synced.stderr


@pytest.fixture
def moto_kms() -> Iterator[tuple[str, str]]:
    with moto_kms_key(REGION, "ProviderConfig KMS") as made:
        yield made


def test_the_provider_config_endpoint_and_credentials_reach_sops(
    tmp_path: Path, env: dict[str, str], moto_kms: tuple[str, str]
) -> None:
    endpoint, arn = moto_kms
    repo = tmp_path / "repo"
    # Flux layout: infra (the ProviderConfig) first, then the app that needs KMS.
    (repo / "infra").mkdir(parents=True)
    (repo / "infra" / "providerconfig.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "aws.crossplane.io/v1beta1",
                "kind": "ProviderConfig",
                "metadata": {"name": "default"},
                "spec": {
                    "endpoint": {"url": {"type": "Static", "static": endpoint}},
                    "credentials": {
                        "source": "Secret",
                        "secretRef": {
                            "namespace": "crossplane-system",
                            "name": "aws-creds",
                            "key": "credentials",
                        },
                    },
                },
            }
        )
    )
    secret_file(repo / "app" / "secret.yaml")
    subprocess.run(
        ["sops", "-e", "-i", "--kms", arn, str(repo / "app" / "secret.yaml")],
        env={
            **env,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "admin",
            "AWS_SECRET_ACCESS_KEY": "admin",
        },
        check=True,
        capture_output=True,
    )
    kustomizations = [
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": {
                "interval": "5m",
                "path": f"./{name}",
                "prune": True,
                "sourceRef": {"kind": "GitRepository", "name": "repo"},
                **({"dependsOn": [{"name": "infra"}]} if name == "app" else {}),
                **({"decryption": {"provider": "sops"}} if name == "app" else {}),
            },
        }
        for name in ("infra", "app")
    ]
    (repo / "clusters").mkdir()
    (repo / "clusters" / "flux.yaml").write_text(
        yaml.safe_dump_all(
            [
                {
                    "apiVersion": "source.toolkit.fluxcd.io/v1",
                    "kind": "GitRepository",
                    "metadata": {"name": "repo", "namespace": "flux-system"},
                    "spec": {"interval": "1m", "url": "."},
                },
                *kustomizations,
            ],
            sort_keys=False,
        )
    )
    commit(repo)
    # The credentials Secret, made by hand as Crossplane users do; never in Git.
    state = Path(env["GITWAVE_STATE"])
    credentials = (
        f"[default]\naws_access_key_id = pc-user\naws_secret_access_key = {PROVIDER_SECRET_KEY}\n"
    )
    with SandboxProvider(state) as sandbox:
        for manifest in (
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "crossplane-system"}},
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "aws-creds", "namespace": "crossplane-system"},
                "data": {"credentials": base64.b64encode(credentials.encode()).decode()},
            },
        ):
            sandbox.apply(Resource(ResourceKey.of(manifest), "v1", manifest))

    synced = gitwave(env, "sync", str(repo / "clusters"))

    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert live_password(state) == PASSWORD
    for value in (PASSWORD, PROVIDER_SECRET_KEY):
        assert value not in synced.stdout + synced.stderr
