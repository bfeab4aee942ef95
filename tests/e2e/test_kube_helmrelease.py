"""A Flux HelmRelease synced by gitwave into the real local control plane.

A real chart repository (``helm package`` + ``helm repo index``) is served on
127.0.0.1; the app's repository holds a HelmRepository and a HelmRelease whose
version range picks the newest 1.x chart. gitwave plays helm-controller: the
chart's objects are applied and become healthy on the cluster; a kubectl edit
of one is drift the plan names and the next sync takes back; when a newer
chart is published the range picks it, and the object it no longer renders is
pruned. A chart's CRDs follow the release's ``upgrade.crds`` on an upgrade:
Skip leaves the live CRD as it is, Create creates only the new one,
CreateReplace updates the changed one too.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gitwave.engine import operations
from gitwave.engine.apps import AppSpec, load_apps
from gitwave.engine.model import Action, ChangeAction, HealthCode, ResourceKey
from gitwave.engine.operations import SyncRequest, sync_app
from gitwave.engine.render.charts import forget_indexes
from gitwave.engine.router import ProviderRouter
from gitwave.engine.sync import SyncPhase, SyncResult
from gitwave.providers.kubernetes import KubernetesProvider
from tests.e2e.test_kube_contract import kubectl_for, provider_for, unique
from tests.engine.helm_support import CONFIGMAP, DEPLOYMENT, serve_chart_repo, write_chart
from tests.providers.contract import wait_until

if TYPE_CHECKING:
    from .conftest import KubeCluster

EXTRA = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-extra
data:
  only: "in 1.4"
"""


@pytest.fixture(scope="module")
def kube(kube_cluster: KubeCluster) -> Iterator[KubernetesProvider]:
    with provider_for(kube_cluster, qps=200, burst=400) as provider:
        yield provider


def _release(url: str, namespace: str) -> str:
    return textwrap.dedent(
        f"""\
        apiVersion: source.toolkit.fluxcd.io/v1
        kind: HelmRepository
        metadata: {{name: charts, namespace: {namespace}}}
        spec: {{interval: 10m, url: "{url}"}}
        ---
        apiVersion: helm.toolkit.fluxcd.io/v2
        kind: HelmRelease
        metadata: {{name: web, namespace: {namespace}}}
        spec:
          interval: 5m
          releaseName: web
          chart:
            spec:
              chart: web
              version: ">=1.0.0 <2.0.0"
              sourceRef: {{kind: HelmRepository, name: charts}}
          values: {{replicas: 2}}
        """
    )


def _sync(app: AppSpec, targets: ProviderRouter, *, prune: bool = False) -> SyncResult:
    return sync_app(
        app,
        targets=targets,
        store=None,
        request=SyncRequest(wave_timeout_s=90, retry=False, prune=prune),
        sink=lambda _event: None,
    ).result


