"""``gitwave wait APP --health`` on the real local control plane sleeps on the
watches and returns when the Deployment becomes Available.

The Deployment is synced with a nodeSelector no node has, so its pod stays
Pending and the app Progressing. When the wait says what it waits for, the
test (standing in for an operator) removes the selector: the scheduler places
the pod on a kwok node, kwok makes it Ready, the deployment controller writes
Available, and that watch event ends the wait. The polling sleep fails the
test if it is ever called, and ``poll_s`` is an hour: only the event can end it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from gitwave.engine import operations
from gitwave.engine.apps import load_apps
from gitwave.engine.model import HealthCode
from gitwave.engine.operations import SyncRequest, WaitFor
from gitwave.engine.router import ProviderRouter
from gitwave.providers.kubernetes import KubernetesProvider
from tests.e2e.test_kube_contract import Kubectl, kubectl_for, provider_for, unique

if TYPE_CHECKING:
    from .conftest import KubeCluster


@pytest.fixture
def kubectl(kube_cluster: KubeCluster) -> Kubectl:
    return kubectl_for(kube_cluster)


@pytest.fixture
def namespace(kubectl: Kubectl) -> Iterator[str]:
    name = unique("appwait")
    kubectl.run("create", "namespace", name)
    yield name
    kubectl.run("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def kube(kube_cluster: KubeCluster) -> Iterator[KubernetesProvider]:
    with provider_for(kube_cluster) as provider:
        yield provider


def _polled(seconds: float) -> None:
    raise AssertionError(f"the wait polled (slept {seconds}s) on a cluster it can watch")


def test_wait_returns_when_the_deployment_becomes_available(
    kube: KubernetesProvider, kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    root = tmp_path / "web"
    root.mkdir()
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "nodeSelector": {"gitwave.dev/no-such-node": "true"},
                    "containers": [{"name": "web", "image": "nginx"}],
                },
            },
        },
    }
    (root / "web.yaml").write_text(yaml.safe_dump(deployment))
    _, (app,) = load_apps(str(root))
    targets = ProviderRouter([kube])
    synced = operations.sync_app(app, targets=targets, store=None, request=SyncRequest())
    assert synced.result.ok, synced.result.message
    assert synced.result.health.code is HealthCode.PROGRESSING

    lines: list[str] = []
    schedulable = threading.Event()

    def progress(line: str) -> None:
        lines.append(line)
        if not schedulable.is_set():
            schedulable.set()
            # The pod may run now: drop the selector gitwave's apply set, as
            # another field manager would (the app's own field stays in Git).
            kubectl.run(
                "patch", "deployment", "web", "-n", namespace, "--type=json",
                "-p", json.dumps([{"op": "remove", "path": "/spec/template/spec/nodeSelector"}]),
            )  # fmt: skip

    outcome = operations.wait(
        app,
        WaitFor(health=True, timeout_s=240, poll_s=3600),
        targets=targets,
        on_progress=progress,
        sleep=_polled,
    )

    assert outcome.ok, outcome.message
    assert outcome.health.code is HealthCode.HEALTHY
    assert lines and lines[0].startswith(f"waiting for {app.name}: health Progressing"), lines
    available = kubectl.run(
        "get", "deployment", "web", "-n", namespace,
        "-o", "jsonpath={.status.conditions[?(@.type=='Available')].status}",
    )  # fmt: skip
    assert available == "True"
