"""Flux's tenant boundary on the real control plane (issue 11 item 2): a
Kustomization's ``serviceAccountName`` makes gitwave write as that
ServiceAccount (``Impersonate-User``), so the cluster's RBAC decides what it
may change, as kustomize-controller's impersonation does. Driven through the
``gitwave`` CLI against the local API server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from tests.e2e.test_kube_contract import Kubectl, kubectl_for, unique
from tests.tui.cli_support import git_repo, run

if TYPE_CHECKING:
    from .conftest import KubeCluster


class Tenant:
    """Two namespaces, and a ServiceAccount (in the Kustomizations' namespace)
    whose Role lets it manage ConfigMaps in the first one only."""

    def __init__(self, kubectl: Kubectl) -> None:
        self.kubectl = kubectl
        self.home = unique("flux-home")  # where the Kustomizations and the SA live
        self.team_a = unique("team-a")
        self.team_b = unique("team-b")
        self.account = "deployer"

    def create(self) -> None:
        docs = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}
            for n in (self.home, self.team_a, self.team_b)
        ]
        docs += [
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": self.account, "namespace": self.home},
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "configmaps", "namespace": self.team_a},
                "rules": [
                    {
                        "apiGroups": [""],
                        "resources": ["configmaps"],
                        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
                    }
                ],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "deployer", "namespace": self.team_a},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "configmaps",
                },
                "subjects": [
                    {"kind": "ServiceAccount", "name": self.account, "namespace": self.home}
                ],
            },
        ]
        self.kubectl.run("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))

    def delete(self) -> None:
        for namespace in (self.home, self.team_a, self.team_b):
            self.kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)

    def repo(self, root: Path, *, target: str) -> Path:
        """A repository with one Kustomization (as ``deployer``) putting a
        ConfigMap into ``target``."""
        source = {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": "repo", "namespace": self.home},
            "spec": {"url": ".", "interval": "1m", "ref": {"branch": "main"}},
        }
        kustomization = {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": "tenant", "namespace": self.home},
            "spec": {
                "interval": "1m",
                "path": "./tenant",
                "prune": True,
                "targetNamespace": target,
                "serviceAccountName": self.account,
                "sourceRef": {"kind": "GitRepository", "name": "repo"},
            },
        }
        config_map = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings"},
            "data": {"mode": "fast"},
        }
        return git_repo(
            root,
            {
                "flux.yaml": yaml.safe_dump_all([source, kustomization]),
                "tenant/settings.yaml": yaml.safe_dump(config_map),
            },
        )

    def config_maps(self, namespace: str) -> set[str]:
        listed = json.loads(self.kubectl.run("get", "configmaps", "-n", namespace, "-o", "json"))
        return {i["metadata"]["name"] for i in listed["items"]} - {"kube-root-ca.crt"}


@pytest.fixture
def tenant(kube_cluster: KubeCluster) -> Iterator[Tenant]:
    made = Tenant(kubectl_for(kube_cluster))
    made.create()
    try:
        yield made
    finally:
        made.delete()


@pytest.fixture(autouse=True)
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kube_cluster: KubeCluster) -> None:
    monkeypatch.setenv("GITWAVE_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("KUBECONFIG", str(kube_cluster.kubeconfig))


def test_a_service_account_outside_its_namespace_is_refused_by_the_api_server(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tenant: Tenant, kube_cluster: KubeCluster
) -> None:
    repo = tenant.repo(tmp_path / "b", target=tenant.team_b)

    code, out, err = run(capsys, "sync", str(repo), "--context", kube_cluster.context)

    assert code != 0, out + err
    assert "Traceback" not in out + err
    user = f"system:serviceaccount:{tenant.home}:deployer"
    assert f'User "{user}" cannot' in out + err, out + err
    assert f"ConfigMap/{tenant.team_b}/settings" in out + err
    assert tenant.config_maps(tenant.team_b) == set()


def test_the_same_service_account_in_its_namespace_syncs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tenant: Tenant, kube_cluster: KubeCluster
) -> None:
    repo = tenant.repo(tmp_path / "a", target=tenant.team_a)

    code, out, err = run(capsys, "sync", str(repo), "--context", kube_cluster.context)

    assert code == 0, out + err
    assert tenant.config_maps(tenant.team_a) == {"settings"}
    assert tenant.config_maps(tenant.team_b) == set()