def test_helmrelease_syncs_becomes_healthy_and_upgrade_prunes(
    kube: KubernetesProvider, kube_cluster: KubeCluster, tmp_path: Path
) -> None:
    namespace = unique("gw-helm")
    kubectl = kubectl_for(kube_cluster)
    targets = ProviderRouter([kube])
    forget_indexes()
    src = tmp_path / "chart-src"
    try:
        with serve_chart_repo(tmp_path / "charts") as charts:
            charts.publish(
                write_chart(
                    src / "1",
                    "web",
                    "1.4.0",
                    templates={"cm.yaml": CONFIGMAP, "deploy.yaml": DEPLOYMENT, "x.yaml": EXTRA},
                )
            )
            root = tmp_path / f"app-{namespace}"
            root.mkdir()
            (root / "namespace.yaml").write_text(
                f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {namespace}}}\n"
            )
            (root / "web.yaml").write_text(_release(charts.url, namespace))
            _, (app,) = load_apps(str(root))

            result = _sync(app, targets)
            assert result.phase is SyncPhase.SUCCEEDED, result.message
            waited = operations.wait(app, operations.WaitFor(timeout_s=120), targets=targets)
            assert waited.ok, waited.message
            assert waited.health.code is HealthCode.HEALTHY
            deployment = kubectl.get("deployment", "web-web", namespace)
            assert deployment is not None
            assert deployment["spec"]["replicas"] == 2
            assert deployment["status"]["readyReplicas"] == 2, "kwok made the pods Ready"
            labels = deployment["metadata"]["labels"]
            assert labels["helm.toolkit.fluxcd.io/name"] == "web"
            settings = kubectl.get("configmap", "web-settings", namespace)
            assert settings is not None and settings["data"]["chart"] == "1.4.0"
            assert kubectl.get("configmap", "web-extra", namespace) is not None

            # Drift: someone edits a chart object with kubectl. The plan names the
            # field; the sync takes it back, as helm-controller's drift correction.
            key = ResourceKey("", "ConfigMap", namespace, "web-settings")
            kubectl.run(
                "patch",
                "configmap",
                "web-settings",
                "-n",
                namespace,
                "--type=merge",
                "-p",
                '{"data":{"greeting":"edited"}}',
            )
            wait_until(
                lambda: (
                    (live := kube.observe(key)) is not None
                    and live.manifest["data"]["greeting"] == "edited"
                ),
                seconds=10,
                what="the edit to show",
            )
            drifted = operations.plan(app, SyncRequest(retry=False), targets=targets)
            (task,) = [t for t in drifted.plan.tasks() if t.key == key]
            assert task.action is Action.UPDATE
            assert [(c.path, c.live, c.desired) for c in task.changes] == [
                ("data.greeting", "edited", "hello")
            ]
            healed = _sync(app, targets)
            assert healed.phase is SyncPhase.SUCCEEDED, healed.message
            settings = kubectl.get("configmap", "web-settings", namespace)
            assert settings is not None and settings["data"]["greeting"] == "hello"

            # 1.5.0 is published; the range picks it once the index is read
            # again (the HelmRepository's interval passing), and it renders no
            # extra ConfigMap: the sync with prune deletes it from the cluster.
            charts.publish(
                write_chart(
                    src / "2",
                    "web",
                    "1.5.0",
                    templates={"cm.yaml": CONFIGMAP, "deploy.yaml": DEPLOYMENT},
                )
            )
            forget_indexes()
            upgraded = _sync(app, targets, prune=True)
            assert upgraded.phase is SyncPhase.SUCCEEDED, upgraded.message
            actions = {e.key.name: e.action for e in upgraded.changeset.entries}
            assert actions["web-extra"] is ChangeAction.DELETED
            settings = kubectl.get("configmap", "web-settings", namespace)
            assert settings is not None and settings["data"]["chart"] == "1.5.0"
            assert kubectl.get("configmap", "web-extra", namespace) is None
            assert kubectl.get("deployment", "web-web", namespace) is not None
    finally:
        forget_indexes()
        kubectl.run("delete", "namespace", namespace, "--wait=false", "--ignore-not-found")


def test_api_versions_are_what_discovery_serves(kube: KubernetesProvider) -> None:
    """What a chart's ``.Capabilities.APIVersions`` holds on this cluster."""
    served = kube.api_versions()
    for wanted in ("v1", "v1/ConfigMap", "apps/v1", "apps/v1/Deployment", "batch/v1/Job"):
        assert wanted in served
    assert not any(v.startswith("-") or "/log" in v for v in served)
    assert "monitoring.coreos.com/v1" not in served


CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {plural}.{group}
spec:
  group: {group}
  scope: Namespaced
  names: {{kind: {kind}, plural: {plural}, singular: {singular}, listKind: {kind}List}}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}
"""
# What 1.1.0 changes in the first CRD: a printer column, as a chart upgrade would.
COLUMN = """      additionalPrinterColumns:
        - {name: Size, type: string, jsonPath: .spec.size}
