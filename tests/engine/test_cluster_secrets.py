"""Argo CD cluster Secrets and Flux kubeConfig Secrets, read as-is (issue 11 item 1)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from gitwave.engine.apps import AppKind, AppSource, AppSpec, KubeConfigRef
from gitwave.engine.cluster_secrets import (
    is_cluster_secret,
    parse_cluster_secret,
    parse_kubeconfig_secret,
)
from gitwave.engine.clusters import ClusterKind
from gitwave.engine.errors import ValidationError
from gitwave.engine.fleet import DestinationError, Fleet, FleetSources
from gitwave.engine.router import ProviderRouter
from gitwave.providers.sandbox import SandboxProvider

TOKEN = "tok-3f9a1c-very-secret"
KEY = base64.b64encode(b"-----BEGIN PRIVATE KEY-----\nkey-material\n").decode()


def cluster_secret(
    config: dict[str, Any] | None = None, *, encoded: bool = False, **fields: str
) -> dict[str, Any]:
    values = {"name": "east", "server": "https://127.0.0.2:6443", **fields}
    values["config"] = json.dumps(config if config is not None else {"bearerToken": TOKEN})
    body: dict[str, Any] = {"stringData": values}
    if encoded:
        body = {"data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "east-cluster",
            "namespace": "argocd",
            "labels": {"argocd.argoproj.io/secret-type": "cluster", "env": "prod"},
            "annotations": {"team": "shop"},
        },
        "type": "Opaque",
        **body,
    }


def user_of(credentials: Any) -> dict[str, Any]:
    user: dict[str, Any] = credentials.kubeconfig["users"][0]["user"]
    return user


@pytest.mark.parametrize("encoded", [False, True], ids=["stringData", "data"])
def test_every_field_of_a_cluster_secret_is_read(encoded: bool) -> None:
    config = {
        "bearerToken": TOKEN,
        "tlsClientConfig": {
            "caData": "Q0E=",
            "certData": "Q0VSVA==",
            "keyData": KEY,
            "insecure": False,
            "serverName": "east.internal",
        },
    }
    manifest = cluster_secret(
        config,
        encoded=encoded,
        namespaces="shop, web",
        clusterResources="true",
        project="team-a",
    )

    cluster, credentials = parse_cluster_secret(manifest, where="clusters.yaml:1")

    assert is_cluster_secret(manifest)
    assert (cluster.name, cluster.server, cluster.kind) == (
        "east",
        "https://127.0.0.2:6443",
        ClusterKind.ARGOCD_SECRET,
    )
    assert cluster.namespaces == ("shop", "web")
    assert cluster.cluster_resources is True
    assert cluster.project == "team-a"
    assert cluster.label_map == {"argocd.argoproj.io/secret-type": "cluster", "env": "prod"}
    assert cluster.annotation_map == {"team": "shop"}
    assert cluster.origin == "Secret/argocd/east-cluster (clusters.yaml:1)"
    entry = credentials.kubeconfig["clusters"][0]["cluster"]
    assert entry == {
        "server": "https://127.0.0.2:6443",
        "certificate-authority-data": "Q0E=",
        "tls-server-name": "east.internal",
    }
    assert user_of(credentials) == {
        "client-certificate-data": "Q0VSVA==",
        "client-key-data": KEY,
        "token": TOKEN,
    }
    assert credentials.exec_command == ""


def test_basic_auth_insecure_and_namespace_scoped_without_cluster_resources() -> None:
    manifest = cluster_secret(
        {"username": "admin", "password": "pw-123", "tlsClientConfig": {"insecure": True}},
        namespaces="shop",
    )

    cluster, credentials = parse_cluster_secret(manifest)

    assert cluster.cluster_resources is False  # Argo CD: namespaces without clusterResources
    assert credentials.kubeconfig["clusters"][0]["cluster"]["insecure-skip-tls-verify"] is True
    assert user_of(credentials) == {"username": "admin", "password": "pw-123"}


def test_credentials_appear_in_no_repr_or_cluster_value() -> None:
    cluster, credentials = parse_cluster_secret(cluster_secret())

    assert TOKEN not in repr(cluster) and TOKEN not in repr(credentials)
    assert TOKEN not in str(cluster)


@dataclass(frozen=True)
class Bad:
    reason: str
    manifest: dict[str, Any]
    message: str


BAD = [
    Bad("no server", {**cluster_secret(), "stringData": {"name": "x"}}, "needs a server field"),
    Bad(
        "config not JSON",
        {**cluster_secret(), "stringData": {"server": "https://127.0.0.2", "config": "{"}},
        "config is not JSON",
    ),
    Bad(
        "data not base64",
        {**cluster_secret(), "stringData": None, "data": {"server": "%%%"}},
        "data.server is not base64",
    ),
    Bad(
        "not a URL",
        {**cluster_secret(), "stringData": {"server": "127.0.0.2:6443"}},
        "is not an http(s) URL",
    ),
]


@pytest.mark.parametrize("case", BAD, ids=lambda c: c.reason)
def test_a_malformed_cluster_secret_is_named(case: Bad) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_cluster_secret(case.manifest, where="clusters.yaml:4")

    assert "Secret/argocd/east-cluster (clusters.yaml:4)" in str(caught.value)
    assert case.message in str(caught.value)


def test_an_exec_provider_config_becomes_an_exec_user_and_is_refused_by_default() -> None:
    config = {"execProviderConfig": {"command": "argocd-k8s-auth", "args": ["aws"]}}
    _cluster, credentials = parse_cluster_secret(cluster_secret(config))
    assert credentials.exec_command == "argocd-k8s-auth"
    assert user_of(credentials)["exec"]["command"] == "argocd-k8s-auth"

    app = AppSpec(
        name="shop",
        kind=AppKind.ARGO,
        source=AppSource(repo_url=".", revision="HEAD", path="."),
        destination_server="https://127.0.0.2:6443",
    )
    secrets = [(cluster_secret(config), "clusters.yaml:1")]
    connected: list[str] = []

    def connect(reach: Any) -> ProviderRouter:
        connected.append(reach.cluster.name)
        raise AssertionError("must not connect")

    fleet = Fleet(
        current=lambda: ProviderRouter([]),  # never asked
        connect=connect,
        sources=FleetSources(repo_secrets=lambda: secrets),
    )
    with pytest.raises(DestinationError) as caught:
        fleet.check([app])
    assert "exec plugin ('argocd-k8s-auth')" in str(caught.value)
    assert "--allow-exec-plugins" in caught.value.hint
    assert connected == []

    allowed = Fleet(
        current=lambda: ProviderRouter([]),
        connect=connect,
        sources=FleetSources(repo_secrets=lambda: secrets),
        allow_exec_plugins=True,
    )
    assert allowed.destination_of(app).cluster.name == "east"


def kubeconfig_secret(server: str, key: str = "value") -> dict[str, Any]:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": TOKEN}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "east-kubeconfig", "namespace": "flux-system"},
        "stringData": {key: yaml.safe_dump(config)},
    }


@pytest.mark.parametrize("key", ["value", "value.yaml"])
def test_a_flux_kubeconfig_secret_is_read_under_value_or_value_yaml(key: str) -> None:
    server, credentials = parse_kubeconfig_secret(kubeconfig_secret("https://127.0.0.4:6443", key))

    assert server == "https://127.0.0.4:6443"
    assert TOKEN not in repr(credentials)


def test_a_flux_kubeconfig_secret_without_value_is_named() -> None:
    with pytest.raises(ValidationError, match=r"holds no kubeconfig under value or value\.yaml"):
        parse_kubeconfig_secret(kubeconfig_secret("https://127.0.0.4:6443", "other"))


def test_a_flux_app_goes_where_its_kubeconfig_secret_points(tmp_path: Any) -> None:
    """A kubeConfig naming a sandbox cluster's server goes to that sandbox."""
    from gitwave.engine.cluster_registry import RegisteredCluster
    from gitwave.engine.clusters import Cluster

    east = RegisteredCluster(Cluster("east", "https://127.0.0.4:6443", ClusterKind.SANDBOX))
    app = AppSpec(
        name="shop",
        kind=AppKind.FLUX,
        source=AppSource(repo_url=".", revision="HEAD", path="."),
        kube_config=KubeConfigRef(namespace="flux-system", name="east-kubeconfig"),
    )
    current = ProviderRouter([SandboxProvider(tmp_path / "current")])
    fleet = Fleet(
        current=lambda: current,
        sources=FleetSources(
            registry=lambda: [east],
            repo_secrets=lambda: [(kubeconfig_secret("https://127.0.0.4:6443"), "k.yaml:1")],
            sandbox_dir=lambda name: tmp_path / name,
        ),
    )

    assert fleet.destination_of(app).cluster.name == "east"
    missing = Fleet(current=lambda: current)
    with pytest.raises(DestinationError, match="Secret/flux-system/east-kubeconfig is found"):
        missing.check([app])
