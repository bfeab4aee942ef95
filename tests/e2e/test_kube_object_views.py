"""The Kubernetes provider's reads behind the TUI's describe and logs views,
against the local control plane: core/v1 Events about one object (not its
neighbours'), and a clear error for the log of a Pod that is not there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import ResourceKey
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.providers.kubernetes import KubernetesProvider
from gitwave.tui.object_views import describe_text, inspect_object
from tests.e2e.conftest import KubeCluster
from tests.e2e.test_kube_contract import kubectl_for, provider_for, unique


@pytest.fixture
def kube(kube_cluster: KubeCluster) -> Iterator[KubernetesProvider]:
    with provider_for(kube_cluster) as provider:
        yield provider


def event(namespace: str, name: str, about: str, reason: str, message: str) -> str:
    return f"""
apiVersion: v1
kind: Event
metadata: {{name: {name}, namespace: {namespace}}}
involvedObject: {{apiVersion: v1, kind: ConfigMap, name: {about}, namespace: {namespace}}}
type: Warning
reason: {reason}
message: {message}
count: 3
firstTimestamp: "2026-12-03T10:00:00Z"
lastTimestamp: "2026-12-03T10:05:00Z"
source: {{component: test-controller}}
"""


def test_events_of_one_object_and_a_missing_pods_log(
    kube: KubernetesProvider, kube_cluster: KubeCluster, tmp_path: Path
) -> None:
    kubectl = kubectl_for(kube_cluster)
    ns = unique("gw-views")
    kubectl.run("create", "namespace", ns)
    try:
        kubectl.run("create", "configmap", "settings", "-n", ns, "--from-literal=a=b")
        docs = "---".join(
            [
                event(ns, "e1", "settings", "Invalid", "key a is deprecated"),
                event(ns, "e2", "other", "Elsewhere", "about another object"),
            ]
        )
        kubectl.run("apply", "-f", "-", stdin=docs)
        key = ResourceKey("", "ConfigMap", ns, "settings")
        events = kube.object_events(key)
        assert [(e.type, e.reason, e.message, e.count, e.source) for e in events] == [
            ("Warning", "Invalid", "key a is deprecated", 3, "test-controller")
        ]

        store = Store(tmp_path / "gitwave.db")
        try:
            info = inspect_object(
                None, key, targets=ProviderRouter([kube]), store=store, app_name="x"
            )
        finally:
            store.close()
        text = describe_text(info, now=1_796_292_000.0)
        assert f"Events ({kube.name}):" in text
        assert "Warning  Invalid" in text and "x3" in text and "key a is deprecated" in text

        with pytest.raises(ProviderError) as caught:
            kube.pod_logs(ns, "no-such-pod", tail=10)
        assert f"Pod/{ns}/no-such-pod: cannot read its log" in str(caught.value)
    finally:
        kubectl.run("delete", "namespace", ns, "--wait=false", check=False)
