"""Charts see the target's API versions (``.Capabilities.APIVersions``), as
helm-controller (the cluster's discovery) and Argo CD (the destination's API
versions) give them, through the CLI onto the sandbox.

A real chart repository on 127.0.0.1 serves a chart whose templates are
guarded by ``.Capabilities.APIVersions.Has``: the guard on an API the sandbox
does not serve (Prometheus Operator's) renders nothing; the guard on a CRD's
kind renders once, and only once, that CRD is on the sandbox. The same holds
whichever source the chart comes from: a Helm repository, or the app's Git
repository (a Flux GitRepository chart, an Argo CD source path with a Chart.yaml).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitwave.engine.kube_versions import KUBERNETES_VERSION
from gitwave.engine.render.capabilities import valid_api_versions
from gitwave.engine.render.charts import forget_indexes
from tests.engine.helm_support import (  # noqa: F401 (helm_cli_sandbox: an autouse fixture)
    WIDGET_CRD,
    ChartRepo,
    flux_release,
    helm_cli_sandbox,
    serve_chart_repo,
    write_chart,
)
from tests.tui.cli_support import commit, run

GUARDED = """{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-monitoring
data: {}
{{- end }}
{{- if .Capabilities.APIVersions.Has "example.com/v1/Widget" }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-widgets
data: {}
{{- end }}
{{- if .Capabilities.APIVersions.Has "apps/v1/Deployment" }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-apps
data:
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
{{- end }}
"""


@pytest.fixture
def chart_repo(tmp_path: Path) -> Iterator[ChartRepo]:
    with serve_chart_repo(tmp_path / "charts") as repo:
        repo.publish(
            write_chart(tmp_path / "chart-src", "web", "1.0.0", templates={"cm.yaml": GUARDED})
        )
        yield repo
    forget_indexes()


def configmaps(capsys: pytest.CaptureFixture[str], namespace: str) -> list[str]:
    code, out, err = run(capsys, "sandbox", "get", "configmaps", "-n", namespace, "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    items = data.get("items", data) if isinstance(data, dict) else data
    return sorted(item["metadata"]["name"] for item in items)


def kube_version(capsys: pytest.CaptureFixture[str], name: str, namespace: str) -> str:
    code, out, err = run(
        capsys, "sandbox", "get", f"configmap/{name}", "-n", namespace, "-o", "json"
    )
    assert code == 0, err
    found: str = json.loads(out)["data"]["kube"]
    return found


def crd_app(tmp_path: Path) -> Path:
    root = tmp_path / "crd-app"
    root.mkdir()
    (root / "widgets.yaml").write_text(WIDGET_CRD)
    commit(root)
    return root


# Formatted with the chart repository's url below.
HELMRELEASE = flux_release("{url}")


def argo_application(source: str) -> str:
    """An Application web (release store) into namespace shop; ``source`` is
    where its chart comes from (spec.source lines)."""
    return f"""apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web
spec:
  destination:
    server: https://kubernetes.default.svc
    namespace: shop
  syncPolicy:
    syncOptions: [CreateNamespace=true]
  source:
{source}    helm:
      releaseName: store
"""


APPLICATION = argo_application("    repoURL: {url}\n    chart: web\n    targetRevision: 1.0.0\n")

# The same chart kept in the app's Git repository (charts/web), as a Flux
# GitRepository chart and as an Argo CD source path holding a Chart.yaml.
HELMRELEASE_FROM_GIT = """apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: self, namespace: flux-system}}
spec: {{interval: 1m, url: .}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: web, namespace: flux-system}}
spec:
  interval: 5m
  targetNamespace: shop
  install: {{createNamespace: true}}
  chart:
    spec:
      chart: ./charts/web
      sourceRef: {{kind: GitRepository, name: self}}
"""

APPLICATION_PATH = argo_application("    repoURL: .\n    path: charts/web\n")


@pytest.mark.parametrize(
    ("manifest", "release"),
    [
        (HELMRELEASE, "shop-web"),
        (APPLICATION, "store"),
        (HELMRELEASE_FROM_GIT, "shop-web"),
        (APPLICATION_PATH, "store"),
    ],
    ids=["flux", "argo", "flux-git-chart", "argo-path-chart"],
)
def test_chart_sees_the_api_versions_the_target_serves(
    tmp_path: Path,
    chart_repo: ChartRepo,
    capsys: pytest.CaptureFixture[str],
    manifest: str,
    release: str,
) -> None:
    repo = tmp_path / "app"
    root = repo / "deploy"
    root.mkdir(parents=True)
    write_chart(repo / "charts", "web", "1.0.0", templates={"cm.yaml": GUARDED})
    (root / "web.yaml").write_text(manifest.format(url=chart_repo.url))
    commit(repo)

    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    # The sandbox serves apps/v1 but neither Prometheus Operator's API nor Widgets yet.
    names = configmaps(capsys, "shop")
    assert f"{release}-apps" in names
    assert f"{release}-widgets" not in names
    assert f"{release}-monitoring" not in names
    assert kube_version(capsys, f"{release}-apps", "shop") == f"v{KUBERNETES_VERSION}.0"

    # Once the Widget CRD is on the target, the chart renders what it guards.
    code, out, err = run(capsys, "sync", str(crd_app(tmp_path)))
    assert code == 0, out + err
    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    names = configmaps(capsys, "shop")
    assert f"{release}-widgets" in names
    assert f"{release}-monitoring" not in names


def test_api_versions_that_could_read_as_flags_are_dropped() -> None:
    assert valid_api_versions(
        ["apps/v1", "--post-renderer=/bin/sh", "v1/ConfigMap", "a,b/v1", "x/v1 y", "-v1", "v1"]
    ) == ("apps/v1", "v1", "v1/ConfigMap")
