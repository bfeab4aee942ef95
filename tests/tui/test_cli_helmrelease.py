"""Flux HelmRelease (issue 12 item 3), through the CLI onto the sandbox.

A real chart repository (``helm package`` + ``helm repo index``) served on
127.0.0.1, and a real Git repository in tmp_path holding a HelmRepository and a
HelmRelease: sync, drift, upgrade (objects the new chart version no longer
renders are pruned), removal, an unreachable repository (nothing pruned),
valuesFrom a Secret (never shown), and a chart from a GitRepository.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitwave.engine.render.charts import forget_indexes
from tests.engine.helm_support import (  # noqa: F401 (helm_cli_sandbox: an autouse fixture)
    CONFIGMAP,
    DEPLOYMENT,
    ChartRepo,
    flux_release,
    helm_cli_sandbox,
    serve_chart_repo,
    write_chart,
)
from tests.tui.cli_support import commit, run

EXTRA = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-extra
data:
  only: "in 1.x"
"""

KUBE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-kube
data:
  version: {{ .Capabilities.KubeVersion.Version | quote }}
"""

HOOK = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
data: {}
"""


@pytest.fixture
def chart_repo(tmp_path: Path) -> Iterator[ChartRepo]:
    with serve_chart_repo(tmp_path / "charts") as repo:
        src = tmp_path / "chart-src"
        repo.publish(
            write_chart(
                src / "1",
                "web",
                "1.4.0",
                templates={"cm.yaml": CONFIGMAP, "deploy.yaml": DEPLOYMENT, "extra.yaml": EXTRA},
            )
        )
        repo.publish(
            write_chart(
                src / "2",
                "web",
                "2.0.0",
                templates={"cm.yaml": CONFIGMAP, "deploy.yaml": DEPLOYMENT},
            )
        )
        yield repo
    forget_indexes()


def release_yaml(url: str, version: str, *, extra_spec: str = "") -> str:
    return flux_release(url, version=version, spec="  values:\n    replicas: 2\n" + extra_spec)


def live(capsys: pytest.CaptureFixture[str], what: str, namespace: str) -> dict[str, Any]:
    code, out, err = run(capsys, "sandbox", "get", what, "-n", namespace, "-o", "json")
    assert code == 0, err
    found: dict[str, Any] = json.loads(out)
    return found


