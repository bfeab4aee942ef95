"""Sources behind TLS with their own CA: a Flux source's ``spec.certSecretRef``
(a Secret beside it with ``ca.crt``), onto the sandbox.

The CA and certificates are real (openssl, tests/tls_certs.py). An OCI
registry (CNCF distribution) serves HTTPS only with a certificate that CA
signed; an OCIRepository feeding an ArtifactGenerator pulls from it when its
certSecretRef trusts that CA, and fails naming the OCIRepository and the
URL when it trusts another CA or none. A Helm repository served over HTTPS
(Python's http.server with ssl, wanting a client certificate) and an OCI
registry holding a chart are read by HelmReleases the same way, through
``helm pull --ca-file=`` for OCI; so is a Bucket on moto's S3 server run
behind HTTPS.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from gitwave.engine.render.charts import forget_indexes
from tests.engine.helm_support import (
    CONFIGMAP,
    ChartRepo,
    helm_binary,
    serve_chart_repo,
    write_chart,
)
from tests.oci_registry import OciRegistry, start_registry
from tests.tls_certs import TlsMaterial, make_tls
from tests.tui.artifact_support import (
    NAMESPACE,
    commit_fleet,
    configmap,
    live_data,
    oci_generator,
    shop_manifests,
)
from tests.tui.cli_support import run, sandbox_state


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
    oci_registry.push_artifact("team/manifests", "1.0.0", shop_manifests({"served": "over-tls"}))
    with serve_over_tls(tmp_path, oci_registry, tls) as registry:
        yield registry


@contextlib.contextmanager
def serve_over_tls(
    tmp_path: Path, oci_registry: OciRegistry, tls: TlsMaterial
) -> Iterator[OciRegistry]:
    """A registry serving ``oci_registry``'s storage over HTTPS only."""
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
"""

CERT_REF = "  certSecretRef: {name: registry-ca}\n"


def oci_fleet(tmp_path: Path, registry: OciRegistry, ca: Path, cert_ref: str = CERT_REF) -> Path:
    text = OCI.format(host=registry.host, cert_ref=cert_ref, ca=indented(ca))
    return commit_fleet(tmp_path, text + oci_generator())


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


# --- HelmRepository (HTTP index, and type oci) -------------------------------


def server_context(tls: TlsMaterial, *, client_certs: bool) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.server_cert, tls.server_key)
    if client_certs:  # the repository wants a client certificate its CA signed
        context.load_verify_locations(cafile=tls.ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


@pytest.fixture
def https_charts(tmp_path: Path, tls: TlsMaterial) -> Iterator[ChartRepo]:
    forget_indexes()
    with serve_chart_repo(tmp_path / "charts", tls=server_context(tls, client_certs=True)) as repo:
        repo.publish(
            write_chart(tmp_path / "src", "web", "1.0.0", templates={"cm.yaml": CONFIGMAP})
        )
        yield repo
    forget_indexes()


CERT_SECRET = """\
apiVersion: v1
kind: Secret
metadata: {{name: repo-tls, namespace: apps}}
stringData:
  ca.crt: |
{ca}{client}---
"""

RELEASE = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: web, namespace: apps}}
spec:
  interval: 5m
  install: {{createNamespace: true}}
  chart:
    spec:
      chart: web
      version: "1.x"
      sourceRef: {{kind: HelmRepository, name: charts}}
  values: {{greeting: {greeting}}}
"""


def helm_fleet(tmp_path: Path, repository: str, tls: TlsMaterial, ca: Path, greeting: str) -> Path:
    client = f"  tls.crt: |\n{indented(tls.client_cert)}  tls.key: |\n{indented(tls.client_key)}"
    text = (
        CERT_SECRET.format(ca=indented(ca), client=client)
        + repository
        + "---\n"
        + RELEASE.format(greeting=greeting)
    )
    return commit_fleet(tmp_path, text, "web.yaml")


