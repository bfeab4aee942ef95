"""Objects that name no namespace (issue 13, "Namespaces"): they go to the app's
destination namespace, else ``-n``, else the kubeconfig context's namespace on a
cluster, else ``default``, as kubectl and Argo CD do; cluster-scoped kinds stay
without one. Plan and sync agree. The real CLI on the sandbox."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.tui.test_cli import run, sandbox_env  # noqa: F401  (autouse fixture)

CONFIG_MAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}}
CLUSTER_ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRole",
    "metadata": {"name": "settings-reader"},
    "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
}


def plain_directory(tmp_path: Path, *docs: dict[str, object]) -> Path:
    app = tmp_path / "plain"
    app.mkdir()
    (app / "objects.yaml").write_text(yaml.safe_dump_all(docs))
    return app


def synced_keys(out: str) -> list[str]:
    return sorted(r["key"] for r in json.loads(out)[0]["resources"] if r["action"] == "created")


def test_a_plain_directory_goes_to_default_and_plan_and_sync_agree(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = plain_directory(tmp_path, CONFIG_MAP, CLUSTER_ROLE)

    code, out, err = run(capsys, "plan", str(app))
    assert code == 1, err
    assert "+ ConfigMap/default/settings (create)" in out
    assert "+ ClusterRole/settings-reader (create)" in out

    code, out, err = run(capsys, "sync", str(app), "-o", "json")
    assert code == 0, err
    assert json.loads(out)[0]["phase"] == "Succeeded"
    # Namespaced kinds get the namespace, cluster-scoped ones stay without.
    assert synced_keys(out) == [
        "/ConfigMap/default/settings",
        "rbac.authorization.k8s.io/ClusterRole//settings-reader",
    ]
    code, out, _ = run(capsys, "sandbox", "get", "configmap/settings", "-n", "default")
    assert code == 0 and "settings" in out
    code, out, _ = run(capsys, "plan", str(app))
    assert code == 0, out
    assert "0 to create, 0 to update, 0 to prune" in out
    code, out, _ = run(capsys, "status", str(app))
    assert "in-cluster/default" in out and "Synced" in out


def test_dash_n_names_the_namespace_of_a_directory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = plain_directory(tmp_path, CONFIG_MAP)

    # A namespace that does not exist: refused by plan and sync alike, nothing applied.
    for verb in ("plan", "sync"):
        code, out, err = run(capsys, verb, str(app), "-n", "team")
        assert code == 2, (verb, out, err)
        assert "ConfigMap/team/settings" in err
        assert "namespace 'team' does not exist" in err
    code, out, _ = run(capsys, "sandbox", "get", "configmap", "-A")
    assert "settings" not in out

    # --create-namespace, as helm: plan says the namespace comes first, sync makes it.
    code, out, err = run(capsys, "plan", str(app), "-n", "team", "--create-namespace")
    assert code == 1, err
    assert "Namespaces created first (CreateNamespace): team" in out
    assert "+ ConfigMap/team/settings (create)" in out
    code, out, err = run(capsys, "plan", str(app), "-n", "team", "--create-namespace", "-o", "json")
    assert json.loads(out)[0]["createNamespaces"] == ["team"]

    code, out, err = run(capsys, "sync", str(app), "-n", "team", "--create-namespace", "-o", "json")
    assert code == 0, err
    assert synced_keys(out) == ["/ConfigMap/team/settings", "/Namespace//team"]
    code, out, _ = run(capsys, "plan", str(app), "--namespace", "team")
    assert code == 0, out
    assert "0 to create" in out


def test_an_object_naming_its_namespace_keeps_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    named = {**CONFIG_MAP, "metadata": {"name": "pinned", "namespace": "kube-system"}}
    app = plain_directory(tmp_path, CONFIG_MAP, named)

    code, out, err = run(capsys, "render", str(app), "-n", "kube-public", "-o", "json")
    assert code == 0, err
    placed = {i["metadata"]["name"]: i["metadata"]["namespace"] for i in json.loads(out)["items"]}
    assert placed == {"settings": "kube-public", "pinned": "kube-system"}


def application(namespace: str | None) -> dict[str, object]:
    destination = {"server": "https://kubernetes.default.svc"}
    if namespace is not None:
        destination["namespace"] = namespace
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "shop", "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": ".", "path": "manifests"},
            "destination": destination,
        },
    }


def argo_repo(tmp_path: Path, namespace: str | None) -> Path:
    repo = tmp_path / "repo"
    (repo / "manifests").mkdir(parents=True)
    (repo / "manifests" / "cm.yaml").write_text(yaml.safe_dump(CONFIG_MAP))
    (repo / "app.yaml").write_text(yaml.safe_dump(application(namespace)))
    return repo / "app.yaml"


def test_an_application_without_destination_namespace_goes_to_default(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = argo_repo(tmp_path, None)
    code, out, err = run(capsys, "sync", str(app), "-o", "json")
    assert code == 0, err
    assert synced_keys(out) == ["/ConfigMap/default/settings"]


def test_dash_n_contradicting_an_apps_destination_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = argo_repo(tmp_path, "default")

    code, out, err = run(capsys, "sync", str(app), "-n", "other")
    assert code == 2
    assert "Application/shop (app.yaml:1): its destination namespace is 'default'" in err
    assert "-n other contradicts it" in err
    code, out, _ = run(capsys, "sandbox", "get", "configmap", "-A")
    assert "settings" not in out
    # The same namespace is no contradiction.
    code, out, err = run(capsys, "plan", str(app), "-n", "default")
    assert code == 1, err
    assert "+ ConfigMap/default/settings (create)" in out


def test_dash_n_must_be_a_namespace_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = plain_directory(tmp_path, CONFIG_MAP)
    code, _, err = run(capsys, "plan", str(app), "-n", "Team_A")
    assert code == 2
    assert "error: -n Team_A: is not a namespace name" in err


KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:9"}
users:
- name: u
  user: {token: not-a-secret}
contexts:
- name: dev
  context: {cluster: c, user: u, namespace: team-a}
- name: bare
  context: {cluster: c, user: u}
current-context: dev
"""


@dataclass(frozen=True)
class ContextCase:
    reason: str
    flags: tuple[str, ...]
    want: str


CONTEXT_CASES = [
    ContextCase("the current context's namespace", ("--target", "kube"), "team-a"),
    ContextCase("a named context's namespace", ("--context", "dev"), "team-a"),
    ContextCase("a context naming none: default", ("--target", "kube:bare"), "default"),
    ContextCase("-n wins over the context", ("--context", "dev", "-n", "team-b"), "team-b"),
    ContextCase("the sandbox: default", (), "default"),
]


@pytest.mark.parametrize("case", CONTEXT_CASES, ids=lambda c: c.reason)
def test_on_a_cluster_the_contexts_namespace_is_the_default(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: ContextCase
) -> None:
    """Rendering reads the kubeconfig only: nothing is contacted (the server is closed)."""
    app = plain_directory(tmp_path, CONFIG_MAP)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    flags = ("--kubeconfig", str(kubeconfig), *case.flags)
    code, out, err = run(capsys, "render", str(app), *flags, "-o", "json")
    assert code == 0, err
    [item] = json.loads(out)["items"]
    assert item["metadata"]["namespace"] == case.want