def names(capsys: pytest.CaptureFixture[str], kind: str, namespace: str) -> list[str]:
    code, out, err = run(capsys, "sandbox", "get", kind, "-n", namespace, "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    items = data.get("items", data) if isinstance(data, dict) else data
    return sorted(item["metadata"]["name"] for item in items)


def test_sync_drift_upgrade_and_removal(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "web.yaml").write_text(release_yaml(chart_repo.url, ">=1.0.0 <2.0.0"))
    commit(root, "init")

    code, out, err = run(capsys, "plan", str(root))
    assert code == 1, out + err
    assert "HelmRelease" not in out  # the release's objects are planned, not the release
    code, out, err = run(capsys, "sync", str(root))
    assert code == 0, out + err
    # Flux's default release name: [targetNamespace-]name.
    deployment = live(capsys, "deployment/shop-web-web", "shop")
    assert deployment["spec"]["replicas"] == 2
    labels = deployment["metadata"]["labels"]
    assert labels["helm.toolkit.fluxcd.io/name"] == "web"
    assert labels["helm.toolkit.fluxcd.io/namespace"] == "flux-system"
    assert live(capsys, "configmap/shop-web-settings", "shop")["data"]["chart"] == "1.4.0"
    assert "shop-web-extra" in names(capsys, "configmaps", "shop")
    assert run(capsys, "plan", str(root))[0] == 0

    # Drift is seen and healed.
    assert (
        run(capsys, "sandbox", "scale", "deployment/shop-web-web", "-n", "shop", "--replicas", "7")[
            0
        ]
        == 0
    )
    code, out, _ = run(capsys, "plan", str(root))
    assert code == 1 and "spec.replicas: 7 -> 2" in out
    assert run(capsys, "sync", str(root))[0] == 0
    assert live(capsys, "deployment/shop-web-web", "shop")["spec"]["replicas"] == 2

    # Upgrade: 2.x renders no extra ConfigMap; the sync with prune removes it.
    (root / "web.yaml").write_text(release_yaml(chart_repo.url, "2.x"))
    commit(root)
    code, out, err = run(capsys, "sync", str(root), "--prune")
    assert code == 0, out + err
    assert live(capsys, "configmap/shop-web-settings", "shop")["data"]["chart"] == "2.0.0"
    assert "shop-web-extra" not in names(capsys, "configmaps", "shop")

    # An unreachable repository: an error naming the URL, nothing pruned.
    (root / "web.yaml").write_text(release_yaml("http://127.0.0.1:9/charts", "2.x"))
    commit(root)
    code, out, err = run(capsys, "sync", str(root), "--prune")
    assert code != 0
    assert "http://127.0.0.1:9/charts/index.yaml" in out + err
    assert "shop-web-web" in names(capsys, "deployments", "shop")

    # The HelmRelease goes: its objects are pruned.
    (root / "web.yaml").unlink()
    (root / "other.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, namespace: shop}\n"
    )
    commit(root)
    code, out, err = run(capsys, "sync", str(root), "--prune", "--confirm-prune")
    assert code == 0, out + err
    assert "shop-web-web" not in names(capsys, "deployments", "shop")


def test_values_from_a_secret_are_used_and_never_shown(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "repo"
    (root / "values").mkdir(parents=True)
    (root / "values" / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: flux-system}\n---\n"
        "apiVersion: v1\nkind: Secret\nmetadata: {name: web-values, namespace: flux-system}\n"
        "stringData:\n  values.yaml: 'greeting: t0p-s3cret-hi'\n"
    )
    (root / "web").mkdir()
    (root / "web" / "web.yaml").write_text(
        release_yaml(
            chart_repo.url,
            "1.4.0",
            extra_spec="  valuesFrom:\n    - kind: Secret\n      name: web-values\n"
            "    - kind: ConfigMap\n      name: absent\n      optional: true\n",
        )
    )
    commit(root)
    code, out, err = run(capsys, "sync", str(root / "values"))
    assert code == 0, out + err
    code, out, err = run(capsys, "sync", str(root / "web"))
    assert code == 0, out + err
    assert (
        live(capsys, "configmap/shop-web-settings", "shop")["data"]["greeting"] == "t0p-s3cret-hi"
    )
    web = str(root / "web")
    for argv in (("render", web), ("plan", web), ("history", "web", "-o", "json")):
        code, out, err = run(capsys, *argv)
        assert "t0p-s3cret-hi" not in out + err


def test_required_values_from_missing_names_it(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "web.yaml").write_text(
        release_yaml(
            chart_repo.url,
            "1.4.0",
            extra_spec="  valuesFrom:\n    - kind: ConfigMap\n      name: settings\n",
        )
    )
    commit(root)
    code, out, err = run(capsys, "sync", str(root))
    assert code == 2, out + err
    assert "HelmRelease/flux-system/web" in out + err
    assert "spec.valuesFrom[0]: ConfigMap/flux-system/settings does not exist" in out + err


def test_chart_from_a_git_repository_with_post_renderer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "repo"
    write_chart(
        root / "charts",
        "api",
        "0.1.0",
        templates={"cm.yaml": CONFIGMAP, "hook.yaml": HOOK, "kube.yaml": KUBE},
    )
    (root / "deploy").mkdir()
    (root / "deploy" / "api.yaml").write_text(
        """apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: self, namespace: apps}
spec:
  interval: 1m
  url: .
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: api, namespace: apps}
spec:
  interval: 1m
  releaseName: api
  install: {createNamespace: true}
  chart:
    spec:
      chart: ./charts/api
      sourceRef: {kind: GitRepository, name: self}
  postRenderers:
    - kustomize:
        patches:
          - target: {kind: ConfigMap, name: api-settings}
            patch: |
              - op: add
                path: /data/patched
                value: "yes"
"""
    )
    commit(root)
    code, out, err = run(capsys, "sync", str(root / "deploy"))
    assert code == 0, out + err
    data = live(capsys, "configmap/api-settings", "apps")["data"]
    assert data["patched"] == "yes" and data["chart"] == "0.1.0"
    # The target's release, as Flux's Helm SDK reads it from the cluster.
    assert live(capsys, "configmap/api-kube", "apps")["data"]["version"] == "v1.37.0"
    # The pre-install hook ran as a PreSync hook, before the release's objects.
    lines = [line.split()[-1] for line in out.splitlines() if line.startswith("  created")]
    assert lines.index("ConfigMap/apps/api-migrate") < lines.index("ConfigMap/apps/api-settings")


def test_sources_in_other_kustomizations_as_flux_repos_lay_them_out(
    tmp_path: Path, chart_repo: ChartRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    """The usual Flux repository: the HelmRepository in an ``infrastructure``
    Kustomization, the HelmRelease in ``apps`` (dependsOn it), and a chart
    from the ``here`` GitRepository defined beside the Kustomizations."""
    root = tmp_path / "repo"
    for folder in ("clusters", "sources", "apps"):
        (root / folder).mkdir(parents=True)
    write_chart(root / "charts", "api", "0.2.0")
    kustomization = """---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: {name}, namespace: flux-system}}
spec:
  interval: 1m
  path: ./{name}
  prune: true
  targetNamespace: {target}
  sourceRef: {{kind: GitRepository, name: here}}
"""
    (root / "clusters" / "flux.yaml").write_text(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata: {name: here, namespace: flux-system}\nspec: {interval: 1m, url: .}\n"
        + kustomization.format(name="sources", target="flux-system")
        + kustomization.format(name="apps", target="flux-system")
        + "  dependsOn: [{name: sources}]\n"
    )
    (root / "sources" / "charts.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: flux-system}\n---\n"
        + release_yaml(chart_repo.url, "1.x").split("---")[0]
    )
    (root / "apps" / "releases.yaml").write_text(
        "---".join(release_yaml(chart_repo.url, "1.x").split("---")[1:])
        + """---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: api, namespace: flux-system}
spec:
  interval: 5m
  chart:
    spec:
      chart: ./charts/api
      sourceRef: {kind: GitRepository, name: here}
"""
    )
    commit(root)
    code, out, err = run(capsys, "sync", str(root / "clusters"))
    assert code == 0, out + err
    assert live(capsys, "configmap/shop-web-settings", "shop")["data"]["chart"] == "1.4.0"
    assert live(capsys, "configmap/api-settings", "flux-system")["data"]["chart"] == "0.2.0"