def settings(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    code, out, err = run(
        capsys, "sandbox", "get", "configmap/web-settings", "-n", "apps", "-o", "json"
    )
    assert code == 0, err
    data: dict[str, str] = json.loads(out)["data"]
    return data


@pytest.mark.parametrize("trusted", [True, False], ids=["its CA", "another CA"])
def test_an_https_helm_repository_with_its_own_ca_and_a_client_certificate(
    tmp_path: Path,
    https_charts: ChartRepo,
    tls: TlsMaterial,
    trusted: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repository = f"""\
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {{name: charts, namespace: apps}}
spec: {{interval: 10m, url: "{https_charts.url}", certSecretRef: {{name: repo-tls}}}}
"""
    ca, greeting = (tls.ca, "over-https") if trusted else (tls.other_ca, "never")
    root = helm_fleet(tmp_path, repository, tls, ca, greeting)
    code, out, err = run(capsys, "sync", str(root))
    assert "BEGIN PRIVATE KEY" not in out + err
    if trusted:
        assert code == 0, out + err
        assert settings(capsys)["greeting"] == "over-https"
    else:  # trusting another CA names the URL
        assert code != 0, out + err
        assert "HelmRelease" in err and "web.yaml" in err
        assert f"{https_charts.url}/index.yaml" in err
        assert "CERTIFICATE_VERIFY_FAILED" in err
        code, _out, _err = run(capsys, "sandbox", "get", "configmap/web-settings", "-n", "apps")
        assert code != 0  # nothing applied


@pytest.fixture
def tls_chart_registry(
    tmp_path: Path, oci_registry: OciRegistry, tls: TlsMaterial
) -> Iterator[OciRegistry]:
    chart = write_chart(tmp_path / "src", "web", "1.0.0", templates={"cm.yaml": CONFIGMAP})
    subprocess.run(
        [helm_binary(), "package", str(chart), "--destination", str(tmp_path / "pkg")],
        check=True,
        capture_output=True,
    )
    oci_registry.push_chart(tmp_path / "pkg" / "web-1.0.0.tgz", "charts")
    with serve_over_tls(tmp_path, oci_registry, tls) as registry:
        yield registry


@pytest.mark.parametrize("trusted", [True, False], ids=["its CA", "another CA"])
def test_an_oci_helm_repository_over_tls(
    tmp_path: Path,
    tls_chart_registry: OciRegistry,
    tls: TlsMaterial,
    trusted: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repository = f"""\
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {{name: charts, namespace: apps}}
spec:
  type: oci
  interval: 10m
  url: oci://{tls_chart_registry.host}/charts
  certSecretRef: {{name: repo-tls}}
"""
    root = helm_fleet(tmp_path, repository, tls, tls.ca if trusted else tls.other_ca, "oci")
    code, out, err = run(capsys, "sync", str(root))
    if trusted:
        assert code == 0, out + err
        assert settings(capsys)["greeting"] == "oci"
    else:
        assert code != 0, out + err
        assert f"oci://{tls_chart_registry.host}/charts/web" in err
        assert "certificate" in err


# --- Bucket (moto's S3 over HTTPS) --------------------------------------------

ACCESS_KEY = "tls-bucket-access"
SECRET_KEY = "tls-bucket-secret-Jk29"


@pytest.fixture(scope="module")
def https_s3(tls: TlsMaterial) -> Iterator[str]:
    """moto's S3 server (the one ThreadedMotoServer runs) behind HTTPS with the test CA."""
    from moto.server import (
        DomainDispatcherApplication,
        MotoRequestHandler,  # type: ignore[attr-defined]
        create_backend_app,
    )
    from werkzeug.serving import make_server

    server = make_server(
        "127.0.0.1",
        0,
        DomainDispatcherApplication(create_backend_app),
        threaded=True,
        request_handler=MotoRequestHandler,
        ssl_context=server_context(tls, client_certs=False),
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()


@pytest.fixture
def tls_bucket(https_s3: str, tls: TlsMaterial) -> str:
    name = f"tls-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=f"https://{https_s3}",
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        verify=str(tls.ca),
    )
    client.create_bucket(Bucket=name)
    client.put_object(Bucket=name, Key="deploy/ns.yaml", Body=NAMESPACE)
    client.put_object(Bucket=name, Key="deploy/web.yaml", Body=configmap("web", {"via": "s3"}))
    return name


BUCKET = """\
apiVersion: v1
kind: Secret
metadata: {{name: s3-creds, namespace: apps}}
stringData: {{accesskey: {access}, secretkey: {secret}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: s3-ca, namespace: apps}}
stringData:
  ca.crt: |
{ca}---
apiVersion: source.toolkit.fluxcd.io/v1
kind: Bucket
metadata: {{name: store, namespace: apps}}
spec:
  interval: 5m
  provider: generic
  bucketName: {bucket}
  endpoint: "{endpoint}"
  secretRef: {{name: s3-creds}}
  certSecretRef: {{name: s3-ca}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: shop, namespace: apps}}
spec:
  interval: 10m
  prune: true
  targetNamespace: shop
  path: ./deploy
  sourceRef: {{kind: Bucket, name: store}}
"""


@pytest.mark.parametrize("trusted", [True, False], ids=["its CA", "another CA"])
def test_a_bucket_over_https_trusts_the_ca_of_its_cert_secret_ref(
    tmp_path: Path,
    https_s3: str,
    tls_bucket: str,
    tls: TlsMaterial,
    trusted: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ca = tls.ca if trusted else tls.other_ca
    text = BUCKET.format(
        access=ACCESS_KEY, secret=SECRET_KEY, ca=indented(ca), bucket=tls_bucket, endpoint=https_s3
    )
    root = commit_fleet(tmp_path, text)
    code, out, err = run(capsys, "sync", str(root))
    assert SECRET_KEY not in out + err
    if trusted:
        assert code == 0, out + err
        assert live_data(capsys, "web") == {"via": "s3"}
    else:
        assert code != 0, out + err
        assert "Bucket/apps/store" in err
        assert f"https://{https_s3}" in err
        assert "CERTIFICATE_VERIFY_FAILED" in err
