"""Argo CD Helm sources (issue 12 item 4), through the CLI onto the sandbox.

A real chart repository (``helm package`` + ``helm repo index``) on 127.0.0.1
and real Git repositories in tmp_path: ``spec.source.chart`` with a semver
``targetRevision``, helm parameters / values / valuesObject / releaseName /
skipCrds, ``spec.sources`` with a ``ref`` source and ``$ref/path`` values
files, an unreachable repository (an error naming the URL, nothing pruned) and
a second render that reaches no server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitwave.engine.render import clear_render_cache
from gitwave.engine.render.charts import forget_indexes
from tests.engine.helm_support import (  # noqa: F401 (helm_cli_sandbox: an autouse fixture)
    CONFIGMAP,
    DEPLOYMENT,
    WIDGET_CRD,
    ChartRepo,
    helm_cli_sandbox,
    serve_chart_repo,
    write_chart,
)
from tests.tui.cli_support import commit, run


@pytest.fixture
def chart_repo(tmp_path: Path) -> Iterator[ChartRepo]:
    with serve_chart_repo(tmp_path / "charts") as repo:
        for version in ("1.0.0", "1.1.0", "2.0.0"):
            repo.publish(
                write_chart(
                    tmp_path / "chart-src" / version,
                    "web",
                    version,
                    templates={"cm.yaml": CONFIGMAP, "deploy.yaml": DEPLOYMENT},
                    crds={"widgets.yaml": WIDGET_CRD},
                )
            )
        repo.requests.clear()
        yield repo
    forget_indexes()


def live(capsys: pytest.CaptureFixture[str], what: str, namespace: str) -> dict[str, Any]:
    code, out, err = run(capsys, "sandbox", "get", what, "-n", namespace, "-o", "json")
    assert code == 0, err
    found: dict[str, Any] = json.loads(out)
    return found


def names(capsys: pytest.CaptureFixture[str], kind: str, namespace: str = "") -> list[str]:
    scope = ["-n", namespace] if namespace else ["-A"]
    code, out, err = run(capsys, "sandbox", "get", kind, *scope, "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    items = data.get("items", data) if isinstance(data, dict) else data
    return sorted(item["metadata"]["name"] for item in items)


def application(source: str, *, name: str = "web") -> str:
    return f"""apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
spec:
  destination:
    server: https://kubernetes.default.svc
    namespace: shop
  syncPolicy:
    syncOptions: [CreateNamespace=true]
{source}"""


def test_chart_from_a_helm_repository(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "apps"
    root.mkdir()
    (root / "web.yaml").write_text(
        application(
            f"""  source:
    repoURL: {chart_repo.url}
    chart: web
    targetRevision: ">=1.0.0 <2.0.0"
    helm:
      releaseName: store
      values: |
        greeting: from-values
        replicas: 5
      valuesObject:
        replicas: 3
      parameters:
        - name: tag
          value: "1.29"
"""
        )
    )
    commit(root, "init")
    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    settings = live(capsys, "configmap/store-settings", "shop")["data"]
    # The newest 1.x; values are ignored when valuesObject is set, as in Argo CD.
    assert settings == {"greeting": "hello", "chart": "1.1.0"}
    deployment = live(capsys, "deployment/store-web", "shop")
    assert deployment["spec"]["replicas"] == 3
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "nginx:1.29"  # parameters win over both
    assert "widgets.example.com" in names(capsys, "customresourcedefinitions")
    code, out, err = run(capsys, "status", str(root))
    assert code == 0, out + err
    assert "1.1.0" in out  # the chart version is the revision

    # A second render (a fresh process: no index, no render in memory) asks no server.
    chart_repo.requests.clear()
    forget_indexes()
    clear_render_cache()
    (root / "web.yaml").write_text(
        (root / "web.yaml").read_text().replace('">=1.0.0 <2.0.0"', "1.1.0")
    )
    commit(root)
    code, out, err = run(capsys, "plan", str(root))
    assert code == 0, out + err
    assert chart_repo.requests == []


def test_skip_crds_and_an_unreachable_repository(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "apps"
    root.mkdir()
    source = f"""  source:
    repoURL: {chart_repo.url}
    chart: web
    targetRevision: 2.0.0
    helm:
      skipCrds: true
"""
    (root / "web.yaml").write_text(application(source))
    commit(root, "init")
    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    assert live(capsys, "configmap/web-settings", "shop")["data"]["chart"] == "2.0.0"
    assert "widgets.example.com" not in names(capsys, "customresourcedefinitions")
    code, out, err = run(capsys, "validate", str(root))
    assert code == 0, out + err

    (root / "web.yaml").write_text(
        application(source.replace(chart_repo.url, "http://127.0.0.1:9"))
    )
    commit(root)
    code, out, err = run(capsys, "sync", str(root), "--prune")
    assert code != 0
    assert "http://127.0.0.1:9/index.yaml" in out + err
    assert "web-web" in names(capsys, "deployments", "shop")  # nothing pruned


def test_sources_with_a_ref_values_file(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config"
    (config / "envs").mkdir(parents=True)
    (config / "envs" / "prod.yaml").write_text("greeting: from-the-ref-repo\nreplicas: 4\n")
    commit(config, "values")
    root = tmp_path / "apps"
    root.mkdir()
    (root / "web.yaml").write_text(
        application(
            f"""  sources:
    - repoURL: {chart_repo.url}
      chart: web
      targetRevision: 1.0.x
      helm:
        valueFiles:
          - $config/envs/prod.yaml
    - repoURL: {config.as_uri()}
      targetRevision: HEAD
      ref: config
