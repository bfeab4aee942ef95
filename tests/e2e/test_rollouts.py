"""Argo Rollouts on a real cluster (issue 15 item 9): the real argo-rollouts
controller v1.10.2 (built from the Go module proxy, ``tests/rollouts``) runs
out of cluster against the local control plane, with the CRDs its module
ships. gitwave syncs an app holding a canary Rollout; a new image stops at
the ``pause`` step (Suspended, as Argo CD reads it); ``gitwave rollout
promote`` sends kubectl-argo-rollouts' patch and the controller finishes
the rollout (Healthy); ``gitwave rollout abort`` of the next one leaves it
Degraded. kwok plays the kubelet, so pods become Ready.

The controller runs namespaced (``--namespaced --namespace NS``) without
leader election: other tests share the cluster, and only this test's
namespace is its business.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from gitwave.tui.cli import main
from tests.e2e.test_kube_contract import kubectl_for, unique
from tests.rollouts.peers import CRDS

if TYPE_CHECKING:
    from .conftest import KubeCluster


@dataclass(frozen=True)
class Controller:
    namespace: str
    log: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(what: str, probe: Callable[[], Any], timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def controller(
    kube_cluster: KubeCluster, rollouts_peers: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Controller]:
    kubectl = kubectl_for(kube_cluster)
    work = tmp_path_factory.mktemp("rollouts-controller")
    for name in CRDS:
        kubectl.run("apply", "--server-side", "-f", str(rollouts_peers / "crds" / name))
    kubectl.run("wait", "--for=condition=Established", "crd/rollouts.argoproj.io", "--timeout=60s")
    namespace = unique("ro")
    kubectl.run("create", "namespace", namespace)
    log = work / "controller.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                str(rollouts_peers / "rollouts-controller"),
                "--kubeconfig",
                str(kube_cluster.kubeconfig),
                "--context",
                kube_cluster.context,
                "--namespaced",
                "--namespace",
                namespace,
                "--leader-elect=false",
                "--healthzPort",
                str(_free_port()),
                "--metricsPort",
                str(_free_port()),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        # The controller starts while the test syncs; one that cannot start says so now.
        if proc.poll() is not None:
            raise AssertionError(f"the controller exited:\n{log.read_text()[-3000:]}")
        yield Controller(namespace, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        kubectl.run(
            "delete", "namespace", namespace, "--wait=false", "--ignore-not-found", check=False
        )


def gitwave(
    capsys: pytest.CaptureFixture[str], cluster: KubeCluster, *argv: str
) -> tuple[int, str, str]:
    code = main(
        [*argv, "--kubeconfig", str(cluster.kubeconfig), "--context", cluster.context, "--no-color"]
    )
    out, err = capsys.readouterr()
    return code, out, err


def write_rollout(repo: Path, namespace: str, image: str) -> None:
    rollout = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
            "strategy": {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}},
        },
    }
    (repo / "rollout.yaml").write_text(yaml.safe_dump(rollout))


def test_a_canary_pauses_suspended_promote_finishes_it_and_abort_degrades_it(
    kube_cluster: KubeCluster,
    controller: Controller,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITWAVE_STATE", str(tmp_path / "state"))
    repo = tmp_path / "canary"
    repo.mkdir()
    write_rollout(repo, controller.namespace, "nginx:1.27")

    def diagnostics() -> str:
        return controller.log.read_text()[-3000:]

    def rollout() -> dict[str, Any]:
        code, out, err = gitwave(capsys, kube_cluster, "rollout", "status", "canary", "-o", "json")
        assert code == 0, err
        views = json.loads(out)
        assert len(views) == 1, out
        return dict(views[0])

    code, out, err = gitwave(capsys, kube_cluster, "sync", str(repo), "--wait", "--timeout", "120")
    assert code == 0, out + err + diagnostics()
    _wait("the first revision to be Healthy", lambda: rollout()["health"] == "Healthy")

    write_rollout(repo, controller.namespace, "nginx:1.28")
    code, out, err = gitwave(capsys, kube_cluster, "sync", str(repo))
    assert code == 0, out + err + diagnostics()
    paused = _wait(
        "the canary to pause",
        lambda: (lambda v: v if v["health"] == "Suspended" else None)(rollout()),
    )
    assert paused["healthMessage"] == "Rollout is paused"
    assert (paused["step"], paused["currentStep"], paused["weight"]) == ("1/2", "pause", 50)
    code, out, err = gitwave(capsys, kube_cluster, "status", str(repo), "-o", "json")
    assert json.loads(out)["health"] == "Suspended", out

    code, out, err = gitwave(capsys, kube_cluster, "rollout", "promote", "canary")
    assert code == 0, err
    assert out.startswith("rollout 'web' promoted\n"), out

    done = _wait(
        "the promoted canary to be Healthy",
        lambda: (lambda v: v if v["health"] == "Healthy" else None)(rollout()),
    )
    assert (done["step"], done["weight"], done["canary"]) == ("2/2", 100, None)
    kubectl = kubectl_for(kube_cluster)
    live = json.loads(
        kubectl.run("-n", controller.namespace, "get", "rollout", "web", "-o", "json")
    )
    assert live["status"]["stableRS"] == live["status"]["currentPodHash"]
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"

    # A third image, aborted: the real controller scales the canary down and
    # the Rollout is Degraded with its own words.
    write_rollout(repo, controller.namespace, "nginx:1.29")
    code, out, err = gitwave(capsys, kube_cluster, "sync", str(repo))
    assert code == 0, out + err + diagnostics()
    _wait(
        "the third revision to pause",
        lambda: (lambda v: v if v["health"] == "Suspended" else None)(rollout()),
    )
    code, out, err = gitwave(capsys, kube_cluster, "rollout", "abort", "canary", "web")
    assert code == 0, err
    assert out.startswith("rollout 'web' aborted\n"), out
    aborted = _wait(
        "the aborted Rollout to be Degraded",
        lambda: (lambda v: v if v["health"] == "Degraded" else None)(rollout()),
    )
    assert "aborted" in aborted["healthMessage"], aborted
    assert aborted["aborted"] is True and aborted["weight"] == 0
    code, out, err = gitwave(capsys, kube_cluster, "status", str(repo), "-o", "json")
    assert json.loads(out)["health"] == "Degraded", out
