"""Sealed Secrets on a real cluster (issue 14 item 5): the real sealed-secrets
controller v0.40.0 (built from the Go module proxy, ``tests/sealedsecrets``)
runs out of cluster against the local control plane; ``kubeseal --cert``
seals a Secret with its certificate; gitwave syncs the SealedSecret like any
custom resource and its health follows the controller's ``Synced`` condition.

The controller only knows in-cluster configuration (a service-account token
and CA under /var/run/secrets/kubernetes.io/serviceaccount), so it runs in a
private mount namespace (``unshare --mount``) where a tmpfs on /run holds a
token made for its own ServiceAccount. It watches only its own namespace and
the test's (``--all-namespaces=false``): other tests share the cluster.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import pytest
import yaml

from gitwave.tui.cli import main
from tests.e2e.test_kube_contract import Kubectl, kubectl_for, unique

if TYPE_CHECKING:
    from .conftest import KubeCluster

PASSWORD = "e2e-sealed-pw-Kd92-distinct"
KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key=active"
# Inside the controller's mount namespace only: /run is a fresh tmpfs there.
RUN_IN_POD_LAYOUT = """#!/bin/sh
src=$1; shift
mount -t tmpfs -o mode=0755 tmpfs /run || exit 90
mkdir -p /run/secrets/kubernetes.io/serviceaccount
cp "$src/token" "$src/ca.crt" "$src/namespace" /run/secrets/kubernetes.io/serviceaccount/
exec "$@"
"""


@dataclass(frozen=True)
class Controller:
    namespace: str  # where it keeps its key
    watched: str  # the app's namespace
    cert: Path
    log: Path


def _wait(what: str, probe: object, timeout: float = 90.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()  # type: ignore[operator]
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def controller(
    kube_cluster: KubeCluster,
    sealed_secrets_peers: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Controller]:
    assert shutil.which("unshare"), "util-linux's unshare is needed to run the controller"
    kubectl = kubectl_for(kube_cluster)
    work = tmp_path_factory.mktemp("sealed-secrets-controller")
    ns, watched = unique("ss-ctl"), unique("ss-app")
    binding = f"{ns}-controller"
    kubectl.run(
        "apply", "--server-side", "-f", str(sealed_secrets_peers / "sealedsecrets.bitnami.com.yaml")
    )
    kubectl.run(
        "wait", "--for=condition=Established", "crd/sealedsecrets.bitnami.com", "--timeout=60s"
    )
    kubectl.run("create", "namespace", ns)
    kubectl.run("create", "namespace", watched)
    kubectl.run("-n", ns, "create", "serviceaccount", "controller")
    kubectl.run(
        "create",
        "clusterrolebinding",
        binding,
        "--clusterrole=cluster-admin",
        f"--serviceaccount={ns}:controller",
    )
    (work / "token").write_text(
        kubectl.run("-n", ns, "create", "token", "controller", "--duration=2h")
    )
    config = yaml.safe_load(kube_cluster.kubeconfig.read_text())
    cluster = next(c["cluster"] for c in config["clusters"])
    (work / "ca.crt").write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    (work / "namespace").write_text(ns)
    script = work / "run.sh"
    script.write_text(RUN_IN_POD_LAYOUT)
    script.chmod(0o755)
    server = urlparse(kube_cluster.server)
    log = work / "controller.log"
    env = {
        **os.environ,
        "KUBERNETES_SERVICE_HOST": server.hostname or "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(server.port),
        "POD_NAMESPACE": ns,
    }
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                str(script),
                str(work),
                str(sealed_secrets_peers / "controller"),
                "--listen-addr",
                "127.0.0.1:0",
                "--listen-metrics-addr",
                "127.0.0.1:0",
                "--all-namespaces=false",
                f"--additional-namespaces={watched}",
                "--key-size",
                "2048",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:

        def key_cert() -> str:
            if proc.poll() is not None:
                raise AssertionError(f"the controller exited:\n{log.read_text()[-3000:]}")
            found = json.loads(
                kubectl.run("-n", ns, "get", "secret", "-l", KEY_LABEL, "-o", "json")
            )
            items = found.get("items") or []
            return base64.b64decode(items[0]["data"]["tls.crt"]).decode() if items else ""

        cert = work / "cert.pem"
        cert.write_text(str(_wait("the controller's key", key_cert)))
        yield Controller(ns, watched, cert, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        kubectl.run("delete", "clusterrolebinding", binding, "--ignore-not-found", check=False)
        for name in (watched, ns):
            kubectl.run(
                "delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False
            )


def kubeseal(peers: Path, controller: Controller, name: str, tmp_path: Path) -> str:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": controller.watched},
        "stringData": {"password": PASSWORD},
    }
    proc = subprocess.run(
        [str(peers / "kubeseal"), "--cert", str(controller.cert), "-o", "yaml"],
        input=yaml.safe_dump(secret),
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECONFIG": str(tmp_path / "none")},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def gitwave(
    capsys: pytest.CaptureFixture[str], cluster: KubeCluster, *argv: str
) -> tuple[int, str, str]:
    code = main(
        [*argv, "--kubeconfig", str(cluster.kubeconfig), "--context", cluster.context, "--no-color"]
    )
    out, err = capsys.readouterr()
    return code, out, err


def test_kubeseal_sealed_secret_is_unsealed_by_the_real_controller_and_the_app_is_healthy(
    kube_cluster: KubeCluster,
    sealed_secrets_peers: Path,
    controller: Controller,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITWAVE_STATE", str(tmp_path / "state"))
    repo = tmp_path / "sealed-ok"
    repo.mkdir()
    (repo / "sealed.yaml").write_text(kubeseal(sealed_secrets_peers, controller, "db", tmp_path))

    code, out, err = gitwave(
        capsys, kube_cluster, "sync", str(repo), "--wait", "--timeout", "90", "-o", "json"
    )

    assert code == 0, err + controller.log.read_text()[-2000:]

    def healthy() -> bool:
        _, status, _ = gitwave(capsys, kube_cluster, "status", str(repo), "-o", "json")
        return bool(json.loads(status)[0]["health"] == "Healthy")

    _wait("the app to be Healthy", healthy, timeout=60)
    kubectl: Kubectl = kubectl_for(kube_cluster)
    secret = json.loads(kubectl.run("-n", controller.watched, "get", "secret", "db", "-o", "json"))
    assert base64.b64decode(secret["data"]["password"]).decode() == PASSWORD
    assert secret["metadata"]["ownerReferences"][0]["kind"] == "SealedSecret"
    assert PASSWORD not in out + err


def test_a_sealed_secret_the_controller_cannot_open_is_degraded_with_its_message(
    kube_cluster: KubeCluster,
    sealed_secrets_peers: Path,
    controller: Controller,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITWAVE_STATE", str(tmp_path / "state"))
    sealed = yaml.safe_load(kubeseal(sealed_secrets_peers, controller, "api", tmp_path))
    sealed["metadata"]["name"] = "moved"  # strict scope: sealed for "api" only
    repo = tmp_path / "sealed-moved"
    repo.mkdir()
    (repo / "sealed.yaml").write_text(yaml.safe_dump(sealed))

    code, out, err = gitwave(
        capsys, kube_cluster, "sync", str(repo), "--wait", "--timeout", "60", "-o", "json"
    )

    assert code != 0
    # The sync reports the controller's own words for the object it waited on.
    assert "no key could decrypt secret" in out + err, out + err
    code, out, err = gitwave(capsys, kube_cluster, "status", str(repo), "-o", "json")
    (status,) = json.loads(out)
    assert status["health"] == "Degraded"
    assert status["resources"] == [
        {
            "key": f"bitnami.com/SealedSecret/{controller.watched}/moved",
            "health": "Degraded",
        }
    ]
