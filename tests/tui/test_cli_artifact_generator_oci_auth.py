"""An ArtifactGenerator's OCIRepository source with credentials and a copied layer.

The registry is real (CNCF distribution, tests/oci_registry.py) and wants
bearer tokens from a token service that knows one user: the OCIRepository's
``spec.secretRef`` names a docker-registry Secret beside it whose
``.dockerconfigjson`` holds that user for the registry host. The right
password pulls; a wrong one fails naming the OCIRepository and its URL and
never printing the password. ``layerSelector.operation: copy`` keeps the
layer as one file (named by its title annotation) instead of extracting it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.oci_registry import OciRegistry, TokenService, start_registry
from tests.tui.artifact_support import (
    commit_fleet,
    configmap,
    live_data,
    oci_generator,
    shop_manifests,
)
from tests.tui.cli_support import commit, run, sandbox_state

PASSWORD = "s3cret-pw-7f2e"
WRONG = "wrong-pw-91ac"
YAML_LAYER = "application/vnd.gitwave.test.manifest.v1+yaml"


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch, own_cache=True)


@pytest.fixture(params=["token", "htpasswd"])
def authed(
    request: pytest.FixtureRequest, tmp_path: Path, oci_registry: OciRegistry
) -> Iterator[tuple[OciRegistry, TokenService | None]]:
    """A registry serving ``oci_registry``'s storage only to user robot: with
    bearer tokens from a token service, or with Basic auth (htpasswd)."""
    storage = oci_registry.root / "storage"
    if request.param == "htpasswd":
        users = {"robot": PASSWORD}
        with start_registry(tmp_path / "authed", storage=storage, htpasswd=users) as registry:
            yield registry, None
        return
    with (
        TokenService(users={"robot": PASSWORD}) as tokens,
        start_registry(tmp_path / "authed", storage=storage, token=tokens) as registry,
    ):
        yield registry, tokens


FLUX = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {{name: manifests, namespace: apps}}
spec:
  interval: 5m
  url: oci://{host}/team/manifests
  ref: {{tag: "1.0.0"}}
  secretRef: {{name: registry-creds}}
{selector}---
apiVersion: v1
kind: Secret
metadata: {{name: registry-creds, namespace: apps}}
type: kubernetes.io/dockerconfigjson
data:
  .dockerconfigjson: {config}
---
"""


def fleet(
    tmp_path: Path,
    registry: OciRegistry,
    password: str,
    *,
    selector: str = "",
    copy_from: str = "@oci/deploy/**",
) -> Path:
    auth = base64.b64encode(f"robot:{password}".encode()).decode()
    config = json.dumps({"auths": {registry.host: {"auth": auth}}})
    text = FLUX.format(
        host=registry.host,
        config=base64.b64encode(config.encode()).decode(),
        selector=selector,
    )
    return commit_fleet(tmp_path, text + oci_generator(copy_from))


def push(registry: OciRegistry, version: str) -> None:
    registry.push_artifact("team/manifests", "1.0.0", shop_manifests({"version": version}))


def test_the_secret_ref_credentials_answer_the_registry_challenge(
    tmp_path: Path,
    oci_registry: OciRegistry,
    authed: tuple[OciRegistry, TokenService | None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry, tokens = authed
    push(oci_registry, "authed")
    root = fleet(tmp_path, registry, PASSWORD)

    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    assert live_data(capsys, "web") == {"version": "authed"}
    if tokens is not None:  # asked as robot, for a pull of the repository
        assert ("robot", tokens.service, "repository:team/manifests:pull") in tokens.requests
    assert PASSWORD not in out + err
    # The Secret is read for the pull, not applied.
    code, out, err = run(capsys, "sandbox", "get", "secret/registry-creds", "-n", "apps")
    assert code != 0
    assert "Secret 'registry-creds' not found in namespace apps" in err


def test_wrong_credentials_name_the_oci_repository_and_url_not_the_password(
    tmp_path: Path,
    oci_registry: OciRegistry,
    authed: tuple[OciRegistry, TokenService | None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry, _tokens = authed
    push(oci_registry, "authed")
    root = fleet(tmp_path, registry, WRONG)

    code, out, err = run(capsys, "sync", str(root))
    assert code != 0
    assert "ArtifactGenerator/apps/compose" in err
    assert "OCIRepository/apps/manifests" in err
    assert f"oci://{registry.host}/team/manifests" in err
    assert "refused access (401)" in err
    for secret in (WRONG, base64.b64encode(f"robot:{WRONG}".encode()).decode()):
        assert secret not in out + err
    code, out, _err = run(capsys, "sandbox", "get", "configmap/web", "-n", "shop", "-o", "json")
    assert code != 0  # nothing applied


def test_a_copied_layer_is_kept_as_a_file(
    tmp_path: Path,
    oci_registry: OciRegistry,
    authed: tuple[OciRegistry, TokenService | None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry, _tokens = authed
    # A plain YAML layer: extracting it as tar+gzip would fail the pull.
    namespace = b"apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n"
    layer = namespace + configmap("web", {"from": "copy"})
    oci_registry.push_file("team/manifests", "1.0.0", "web.yaml", layer, YAML_LAYER)
    selector = f"  layerSelector: {{mediaType: {YAML_LAYER}, operation: copy}}\n"
    root = fleet(tmp_path, registry, PASSWORD, selector=selector, copy_from="@oci/web.yaml")

    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    data: dict[str, Any] = live_data(capsys, "web")
    assert data == {"from": "copy"}


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        (
            "  verify: {provider: cosign}\n",
            "spec.verify is not supported by gitwave (it cannot check cosign or notation "
            "signatures): remove it, and pin the artifact with spec.ref.digest instead",
        ),
        (
            "  certSecretRef: {name: ca}\n",
            "spec.certSecretRef: Secret apps/ca is not defined in this directory",
        ),
        (
            "  provider: aws\n",
            "spec.provider: 'aws' is not supported by gitwave (cloud workload identity): "
            "use provider generic with a spec.secretRef docker-registry Secret",
        ),
    ],
)
def test_what_gitwave_cannot_check_is_refused_naming_the_field(
    tmp_path: Path,
    oci_registry: OciRegistry,
    selector: str,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = fleet(tmp_path, oci_registry, PASSWORD, selector=selector)
    code, out, err = run(capsys, "plan", str(root))
    assert code == 2, out + err
    assert "ArtifactGenerator/apps/compose" in err
    assert message in err
    assert PASSWORD not in out + err


def test_a_secret_of_another_type_is_refused(
    tmp_path: Path, oci_registry: OciRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    root = fleet(tmp_path, oci_registry, PASSWORD)
    text = (root / "flux.yaml").read_text().replace("kubernetes.io/dockerconfigjson", "Opaque")
    (root / "flux.yaml").write_text(text)
    commit(root)
    code, out, err = run(capsys, "plan", str(root))
    assert code == 2, out + err
    assert (
        "spec.secretRef: Secret apps/registry-creds is of type 'Opaque', "
        "not kubernetes.io/dockerconfigjson"
    ) in err
    assert PASSWORD not in out + err