"""
        )
    )
    commit(root, "init")
    code, out, err = run(capsys, "sync", str(root), "--allow-local-repo", str(config))
    assert code == 0, out + err
    data = live(capsys, "configmap/web-settings", "shop")["data"]
    assert data == {"greeting": "from-the-ref-repo", "chart": "1.0.0"}
    assert live(capsys, "deployment/web-web", "shop")["spec"]["replicas"] == 4

    # A values file under an unknown ref names the refs there are.
    text = (root / "web.yaml").read_text().replace("$config/envs", "$other/envs")
    (root / "web.yaml").write_text(text)
    commit(root)
    code, out, err = run(capsys, "plan", str(root), "--allow-local-repo", str(config))
    assert code == 2
    assert "values file '$other/envs/prod.yaml': no source has ref 'other' (refs: $config)" in (
        out + err
    )


def test_a_project_checks_the_ref_source_too(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "prod.yaml").write_text("greeting: hi\n")
    commit(config, "values")
    root = tmp_path / "apps"
    root.mkdir()
    (root / "project.yaml").write_text(
        f"""apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {{name: team}}
spec:
  sourceRepos: ["{chart_repo.url}"]
  destinations: [{{server: "*", namespace: "*"}}]
"""
    )
    (root / "web.yaml").write_text(
        application(
            f"""  project: team
  sources:
    - repoURL: {chart_repo.url}
      chart: web
      helm: {{valueFiles: [$config/prod.yaml]}}
    - {{repoURL: "{config.as_uri()}", ref: config}}
"""
        )
    )
    commit(root, "init")
    code, out, err = run(capsys, "sync", str(root), "--allow-local-repo", str(config))
    assert code == 2, out + err
    assert f"sourceRepos does not allow '{config.as_uri()}'" in out + err
    assert names(capsys, "deployments", "shop") == []


def test_a_ref_source_on_this_host_needs_allowing(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "prod.yaml").write_text("greeting: hi\n")
    commit(config, "values")
    root = tmp_path / "apps"
    root.mkdir()
    (root / "web.yaml").write_text(
        application(
            f"""  sources:
    - repoURL: {chart_repo.url}
      chart: web
      helm: {{valueFiles: [$config/prod.yaml]}}
    - {{repoURL: "{config.as_uri()}", ref: config}}
"""
        )
    )
    commit(root, "init")
    code, out, err = run(capsys, "sync", str(root))
    assert code == 2, out + err
    assert f"its source {config} is a directory on the gitwave host outside" in out + err


def test_sources_render_a_chart_and_a_path_together(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "apps"
    (root / "extra").mkdir(parents=True)
    (root / "extra" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata: {from: git}\n"
    )
    (root / "web.yaml").write_text(
        application(
            f"""  sources:
    - {{repoURL: "{chart_repo.url}", chart: web, targetRevision: 2.0.0}}
    - {{repoURL: ., path: extra}}
"""
        )
    )
    commit(root, "init")
    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    assert live(capsys, "configmap/extra", "shop")["data"] == {"from": "git"}
    assert live(capsys, "configmap/web-settings", "shop")["data"]["chart"] == "2.0.0"

    # The Git source now renders an object the chart renders too: an error naming both.
    (root / "extra" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-settings}\ndata: {}\n"
    )
    commit(root)
    code, out, err = run(capsys, "sync", str(root), "--prune")
    assert code == 2, out + err
    assert "ConfigMap/shop/web-settings is rendered by two sources of Application/web" in out + err
    assert live(capsys, "configmap/extra", "shop")["data"] == {"from": "git"}  # nothing pruned


def test_a_commit_to_the_ref_source_alone_is_rendered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A chart in Git with values from a ``ref`` source at a branch: the render
    cache keys the render by the ref source's commit too, so a commit to the
    values repository alone is planned, not an older render reused."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "prod.yaml").write_text("greeting: first\n")
    commit(config, "values")
    root = tmp_path / "apps"
    (root / "chart" / "templates").mkdir(parents=True)
    (root / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: hello\nversion: 0.1.0\n")
    (root / "chart" / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hello}\n"
        "data: {greeting: {{ .Values.greeting | quote }}}\n"
    )
    (root / "web.yaml").write_text(
        application(
            f"""  sources:
    - repoURL: .
      path: chart
      helm:
        valueFiles: [$config/prod.yaml]
    - {{repoURL: "{config.as_uri()}", targetRevision: HEAD, ref: config}}
"""
        )
    )
    commit(root, "init")
    code, out, err = run(capsys, "sync", str(root), "--allow-local-repo", str(config))
    assert code == 0, out + err
    assert live(capsys, "configmap/hello", "shop")["data"] == {"greeting": "first"}

    (config / "prod.yaml").write_text("greeting: second\n")
    commit(config, "values again")
    code, out, err = run(capsys, "plan", str(root), "--allow-local-repo", str(config))
    assert code == 1, out + err
    assert "ConfigMap/shop/hello" in out
    code, out, err = run(capsys, "sync", str(root), "--allow-local-repo", str(config))
    assert code == 0, out + err
    assert live(capsys, "configmap/hello", "shop")["data"] == {"greeting": "second"}
