"""Health on the real local control plane, through the command line: an app
whose Ingress never gets an address (no ingress controller runs here) syncs
Succeeded at once with its health reported Progressing, as Argo CD shows it;
``sync --wait`` then fails on its timeout; the same objects from a Flux
Kustomization are Ready (kstatus); and a plan does not call the Endpoints and
EndpointSlices the controllers made for the app's Service leftovers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import git
import pytest
import yaml

from gitwave.tui.cli import main
from tests.e2e.test_kube_contract import kubectl_for, unique
from tests.providers.contract import wait_until

if TYPE_CHECKING:
    from .conftest import KubeCluster


def shop(namespace: str) -> list[dict[str, Any]]:
    labels = {"app": "web"}
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "web", "image": "nginx"}]},
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": namespace, "labels": labels},
            "spec": {"selector": labels, "ports": [{"port": 80}]},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {
                "rules": [
                    {
                        "host": "web.example",
                        "http": {
                            "paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]
                        },
                    }
                ]
            },
        },
    ]


@pytest.fixture
def cli(
    kube_cluster: KubeCluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Any:
    monkeypatch.setenv("GITWAVE_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("NO_COLOR", "1")
    target = [f"--kubeconfig={kube_cluster.kubeconfig}", f"--context={kube_cluster.context}"]

    def run(*argv: str) -> tuple[int, str, str]:
        code = main([*argv, *target])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_an_ingress_without_an_address_syncs_succeeded_and_progressing(
    kube_cluster: KubeCluster, tmp_path: Path, cli: Any
) -> None:
    namespace = unique("health")
    app = tmp_path / namespace
    app.mkdir()
    (app / "shop.yaml").write_text(yaml.safe_dump_all(shop(namespace)))
    kubectl = kubectl_for(kube_cluster)
    try:
        code, out, err = cli("sync", str(app), "--timeout", "2m", "-o", "json")

        assert code == 0, out + err
        (result,) = json.loads(out)  # a list of apps, even for one
        assert result["phase"] == "Succeeded"
        assert result["health"] == "Progressing"
        # It did not wait for the address (on main it waited 300 s, then failed).
        assert result["durationSeconds"] < 60

        code, out, err = cli("status", str(app), "-o", "json")
        (status,) = json.loads(out)
        assert (status["sync"], status["health"]) == ("Synced", "Progressing")

        # The controllers copy the Service's labels (gitwave's app label too)
        # onto its Endpoints and EndpointSlices: no leftovers for the plan.
        wait_until(
            lambda: bool(kubectl.objects("endpointslices.discovery.k8s.io", namespace)),
            seconds=60,
            what="the EndpointSlice of the Service",
        )
        slice_labels = kubectl.objects("endpointslices.discovery.k8s.io", namespace)[0]["metadata"][
            "labels"
        ]
        assert slice_labels.get("gitwave.dev/app") == namespace
        code, out, err = cli("plan", str(app))
        assert code == 0, out + err
        assert "Endpoints" not in out + err
        assert "EndpointSlice" not in out + err

        # Asked to wait for Healthy, it cannot be: exit 1 naming the Ingress.
        code, out, err = cli("wait", str(app), "--health", "--timeout", "3s")
        assert code == 1
        assert "Ingress/" in err and "address" in err
    finally:
        kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)


def test_the_same_objects_from_flux_are_ready(
    kube_cluster: KubeCluster, tmp_path: Path, cli: Any
) -> None:
    namespace = unique("fluxhealth")
    root = tmp_path / "repo"
    (root / "app").mkdir(parents=True)
    (root / "app" / "shop.yaml").write_text(yaml.safe_dump_all(shop(namespace)))
    docs = [
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": "here", "namespace": "flux-system"},
            "spec": {"interval": "1m", "url": "."},
        },
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": namespace, "namespace": "flux-system"},
            "spec": {
                "interval": "5m",
                "timeout": "2m",
                "path": "./app",
                "prune": True,
                "wait": True,
                "sourceRef": {"kind": "GitRepository", "name": "here"},
            },
        },
    ]
    (root / "flux.yaml").write_text(yaml.safe_dump_all(docs))
    repo = git.Repo.init(root)
    repo.git.add("-A")
    author = git.Actor("Test", "test@example.com")
    repo.index.commit("init", author=author, committer=author)
    repo.close()
    kubectl = kubectl_for(kube_cluster)
    try:
        # wait: true waits for the Deployment's rollout (kwok makes its pod
        # ready) and takes the Ingress as Current without an address.
        code, out, err = cli("sync", str(root), "-o", "json")

        assert code == 0, out + err
        (result,) = json.loads(out)  # a list of apps, even for one
        assert (result["phase"], result["health"]) == ("Succeeded", "Healthy")
    finally:
        kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)
