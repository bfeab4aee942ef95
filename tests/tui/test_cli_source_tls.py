"""Sources behind TLS with their own CA: a Flux source's ``spec.certSecretRef``
(a Secret beside it with ``ca.crt``), onto the sandbox.

The CA and certificates are real (openssl, tests/tls_certs.py). An OCI
registry (CNCF distribution) serves HTTPS only with a certificate that CA
signed; an OCIRepository feeding an ArtifactGenerator pulls from it when its
certSecretRef trusts that CA, and fails naming the OCIRepository and the
URL when it trusts another CA or none.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.oci_registry import OciRegistry, start_registry
from tests.tls_certs import TlsMaterial, make_tls
from tests.tui.cli_support import run, sandbox_state
from tests.tui.test_cli_artifact_generator_oci import commit_all, configmap, live_data


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch, own_cache=True)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_registry(
    tmp_path: Path, oci_registry: OciRegistry, tls: TlsMaterial
) -> Iterator[OciRegistry]:
    """``oci_registry``'s storage served over HTTPS only."""
    oci_registry.push_artifact(
        "team/manifests",
        "1.0.0",
        {
            "deploy/ns.yaml": b"apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
            "deploy/web.yaml": configmap("web", {"served": "over-tls"}),
        },
    )
    material = (tls.server_cert, tls.server_key, tls.ca)
    with start_registry(
        tmp_path / "tls", storage=oci_registry.root / "storage", tls=material
    ) as registry:
        yield registry


def indented(pem: Path) -> str:
    return "".join(f"    {line}\n" for line in pem.read_text().splitlines())


OCI = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {{name: manifests, namespace: apps}}
spec:
  interval: 5m
  url: oci://{host}/team/manifests
  ref: {{semver: ">=1.0.0"}}
{cert_ref}---
apiVersion: v1
kind: Secret
metadata: {{name: registry-ca, namespace: apps}}
stringData:
  ca.crt: |
{ca}---
apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata: {{name: compose, namespace: apps}}
spec:
  sources:
    - {{alias: oci, kind: OCIRepository, name: manifests}}
  artifacts:
    - name: shop
      copy:
        - {{from: "@oci/deploy/**", to: "@artifact/"}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: shop, namespace: apps}}
spec:
  interval: 10m
  prune: true
  targetNamespace: shop
  path: ./
  sourceRef: {{kind: ExternalArtifact, name: shop}}
"""

CERT_REF = "  certSecretRef: {name: registry-ca}\n"


def oci_fleet(tmp_path: Path, registry: OciRegistry, ca: Path, cert_ref: str = CERT_REF) -> Path:
    root = tmp_path / "fleet"
    root.mkdir(exist_ok=True)
    text = OCI.format(host=registry.host, cert_ref=cert_ref, ca=indented(ca))
    (root / "flux.yaml").write_text(text)
    commit_all(root)
    return root


def test_an_oci_repository_trusts_the_ca_of_its_cert_secret_ref(
    tmp_path: Path, tls_registry: OciRegistry, tls: TlsMaterial, capsys: pytest.CaptureFixture[str]
) -> None:
    root = oci_fleet(tmp_path, tls_registry, tls.ca)
    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    assert live_data(capsys, "web") == {"served": "over-tls"}


@pytest.mark.parametrize("trust", ["another CA", "no certSecretRef"])
def test_an_untrusted_registry_names_the_oci_repository_and_the_url(
    tmp_path: Path,
    tls_registry: OciRegistry,
    tls: TlsMaterial,
    trust: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if trust == "another CA":
        root = oci_fleet(tmp_path, tls_registry, tls.other_ca)
    else:
        root = oci_fleet(tmp_path, tls_registry, tls.ca, cert_ref="")
    code, out, err = run(capsys, "sync", str(root))
    assert code != 0, out + err
    assert "OCIRepository/apps/manifests" in err
    if trust == "another CA":
        assert f"https://{tls_registry.host}/v2/team/manifests/tags/list" in err
        assert "CERTIFICATE_VERIFY_FAILED" in err
    else:  # a registry on this host is asked over plain HTTP without TLS material
        assert f"http://{tls_registry.host}/v2/team/manifests/tags/list" in err
    code, _out, _err = run(capsys, "sandbox", "get", "configmap/web", "-n", "shop")
    assert code != 0  # nothing applied
