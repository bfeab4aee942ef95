"""Destinations across the real control plane and two sandbox clusters (issue 11 item 1).

The command's current target is the default sandbox; the local control plane
is registered from its kubeconfig (``gitwave cluster add real --context``) and
also reached through an Argo CD cluster Secret kept in the repository, beside
two named sandbox clusters. Each app lands where its Application says; an app
naming an unknown cluster is stopped alone (nothing of it lands anywhere) while
the others sync.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import git
import pytest
import yaml

from gitwave.engine.model import ResourceKey
from gitwave.providers.kubernetes import KubernetesProvider
from tests.tui.cli_support import run

if TYPE_CHECKING:
    from .conftest import KubeCluster


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GITWAVE_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("GITWAVE_SANDBOX_ROLLOUT", "0.05")
    monkeypatch.setenv("GITWAVE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NO_COLOR", "1")
    return tmp_path


@pytest.fixture
def real(kube_cluster: KubeCluster) -> Iterator[KubernetesProvider]:
    provider = KubernetesProvider.from_kubeconfig(
        context=kube_cluster.context, kubeconfig=str(kube_cluster.kubeconfig)
    )
    yield provider
    provider.close()


def application(app: str, namespace: str, **destination: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": app},
        "spec": {
            "source": {"repoURL": ".", "path": "app"},
            "destination": {"namespace": namespace, **destination},
            "syncPolicy": {"syncOptions": ["CreateNamespace=true"]},
        },
    }


def repo(root: Path, *docs: dict[str, Any]) -> str:
    (root / "app").mkdir(parents=True, exist_ok=True)
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "hello"}}
    (root / "app" / "cm.yaml").write_text(yaml.safe_dump({**config_map, "data": {"k": "v"}}))
    (root / "apps.yaml").write_text(yaml.safe_dump_all(docs))
    repository = git.Repo.init(root)
    repository.index.add(["app/cm.yaml", "apps.yaml"])
    repository.index.commit("apps")
    return str(root)


def cluster_secret(kube_cluster: KubeCluster) -> dict[str, Any]:
    """The control plane's admin credentials as an Argo CD cluster Secret."""
    config = yaml.safe_load(Path(kube_cluster.kubeconfig).read_text())
    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    tls = {
        "caData": cluster["certificate-authority-data"],
        "certData": user["client-certificate-data"],
        "keyData": user["client-key-data"],
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "real-by-secret",
            "namespace": "argocd",
            "labels": {"argocd.argoproj.io/secret-type": "cluster"},
        },
        "stringData": {
            "name": "real-by-secret",
            "server": kube_cluster.server,
            "config": json.dumps({"tlsClientConfig": tls}),
        },
    }


def hello(provider: KubernetesProvider, namespace: str) -> bool:
    return provider.observe(ResourceKey("", "ConfigMap", namespace, "hello")) is not None


def sandbox_hellos(capsys: pytest.CaptureFixture[str], *cluster: str) -> list[str]:
    code, out, err = run(capsys, "sandbox", "get", "configmap", "-A", "-o", "json", *cluster)
    assert code == 0, err
    return sorted(
        item["metadata"]["namespace"]
        for item in json.loads(out)["items"]
        if item["metadata"]["name"] == "hello"
    )


def test_apps_go_to_the_real_cluster_a_sandbox_cluster_and_the_current_target(
    capsys: pytest.CaptureFixture[str],
    env: Path,
    kube_cluster: KubeCluster,
    real: KubernetesProvider,
) -> None:
    suffix = uuid.uuid4().hex[:6]
    ns_real, ns_secret = f"dest-real-{suffix}", f"dest-secret-{suffix}"
    kubeconfig = str(kube_cluster.kubeconfig)
    code, out, err = run(
        capsys, "--kubeconfig", kubeconfig, "cluster", "add", "real", "--context",
        kube_cluster.context, "--label", "kind=real",
    )  # fmt: skip
    assert code == 0, err
    assert f"cluster real added: {kube_cluster.server}" in out
    for name, server in (("east", "https://127.0.0.2:6443"), ("west", "https://127.0.0.3:6443")):
        assert run(capsys, "cluster", "add", name, "--sandbox", "--server", server)[0] == 0
    path = repo(
        env / "repo",
        application("to-real", ns_real, name="real"),
        application("to-east", "shop", server="https://127.0.0.2:6443"),
        application("to-current", "home"),
        cluster_secret(kube_cluster),
        application("to-secret", ns_secret, name="real-by-secret"),
    )
    try:
        code, out, err = run(capsys, "sync", path)

        assert code == 0, out + err
        assert hello(real, ns_real) and hello(real, ns_secret)
        assert sandbox_hellos(capsys, "--cluster", "east") == ["shop"]
        assert sandbox_hellos(capsys, "--cluster", "west") == []
        assert sandbox_hellos(capsys) == ["home"]
        code, out, _ = run(capsys, "status", path, "-o", "json")
        where = {d["app"]: d["destination"]["cluster"] for d in json.loads(out)}
        assert where == {
            "to-real": "real",
            "to-east": "east",
            "to-current": "in-cluster",
            "to-secret": "real-by-secret",
        }
        code, out, _ = run(capsys, "cluster", "list", path)
        secret_row = next(line for line in out.splitlines() if line.startswith("real-by-secret"))
        assert "argocd-secret" in secret_row
        key_data = cluster_secret(kube_cluster)["stringData"]["config"]
        assert json.loads(key_data)["tlsClientConfig"]["keyData"] not in out

        # A fourth app naming an unknown cluster: it alone stops; the others sync.
        (Path(path) / "app" / "cm.yaml").write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "hello"},
                    "data": {"k": "changed"},
                }
            )
        )
        docs = list(yaml.safe_load_all((Path(path) / "apps.yaml").read_text()))
        docs.append(application("lost", "lost", server="https://127.0.0.77:6443"))
        (Path(path) / "apps.yaml").write_text(yaml.safe_dump_all(docs))
        repository = git.Repo(path)
        repository.index.add(["app/cm.yaml", "apps.yaml"])
        repository.index.commit("change and add an app to an unknown cluster")

        code, out, err = run(capsys, "sync", path)

        assert code == 2
        assert "Application/lost (apps.yaml:" in err and "https://127.0.0.77:6443" in err
        live = real.observe(ResourceKey("", "ConfigMap", ns_real, "hello"))
        assert live is not None and live.manifest["data"] == {"k": "changed"}
        code, out, _ = run(capsys, "sandbox", "get", "configmap/hello", "-n", "home", "-o", "json")
        assert json.loads(out)["data"] == {"k": "changed"}
        assert not real.observe(ResourceKey("", "Namespace", "", "lost"))
        assert sandbox_hellos(capsys) == ["home"]
    finally:
        for namespace in (ns_real, ns_secret):
            real.delete(ResourceKey("", "Namespace", "", namespace))