"""


def _crd(group: str, kind: str) -> str:
    lower = kind.lower()
    return CRD.format(group=group, kind=kind, plural=f"{lower}s", singular=lower)


def _crd_release(url: str, namespace: str, version: str, upgrade_crds: str) -> str:
    return textwrap.dedent(
        f"""\
        apiVersion: source.toolkit.fluxcd.io/v1
        kind: HelmRepository
        metadata: {{name: charts, namespace: {namespace}}}
        spec: {{interval: 10m, url: "{url}"}}
        ---
        apiVersion: helm.toolkit.fluxcd.io/v2
        kind: HelmRelease
        metadata: {{name: kinds, namespace: {namespace}}}
        spec:
          interval: 5m
          upgrade: {{crds: {upgrade_crds}}}
          chart:
            spec:
              chart: kinds
              version: "{version}"
              sourceRef: {{kind: HelmRepository, name: charts}}
        """
    )


@pytest.mark.parametrize(
    ("policy", "updated", "created"),
    [("Skip", False, False), ("Create", False, True), ("CreateReplace", True, True)],
)
def test_upgrade_crds_policy_on_the_cluster(
    kube: KubernetesProvider,
    kube_cluster: KubeCluster,
    tmp_path: Path,
    policy: str,
    updated: bool,
    created: bool,
) -> None:
    namespace = unique("gw-crds")
    group = f"{namespace}.example.com"
    widgets, gadgets = f"widgets.{group}", f"gadgets.{group}"
    kubectl = kubectl_for(kube_cluster)
    targets = ProviderRouter([kube])
    forget_indexes()
    src = tmp_path / "chart-src"
    try:
        with serve_chart_repo(tmp_path / "charts") as charts:
            charts.publish(
                write_chart(
                    src / "1",
                    "kinds",
                    "1.0.0",
                    templates={"cm.yaml": CONFIGMAP},
                    crds={"widgets.yaml": _crd(group, "Widget")},
                )
            )
            charts.publish(
                write_chart(
                    src / "2",
                    "kinds",
                    "1.1.0",
                    templates={"cm.yaml": CONFIGMAP},
                    crds={
                        "widgets.yaml": _crd(group, "Widget") + COLUMN,
                        "gadgets.yaml": _crd(group, "Gadget"),
                    },
                )
            )
            root = tmp_path / f"app-{namespace}"
            root.mkdir()
            (root / "namespace.yaml").write_text(
                f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {namespace}}}\n"
            )
            (root / "kinds.yaml").write_text(_crd_release(charts.url, namespace, "1.0.0", policy))
            _, (app,) = load_apps(str(root))
            result = _sync(app, targets)
            assert result.phase is SyncPhase.SUCCEEDED, result.message
            installed = kubectl.get("crd", widgets)
            assert installed is not None, "install.crds defaults to Create"
            assert "additionalPrinterColumns" not in installed["spec"]["versions"][0]

            (root / "kinds.yaml").write_text(_crd_release(charts.url, namespace, "1.1.0", policy))
            _, (app,) = load_apps(str(root))
            upgraded = _sync(app, targets, prune=True)
            assert upgraded.phase is SyncPhase.SUCCEEDED, upgraded.message
            settings = kubectl.get("configmap", "kinds-settings", namespace)
            assert settings is not None and settings["data"]["chart"] == "1.1.0"
            live = kubectl.get("crd", widgets)
            assert live is not None, "a CRD the policy skips is never pruned"
            columns = live["spec"]["versions"][0].get("additionalPrinterColumns", [])
            assert [c["name"] for c in columns] == (["Size"] if updated else [])
            assert (kubectl.get("crd", gadgets) is not None) is created
    finally:
        forget_indexes()
        kubectl.run("delete", "namespace", namespace, "--wait=false", "--ignore-not-found")
        for name in (widgets, gadgets):
            kubectl.run("delete", "crd", name, "--wait=false", "--ignore-not-found")
