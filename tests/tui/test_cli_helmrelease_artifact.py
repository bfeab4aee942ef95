"""A HelmRelease whose chart is an ExternalArtifact (Flux 2.7 ``chartRef``).

Real Git repositories in tmp_path: a chart repository holding a chart directory
and a fleet repository with an ArtifactGenerator that copies the chart into an
artifact, a Kustomization and the HelmRelease naming the artifact; real helm
renders it onto the sandbox.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.engine.helm_support import helm_binary, write_chart
from tests.tui.cli_support import commit, run, sandbox_state


@pytest.fixture(autouse=True)
def sandbox_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return sandbox_state(tmp_path, monkeypatch, own_cache=True)


FLUX = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: charts, namespace: flux-system}}
spec: {{interval: 1m, url: "{url}", ref: {{branch: main}}}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: here, namespace: flux-system}}
spec: {{interval: 1m, url: .}}
---
apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata: {{name: charts, namespace: flux-system}}
spec:
  sources:
    - {{alias: charts, kind: GitRepository, name: charts}}
  artifacts:
    - name: api-chart
      copy:
        - {{from: "{copy}", to: "@artifact/"}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: apps, namespace: flux-system}}
spec:
  interval: 10m
  prune: true
  path: ./apps
  sourceRef: {{kind: GitRepository, name: here}}
"""

RELEASE = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: api, namespace: flux-system}}
spec:
  interval: 5m
  releaseName: api
  targetNamespace: shop
  install: {{createNamespace: true}}
  values: {{greeting: from-artifact}}
  chartRef: {{kind: ExternalArtifact, name: {artifact}, namespace: flux-system}}
"""


def fleet(tmp_path: Path, charts: Path, *, copy: str, artifact: str = "api-chart") -> Path:
    root = tmp_path / "fleet"
    (root / "clusters").mkdir(parents=True)
    (root / "apps").mkdir()
    (root / "clusters" / "flux.yaml").write_text(FLUX.format(url=charts, copy=copy))
    (root / "apps" / "release.yaml").write_text(RELEASE.format(artifact=artifact))
    commit(root, initial_branch="main")
    return root


@pytest.fixture
def charts(tmp_path: Path) -> Path:
    root = tmp_path / "charts"
    chart = write_chart(root / "charts", "api", "0.3.0")
    helm = helm_binary()
    (root / "packaged").mkdir()
    subprocess.run(
        [helm, "package", str(chart), "--destination", str(root / "packaged")],
        check=True,
        capture_output=True,
    )
    commit(root, initial_branch="main")
    return root


def live(capsys: pytest.CaptureFixture[str], what: str, namespace: str) -> dict[str, Any]:
    code, out, err = run(capsys, "sandbox", "get", what, "-n", namespace, "-o", "json")
    assert code == 0, err
    found: dict[str, Any] = json.loads(out)
    return found


@pytest.mark.parametrize(
    "copy", ["@charts/charts/api/**", "@charts/packaged/*.tgz"], ids=["directory", "tgz"]
)
def test_a_chart_from_an_external_artifact_is_synced(
    tmp_path: Path, charts: Path, copy: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = fleet(tmp_path, charts, copy=copy)

    code, out, err = run(capsys, "sync", str(root / "clusters"), "--allow-local-repo", str(charts))

    assert code == 0, out + err
    data = live(capsys, "configmap/api-settings", "shop")["data"]
    assert data == {"greeting": "from-artifact", "chart": "0.3.0"}


def test_a_missing_external_artifact_names_the_release_and_the_artifact(
    tmp_path: Path, charts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = fleet(tmp_path, charts, copy="@charts/charts/api/**", artifact="nope")

    code, out, err = run(capsys, "sync", str(root / "clusters"), "--allow-local-repo", str(charts))

    assert code != 0
    assert "nothing applied" in out
    assert "HelmRelease/flux-system/api (apps/release.yaml:1)" in err
    assert "spec.chartRef: ExternalArtifact flux-system/nope is not built" in err
    code, _, _ = run(capsys, "sandbox", "get", "configmap/api-settings", "-n", "shop")
    assert code != 0
