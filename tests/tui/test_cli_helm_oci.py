"""Charts from an OCI registry (issue 12 items 3 and 4): a real registry
(CNCF distribution, the ``oci_registry`` fixture) with charts pushed by the
real ``helm push``; a Flux HelmRelease through a ``type: oci`` HelmRepository
and through an OCIRepository ``chartRef``, and an Argo CD Application with an
``oci://`` repoURL, synced onto the sandbox."""

from __future__ import annotations

import hashlib
import json
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.engine.helm_support import helm_binary, write_chart
from tests.oci_registry import OciRegistry
from tests.tui.cli_support import commit, run, sandbox_state


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch, own_cache=True)


@pytest.fixture
def registry(oci_registry: OciRegistry, tmp_path: Path) -> OciRegistry:
    for version in ("1.0.0", "1.1.0", "2.0.0"):
        chart = write_chart(tmp_path / "src" / version, "web", version)
        subprocess.run(
            [helm_binary(), "package", str(chart), "--destination", str(tmp_path / "pkg")],
            check=True,
            capture_output=True,
        )
        oci_registry.push_chart(tmp_path / "pkg" / f"web-{version}.tgz", "charts")
    return oci_registry


def settings(capsys: pytest.CaptureFixture[str], name: str, namespace: str) -> dict[str, Any]:
    code, out, err = run(
        capsys, "sandbox", "get", f"configmap/{name}", "-n", namespace, "-o", "json"
    )
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)["data"]
    return data


def test_helm_release_from_an_oci_helm_repository(
    tmp_path: Path, registry: OciRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "web.yaml").write_text(
        f"""apiVersion: v1
kind: Namespace
metadata: {{name: apps}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {{name: charts, namespace: apps}}
spec:
  type: oci
  insecure: true
  interval: 5m
  url: oci://{registry.host}/charts
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: web, namespace: apps}}
spec:
  interval: 5m
  chart:
    spec:
      chart: web
      version: 1.x
      sourceRef: {{kind: HelmRepository, name: charts}}
  values: {{greeting: from-oci}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {{name: web-chart, namespace: apps}}
spec:
  interval: 5m
  url: oci://{registry.host}/charts/web
  insecure: true
  ref: {{tag: 2.0.0}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: web2, namespace: apps}}
spec:
  interval: 5m
  chartRef: {{kind: OCIRepository, name: web-chart}}
"""
    )
    commit(root)
    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    assert settings(capsys, "web-settings", "apps") == {"greeting": "from-oci", "chart": "1.1.0"}
    assert settings(capsys, "web2-settings", "apps")["chart"] == "2.0.0"


def test_argo_application_with_an_oci_chart(
    tmp_path: Path, registry: OciRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "apps"
    root.mkdir()
    (root / "web.yaml").write_text(
        f"""apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: web}}
spec:
  source:
    repoURL: oci://{registry.host}/charts
    chart: web
    targetRevision: 1.0.0
  destination: {{server: https://kubernetes.default.svc, namespace: shop}}
  syncPolicy: {{syncOptions: [CreateNamespace=true]}}
"""
    )
    commit(root)
    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    assert settings(capsys, "web-settings", "shop")["chart"] == "1.0.0"

    # The registry goes away: the cached chart still renders; a version not cached
    # fails naming the reference, and nothing is pruned.
    registry.stop()
    assert run(capsys, "plan", str(root))[0] == 0
    (root / "web.yaml").write_text((root / "web.yaml").read_text().replace("1.0.0", "2.0.0"))
    commit(root)
    code, out, err = run(capsys, "sync", str(root), "--prune")
    assert code != 0
    assert f"cannot fetch chart oci://{registry.host}/charts/web" in out + err
    assert settings(capsys, "web-settings", "shop")["chart"] == "1.0.0"


def test_an_oci_repository_chart_pinned_by_digest(
    tmp_path: Path, registry: OciRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    """``spec.ref.digest`` pins the chart's manifest, whatever its tag says later."""
    manifest = urllib.request.Request(
        f"{registry.url}/v2/charts/web/manifests/1.1.0",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    with urllib.request.urlopen(manifest, timeout=30) as response:
        digest = "sha256:" + hashlib.sha256(response.read()).hexdigest()
    root = tmp_path / "repo"
    root.mkdir()
    text = f"""apiVersion: v1
kind: Namespace
metadata: {{name: apps}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {{name: web-chart, namespace: apps}}
spec:
  interval: 5m
  url: oci://{registry.host}/charts/web
  ref: {{digest: "{digest}"}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: web, namespace: apps}}
spec:
  interval: 5m
  chartRef: {{kind: OCIRepository, name: web-chart}}
"""
    (root / "web.yaml").write_text(text)
    commit(root)
    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    assert settings(capsys, "web-settings", "apps")["chart"] == "1.1.0"

    # A digest the registry does not hold names the OCIRepository and the URL.
    (root / "web.yaml").write_text(text.replace(digest, "sha256:" + "0" * 64))
    commit(root)
    code, out, err = run(capsys, "plan", str(root))
    assert code == 2, out + err
    assert "OCIRepository/apps/web-chart" in err
    assert f"http://{registry.host}/v2/charts/web/manifests/sha256:{'0' * 64}" in err
